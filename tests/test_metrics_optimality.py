"""Sec. 4.1: compatibility (Def. 13), Theorem 16 and the exact worst-case error (S-lemma dual)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from contexture.metrics import (
    approximation_error,
    compatibility,
    converse_task,
    thm16_eps_range,
    thm16_extremal_task,
    worst_case_error,
    worst_case_error_exact,
)

S = np.array([0.97, 0.95, 0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.0])
K = S.size


def _finite_context(nx: int, na: int, seed: int):
    """Random joint table; returns (J, px, pa, s_nontrivial, mu) with mu orthonormal in L2(P_X)."""
    rng = np.random.default_rng(seed)
    J = rng.uniform(size=(nx, na)) ** 3
    J /= J.sum()
    px, pa = J.sum(1), J.sum(0)
    U, sv, _ = np.linalg.svd(J / np.sqrt(np.outer(px, pa)))  # complete basis of L2(P_X)
    s = np.concatenate([sv[1:], np.zeros(nx - sv.size)])
    return J, px, pa, s, U / np.sqrt(px)[:, None]


def test_compatibility_matches_definition_13_on_a_finite_context() -> None:
    # rho(f) = max_g <f~, T g> / (|f~| |g|) = |T* f~|_{P_A} / |f~|_{P_X}; tolerance 1e-10.
    J, px, pa, s, mu = _finite_context(7, 5, 0)
    f = np.random.default_rng(1).standard_normal(7)
    ft = f - px @ f
    tstar = (J.T @ ft) / pa  # E[f(X) | a]
    rho_direct = np.sqrt(pa @ tstar**2 / (px @ ft**2))
    u = mu.T @ (px * f)  # coordinates u_0..u_{nx-1}
    s_full = np.concatenate([[1.0], s])
    assert compatibility(u, s_full, has_constant=True) == pytest.approx(rho_direct, abs=1e-10)
    assert compatibility(u[1:], s_full[1:]) == pytest.approx(rho_direct, abs=1e-10)


def test_compatibility_basics_and_errors() -> None:
    assert compatibility(np.eye(K)[2], S) == pytest.approx(S[2], abs=1e-15)
    assert compatibility(3 * np.eye(K)[0] + 0 * S, S) == pytest.approx(S[0], abs=1e-15)
    with pytest.raises(ValueError, match="nonzero nontrivial part"):
        compatibility(np.zeros(K), S)
    with pytest.raises(ValueError, match="same length"):
        compatibility(np.ones(3), S)
    with pytest.raises(ValueError, match=r"s must hold singular values in \[0, 1\], got 1.5"):
        compatibility(np.ones(2), [1.5, 0.2])
    with pytest.raises(ValueError, match="s\\[0\\] must be the trivial singular value 1"):
        compatibility(np.ones(3), [0.9, 0.5, 0.1], has_constant=True)


def test_theorem_16_formula_and_range() -> None:
    lo, hi = thm16_eps_range(S)
    assert lo == pytest.approx(1 - 0.97) and hi == pytest.approx(1 - np.sqrt((.97**2 + .95**2) / 2))
    eps = 0.5 * (lo + hi)
    # s[0] is s_1 and s[d] is s_{d+1}.
    expected = (0.97**2 - (1 - eps) ** 2) / (0.97**2 - 0.7**2)
    assert worst_case_error(S, 3, eps) == pytest.approx(expected, rel=1e-14)
    with pytest.raises(ValueError, match="eps must be >= 1 - s_1"):
        worst_case_error(S, 3, lo - 1e-3)
    with pytest.raises(ValueError, match="Theorem 16's range"):
        worst_case_error(S, 3, hi + 1e-3)
    assert worst_case_error(S, 3, hi + 1e-3, check_range=False) > 0
    with pytest.raises(ValueError, match=r"d must be an integer in \[1, 9\], got 10"):
        worst_case_error(S, 10, eps)
    with pytest.raises(ValueError, match="s_1 > s_\\(d\\+1\\)"):
        worst_case_error([0.9, 0.9, 0.9], 2, 0.1)
    with pytest.raises(ValueError, match="non-increasing"):
        worst_case_error([0.5, 0.9, 0.1], 1, 0.3)


@pytest.mark.parametrize("d", [1, 3, 6])
def test_exact_calculator_equals_theorem_16_for_the_contexture(d: int) -> None:
    # >= 6 digits required; we check 1e-9 absolute over the whole admissible eps range.
    lo, hi = thm16_eps_range(S)
    rng = np.random.default_rng(d)
    M = rng.standard_normal((d, d))  # any basis of the top-d span (Definition 5)
    for eps in np.linspace(lo, hi, 4):
        formula = worst_case_error(S, d, eps)
        res = worst_case_error_exact(np.eye(K)[:, :d] @ M, S, eps)
        assert res.error == pytest.approx(formula, abs=1e-9)
        assert abs(res.gap) < 1e-9
        assert res.task_compatibility >= 1 - eps - 1e-12
        assert res.rank == d


def test_formula_is_exact_for_the_contexture_beyond_the_upper_eps_limit() -> None:
    # Derived here: for the top-d encoder lambda_max(M(t)) = max(t(s_1^2 - c),
    # 1 + t(s_{d+1}^2 - c)), so the formula is its exact error whenever s_{d+1} <= 1 - eps.
    # The upper limit of Theorem 16 matters only for "iff". Tolerance 1e-9.
    d = 3
    hi = thm16_eps_range(S)[1]
    for eps in (hi + 0.01, 0.2, 1 - S[d]):
        assert worst_case_error_exact(np.eye(K)[:, :d], S, eps).error == pytest.approx(
            worst_case_error(S, d, eps, check_range=False), abs=1e-9)


def test_extremal_task_of_theorem_16() -> None:
    # u_1^2 = 1 - A*, u_{d+1}^2 = A*: compatibility 1 - eps and error A* (tolerance 1e-12).
    lo, hi = thm16_eps_range(S)
    for d in (1, 4):
        eps = lo + 0.7 * (hi - lo)
        a_star = worst_case_error(S, d, eps)
        u = thm16_extremal_task(S, d, eps)
        assert np.linalg.norm(u) == pytest.approx(1.0, abs=1e-12)
        assert u[0] ** 2 == pytest.approx(1 - a_star, abs=1e-12)
        assert u[d] ** 2 == pytest.approx(a_star, abs=1e-12)
        assert compatibility(u, S) == pytest.approx(1 - eps, abs=1e-12)
        assert approximation_error(np.eye(K)[:, :d], u) == pytest.approx(a_star, abs=1e-12)


def test_random_encoders_are_worse_and_converse_holds() -> None:
    # Tolerances: 1e-9 on the bounds, 1e-9 on the constructed task's compatibility.
    lo, hi = thm16_eps_range(S)
    eps, d = 0.5 * (lo + hi), 3
    best = worst_case_error(S, d, eps)
    rng = np.random.default_rng(7)
    for _ in range(4):
        coords = rng.standard_normal((K, d))
        res = worst_case_error_exact(coords, S, eps)
        assert res.error > best + 1e-3
        assert abs(res.gap) < 1e-9
        conv = converse_task(coords, S, eps)
        assert conv.task_compatibility == pytest.approx(1 - eps, abs=1e-9)
        assert conv.task_error >= best - 1e-9
        assert conv.task_error <= res.error + 1e-9
    # The converse also holds for the contexture itself, with equality.
    conv = converse_task(np.eye(K)[:, :d], S, eps)
    assert conv.task_error == pytest.approx(best, abs=1e-9)


def test_exact_calculator_against_brute_force_in_two_dimensions() -> None:
    # K = 2: scan the unit circle (2e5 points) plus the exact constraint-boundary points, where
    # rho = 1 - eps; the boundary is exact and interior maxima are found to ~1e-10.
    s = np.array([0.9, 0.4])
    coords = np.array([[np.cos(0.6)], [np.sin(0.6)]])
    q = np.array([-np.sin(0.6), np.cos(0.6)])
    grid = np.linspace(0, np.pi, 200_001)
    for eps in (0.15, 0.3, 0.5):
        c = (1 - eps) ** 2
        th0 = np.arccos(np.sqrt((c - s[1] ** 2) / (s[0] ** 2 - s[1] ** 2)))
        edge = np.array([th0, np.pi - th0])
        for th, feasible_only in ((np.concatenate([grid, edge]), True), (edge, False)):
            u = np.stack([np.cos(th), np.sin(th)])
            err, rho2 = (q @ u) ** 2, (s[:, None] ** 2 * u**2).sum(0)
            if feasible_only:
                brute = err[rho2 >= c - 1e-12].max()
                res = worst_case_error_exact(coords, s, eps)
            else:
                brute = err.max()
                res = converse_task(coords, s, eps)
            assert res.error == pytest.approx(brute, abs=1e-9)
            assert res.task_error == pytest.approx(brute, abs=1e-9)


def test_exact_calculator_edge_cases_and_errors() -> None:
    lo = 1 - S[0]
    # eps = 1 - s_1: only mu_1 is compatible.
    assert worst_case_error_exact(np.eye(K)[:, :1], S, lo).error == pytest.approx(0, abs=1e-12)
    assert worst_case_error_exact(np.eye(K)[:, 1:3], S, lo).error == pytest.approx(1, abs=1e-12)
    # eps = 1: every task is compatible; a full-rank encoder has zero error.
    assert worst_case_error_exact(np.eye(K)[:, :3], S, 1.0).error == pytest.approx(1, abs=1e-12)
    assert worst_case_error_exact(np.eye(K), S, 0.2).error == pytest.approx(0, abs=1e-12)
    # Fewer rows than len(s) are zero-padded.
    assert worst_case_error_exact(np.eye(3)[:, :1], S, 0.1).error == pytest.approx(
        worst_case_error_exact(np.eye(K)[:, :1], S, 0.1).error, abs=1e-12)
    with pytest.raises(ValueError, match=r"eps must be in \[1 - s_1, 1\]"):
        worst_case_error_exact(np.eye(K)[:, :1], S, 0.01)
    with pytest.raises(ValueError, match="at most len\\(s\\)=10 rows"):
        worst_case_error_exact(np.eye(11)[:, :1], S, 0.1)
    with pytest.raises(ValueError, match="compatibility exactly"):
        converse_task(np.eye(3)[:, :1], [0.9, 0.8, 0.7], 0.35)
    with pytest.raises(ValueError, match="u must be nonzero"):
        approximation_error(np.eye(K)[:, :2], np.zeros(K))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no duality-gap warning on a well-posed problem
        worst_case_error_exact(np.ones((K, 1)), S, 0.2)
