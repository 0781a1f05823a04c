"""Appendix C: ratio trace (Def. 21), Lemma 22, trace gap (Def. 23), Theorem 24."""

from __future__ import annotations

import numpy as np
import pytest

from contexture.metrics import (
    generalized_eigenvalues,
    ky_fan_check,
    ratio_trace,
    ratio_trace_matrices,
    thm24_bound,
    trace_gap,
    trace_gap_terms,
    worst_case_error,
    worst_case_error_exact,
)

S = np.array([0.95, 0.9, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1])
K = S.size


def test_matrices_match_definition_21_on_a_finite_context() -> None:
    # C = Cov_{P_X}[Phi], B = Cov_{P_A}[T* Phi] computed from function values; tolerance 1e-12.
    rng = np.random.default_rng(0)
    J = rng.uniform(size=(6, 4)) ** 2
    J /= J.sum()
    px, pa = J.sum(1), J.sum(0)
    U, sv, _ = np.linalg.svd(J / np.sqrt(np.outer(px, pa)))
    mu = U / np.sqrt(px)[:, None]  # complete basis of L2(P_X), mu[:, 0] = 1
    s = np.concatenate([sv[1:], np.zeros(6 - sv.size)])
    Phi = rng.standard_normal((6, 2))  # two functions on X
    Pt = Phi - px @ Phi
    C_direct = Pt.T @ (px[:, None] * Pt)
    TstarPhi = (J.T @ Pt) / pa[:, None]
    B_direct = TstarPhi.T @ (pa[:, None] * TstarPhi)
    coords = (mu.T @ (px[:, None] * Pt))[1:]
    C, B = ratio_trace_matrices(coords, s)
    np.testing.assert_allclose(C, C_direct, atol=1e-12)
    np.testing.assert_allclose(B, B_direct, atol=1e-12)


def test_ratio_trace_contexture_invariance_and_singular_C() -> None:
    # Tolerances: 1e-12 for the contexture value, 1e-10 for invariance.
    d = 3
    C, B = ratio_trace_matrices(np.eye(K)[:, :d], S)
    assert ratio_trace(C, B) == pytest.approx((S[:d] ** 2).sum(), abs=1e-12)
    np.testing.assert_allclose(generalized_eigenvalues(B, C), S[:d] ** 2, atol=1e-12)
    rng = np.random.default_rng(1)
    coords = rng.standard_normal((K, d))
    base = ratio_trace(*ratio_trace_matrices(coords, S))
    M = rng.standard_normal((d, d))
    assert ratio_trace(*ratio_trace_matrices(coords @ M, S)) == pytest.approx(base, abs=1e-10)
    # Singular C (a dependent function): a maximal independent subset gives the same value.
    dup = np.column_stack([coords, coords @ [1.0, -2.0, 0.5]])
    assert ratio_trace(*ratio_trace_matrices(dup, S)) == pytest.approx(base, abs=1e-10)
    assert generalized_eigenvalues(*reversed(ratio_trace_matrices(dup, S))).size == d
    assert base <= (S[:d] ** 2).sum() + 1e-12  # RT is maximal for the contexture


def test_ratio_trace_errors() -> None:
    with pytest.raises(ValueError, match="C must be a square matrix"):
        ratio_trace(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="B must have the same shape"):
        ratio_trace(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="C must be symmetric"):
        ratio_trace([[1.0, 0.5], [0.0, 1.0]], np.eye(2))
    with pytest.raises(ValueError, match="C must be positive semidefinite"):
        ratio_trace([[1.0, 0.0], [0.0, -1.0]], np.eye(2))
    with pytest.raises(ValueError, match="B must vanish on the null space of C"):
        ratio_trace([[1.0, 0.0], [0.0, 0.0]], np.eye(2))


def test_lemma_22_ky_fan() -> None:
    rng = np.random.default_rng(2)
    for d in (1, 3, 5):
        Q = np.linalg.qr(rng.standard_normal((K, d)))[0]
        lhs, rhs = ky_fan_check(Q, S)
        assert lhs <= rhs + 1e-12
    lhs, rhs = ky_fan_check(np.eye(K)[:, :3], S)
    assert lhs == pytest.approx(rhs, abs=1e-12)
    with pytest.raises(ValueError, match="orthonormal columns"):
        ky_fan_check(2 * np.eye(K)[:, :2], S)


def test_trace_gap_contexture_and_brute_force() -> None:
    # Contexture: TG = s_{d+1}^2 (1e-12). Brute force over random subspaces of span(Phi) never
    # beats the Ky-Fan value (tolerance 1e-10).
    for d in (1, 3, 5):
        assert trace_gap(np.eye(K)[:, :d], S) == pytest.approx(S[d] ** 2, abs=1e-12)
    rng = np.random.default_rng(3)
    coords = rng.standard_normal((K, 3))
    terms = trace_gap_terms(coords, S)
    assert terms[0] == pytest.approx(S[0] ** 2) and terms.size == 4
    for dp in (1, 2, 3):
        for _ in range(50):
            F = coords @ rng.standard_normal((3, dp))
            rt = ratio_trace(*ratio_trace_matrices(F, S))
            assert (S[: dp + 1] ** 2).sum() - rt >= terms[dp] - 1e-10
    # Adding noise dimensions cannot increase TG (the flaw of the naive gap).
    noisy = np.column_stack([coords, rng.standard_normal((K, 2))])
    assert trace_gap(noisy, S) <= trace_gap(coords, S) + 1e-12


def test_trace_gap_zero_dimension_choice_and_errors() -> None:
    # An encoder orthogonal to the top functions: d' = 1 gives s1^2 + s2^2 - s5^2 > s1^2.
    e5 = np.eye(K)[:, [4]]
    assert trace_gap(e5, S) == pytest.approx(S[0] ** 2, abs=1e-12)
    assert trace_gap(e5, S, include_zero=False) == pytest.approx(
        S[0] ** 2 + S[1] ** 2 - S[4] ** 2, abs=1e-12)
    with pytest.raises(ValueError, match="at least rank\\(C_Phi\\) \\+ 1 = 9"):
        trace_gap(np.eye(K), S)


def test_theorem_24_readings() -> None:
    s1, tg, eps = 0.9, 0.25, 0.2
    num = s1**2 - 0.8**2
    assert thm24_bound([s1], tg, eps) == pytest.approx((num + s1 * tg) / (s1**2 - tg**2))
    assert thm24_bound([s1], tg, eps, reading="sqrt") == pytest.approx(
        (num + s1 * 0.5) / (s1**2 - tg))
    with pytest.raises(ValueError, match=r"tg must be a finite number in \[0.0, 0.81"):
        thm24_bound([s1], 0.81, eps)
    with pytest.raises(ValueError, match=r"eps must be a finite number in \(0.09"):
        thm24_bound([s1], tg, 0.05)
    with pytest.raises(ValueError, match="reading must be one of"):
        thm24_bound([s1], tg, eps, reading="norm")  # type: ignore[arg-type]


def test_theorem_24_printed_bound_fails_sqrt_reading_holds() -> None:
    # Theorem 24 as printed fails for near-contexture encoders on a spectrum with a gap: the exact
    # error (duality gap < 1e-9) exceeds the printed bound; the sqrt(TG) reading holds. Margin 1e-9.
    s = np.concatenate([[0.969, 0.957, 0.934], np.linspace(0.09, 0.01, 12)])
    d, eps = 3, 0.05
    rng = np.random.default_rng(0)
    violations = 0
    for _ in range(5):
        coords = np.eye(s.size)[:, :d] + 0.02 * rng.standard_normal((s.size, d))
        tg = trace_gap(coords, s)
        err = worst_case_error_exact(coords, s, eps).error
        violations += err > thm24_bound(s, tg, eps) + 1e-9
        assert err <= thm24_bound(s, tg, eps, reading="sqrt") + 1e-9
    assert violations >= 1
    # For the contexture both readings hold (TG = s_{d+1}^2), and exceed Theorem 16's value.
    tg = trace_gap(np.eye(s.size)[:, :d], s)
    exact = worst_case_error(s, d, eps, check_range=False)
    assert exact <= thm24_bound(s, tg, eps) and exact <= thm24_bound(s, tg, eps, reading="sqrt")
