"""Chapter ch05 (Optimality of the contexture): Theorem 14, Defs 13/15, Thm 16, Prop 20, App. C.

Every check the chapter asserts is mirrored here on small exact cases. Tolerances are stated per
test; comparisons of spans use principal angles (sign- and rotation-invariant).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from contexture.chapters.ch05_optimality import (
    block_context,
    compatibility_direct,
    complete_basis,
    encoder_at_angle,
    encoder_covariances,
    fda_scatter,
    fisher_criterion,
    min_norm_preimage,
    naive_trace_gap,
    null_space_t,
    pair_disagreement,
    probe_error_direct,
    rkhs_embed,
    rkhs_inner,
    thm14_ratios,
    thm24_trial,
)
from contexture.contexts import FiniteContext, rbf_context
from contexture.contexts.analytic import (
    hypercube_masking_context,
    hypercube_points,
)
from contexture.metrics import (
    approximation_error,
    compatibility,
    converse_task,
    generalized_eigenvalues,
    ky_fan_check,
    principal_angles,
    ratio_trace,
    ratio_trace_matrices,
    thm16_eps_range,
    thm16_extremal_task,
    trace_gap,
    worst_case_error,
    worst_case_error_exact,
)

TOL = 1e-9


def _ctx(nx: int = 9, na: int = 6, seed: int = 0, conc: float = 0.5) -> FiniteContext:
    rng = np.random.default_rng(seed)
    cond = rng.dirichlet(np.full(na, conc), size=nx)
    return FiniteContext.from_conditional(cond, rng.dirichlet(np.full(nx, 5.0)))


# -- Section 4.1 story and Theorem 14 ----------------------------------------------------------


def test_pair_disagreement_three_ways_and_pair_law() -> None:
    # literal double sum = 2 E Var[g|X] = 2|g|^2 - 2<g, T_kA g>; P(a'|a) = k_A(a,a') P_A(a'); 1e-12
    ctx = _ctx()
    P, Ts, kA = np.asarray(ctx.conditional), np.asarray(ctx.adjoint_operator()), ctx.kernel_a()
    assert np.abs(Ts @ P - kA * ctx.pa[None, :]).max() < 1e-12
    g = np.random.default_rng(3).standard_normal(ctx.shape[1])
    literal = sum(ctx.px[x] * (P[x][:, None] * P[x][None, :]
                               * (g[:, None] - g[None, :]) ** 2).sum() for x in range(9))
    kernel = 2 * ctx.pa @ g**2 - 2 * ctx.pa @ (g * ((kA * ctx.pa[None, :]) @ g))
    assert pair_disagreement(ctx, g) == pytest.approx(literal, abs=1e-12)
    assert kernel == pytest.approx(literal, abs=1e-12)
    with pytest.raises(ValueError, match="g must have 6 rows"):
        pair_disagreement(ctx, np.ones(5))


def test_thm14_proof_version_holds_for_random_tasks_and_spectra() -> None:
    # (7) for g* = sum s_i u_i nu_i: ratio <= 4 eps for every task (slack 1e-12).
    rng = np.random.default_rng(0)
    for _ in range(300):
        k = rng.integers(1, 8)
        s = rng.uniform(0.05, 1.0, k)
        u = rng.standard_normal(k)
        r = thm14_ratios(u, s)
        assert r.ratio_proof <= r.bound + 1e-12
        assert r.rho == pytest.approx(compatibility(u, s), abs=1e-14)


def test_thm14_hypercube_counterexample_values() -> None:
    # Hypercube masking, n = 10, q = 0.95, f = chi_{1} + 0.3 chi_[10]; reference values to four
    # decimals: rho = .9597, 4 eps = .161, preimage .188, proof's g* .138.
    r = thm14_ratios([1.0, 0.3], [0.95**0.5, 0.95**5])
    assert r.rho == pytest.approx(0.9597, abs=5e-5)
    assert r.bound == pytest.approx(0.161, abs=5e-4)
    assert r.ratio_preimage == pytest.approx(0.188, abs=5e-4)
    assert r.ratio_proof == pytest.approx(0.138, abs=5e-4)
    assert r.ratio_preimage > r.bound + 1e-3 and r.ratio_proof < r.bound


def test_thm14_on_explicit_hypercube_and_no_preimage_is_better() -> None:
    # n = 4, q = 0.95: spectrum q^{|S|/2} with binomial multiplicities; coordinate ratios equal the
    # direct ones (1e-10); the example still violates (7); adding ker T components only hurts.
    n, q = 4, 0.95
    ctx, xs = hypercube_masking_context(n, q), hypercube_points(n)
    sv = ctx.svd(2**n - 1, solver="dense")
    closed = np.sort(np.repeat(q ** (np.arange(n + 1) / 2),
                               [math.comb(n, k) for k in range(n + 1)]))[::-1]
    assert np.abs(sv.s - closed).max() < 1e-10
    f = xs[:, 0] + 0.3 * xs.prod(axis=1)
    r = thm14_ratios([1.0, 0.3], [q**0.5, q ** (n / 2)])
    assert compatibility_direct(ctx, f) == pytest.approx(r.rho, abs=1e-12)
    g = min_norm_preimage(ctx, f)
    assert np.abs(np.asarray(ctx.expectation_operator()) @ g - f).max() < 1e-10
    ratio_pre = pair_disagreement(ctx, g) / (ctx.pa @ g**2)
    assert ratio_pre == pytest.approx(r.ratio_preimage, abs=1e-10)
    assert ratio_pre > r.bound
    g_star = np.asarray(ctx.adjoint_operator()) @ f
    assert pair_disagreement(ctx, g_star) / (ctx.pa @ g_star**2) == pytest.approx(
        r.ratio_proof, abs=1e-10)
    Z = null_space_t(ctx)
    assert Z.shape[1] == ctx.shape[1] - 2**n
    assert np.abs(Z.T @ (ctx.pa[:, None] * Z) - np.eye(Z.shape[1])).max() < 1e-10
    z = Z @ np.random.default_rng(0).standard_normal(Z.shape[1])
    for c in (0.1, 1.0, 10.0):
        gz = g + c * z
        assert np.abs(np.asarray(ctx.expectation_operator()) @ gz - f).max() < 1e-9
        assert pair_disagreement(ctx, gz) / (ctx.pa @ gz**2) > ratio_pre


def test_min_norm_preimage_and_thm14_ratios_validation() -> None:
    ctx = _ctx(6, 9, seed=2)  # N < M: T is onto L2(P_X)
    f = np.random.default_rng(1).standard_normal(6)
    g = min_norm_preimage(ctx, f)
    assert np.abs(np.asarray(ctx.expectation_operator()) @ g - f).max() < 1e-10
    wide = _ctx(9, 4, seed=2)  # N > M: most f are not in R(T)
    with pytest.raises(ValueError, match="not in the range of T"):
        min_norm_preimage(wide, np.random.default_rng(1).standard_normal(9))
    with pytest.raises(ValueError, match="must be positive"):
        thm14_ratios([1.0, 1.0], [0.5, 0.0])
    with pytest.raises(ValueError, match="same length"):
        thm14_ratios([1.0], [0.5, 0.2])
    with pytest.raises(ValueError, match="nonzero"):
        thm14_ratios([0.0, 0.0], [0.5, 0.2])


# -- Definitions 13 and 15, complete basis ------------------------------------------------------


def test_complete_basis_and_compatibility_direct() -> None:
    # basis orthonormal in L2(P_X) (1e-12); T* mu_i = s_i nu_i; rho direct = coordinates (1e-12);
    # the printed "i > 1" numerator differs for a task dominated by mu_1.
    ctx = _ctx(10, 6)
    B = complete_basis(ctx)
    assert B.mu.shape == (10, 10) and B.s.shape == (10,) and B.rank() == 6
    assert np.abs(B.mu.T @ (B.px[:, None] * B.mu) - np.eye(10)).max() < 1e-12
    Ts = np.asarray(ctx.adjoint_operator())
    assert np.abs(Ts @ B.mu[:, :6] - B.nu * B.s[:6]).max() < 1e-12
    assert np.abs(Ts @ B.mu[:, 6:]).max() < 1e-12  # completed part spans ker T*
    f = B.mu[:, 1] + 0.3 * np.random.default_rng(0).standard_normal(10)
    u = B.coords(f)
    rho = compatibility_direct(ctx, f)
    assert compatibility(u, B.s, has_constant=True) == pytest.approx(rho, abs=1e-12)
    printed = np.sqrt((B.s[2:] ** 2 * u[2:] ** 2).sum() / (u[1:] ** 2).sum())
    assert abs(printed - rho) > 1e-2
    assert compatibility_direct(ctx, B.mu[:, 1]) == pytest.approx(B.s[1], abs=1e-12)
    with pytest.raises(ValueError, match="must not be constant"):
        compatibility_direct(ctx, np.ones(10))


def test_probe_error_direct_matches_coordinates_and_is_invariant() -> None:
    # weighted least squares with bias = ||Pi^perp u||^2 / ||u||^2 (1e-12); invariant to M, b.
    ctx = _ctx(12, 8, seed=4)
    B = complete_basis(ctx)
    rng = np.random.default_rng(5)
    Phi, f = rng.standard_normal((12, 3)), rng.standard_normal(12)
    e = probe_error_direct(Phi, f, ctx.px)
    assert e == pytest.approx(approximation_error(B.coords(Phi)[1:], B.coords(f)[1:]), abs=1e-12)
    M = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    assert probe_error_direct(Phi @ M + 7.0, 2 * f + 1, ctx.px) == pytest.approx(e, abs=1e-12)
    with pytest.raises(ValueError, match="px must sum to 1"):
        probe_error_direct(Phi, f, np.ones(12))


# -- Theorem 16 ---------------------------------------------------------------------------------


def _rbf_spectrum() -> np.ndarray:
    rng = np.random.default_rng(0)
    ctx = rbf_context(rng.standard_normal((20, 3)) * np.array([2.0, 1.0, 0.5]), 0.5)
    return complete_basis(ctx).s[1:]


def test_thm16_formula_extremal_task_and_beyond_range() -> None:
    # exact worst case of the top-d encoder = formula (1e-8), inside the theorem's range and,
    # for the top-d encoder, beyond it up to eps = 1 - s_(d+1).
    s = _rbf_spectrum()
    K = s.size
    lo, hi = thm16_eps_range(s)
    for d in (1, 2, 4):
        top = np.eye(K)[:, :d]
        for eps in np.r_[np.linspace(lo, hi, 4), np.linspace(hi, 1 - s[d], 4)[1:]]:
            a = worst_case_error(s, d, eps, check_range=False)
            assert worst_case_error_exact(top, s, eps).error == pytest.approx(a, abs=1e-8)
        eps = 0.5 * (lo + hi)
        u = thm16_extremal_task(s, d, eps)
        assert compatibility(u, s) == pytest.approx(1 - eps, abs=1e-12)
        assert approximation_error(top, u) == pytest.approx(worst_case_error(s, d, eps), abs=1e-12)


def test_thm16_random_encoders_are_worse_and_converse() -> None:
    # every perturbed encoder: err > A*; converse task has rho = 1 - eps (1e-8), error >= A*.
    s = _rbf_spectrum()
    K, d = s.size, 2
    lo, hi = thm16_eps_range(s)
    eps = 0.5 * (lo + hi)
    a = worst_case_error(s, d, eps)
    rng = np.random.default_rng(1)
    for sig in (0.01, 0.1, 1.0, 10.0):
        coords = np.eye(K)[:, :d] + sig * rng.standard_normal((K, d))
        assert worst_case_error_exact(coords, s, eps).error > a
        cv = converse_task(coords, s, eps)
        assert cv.task_compatibility == pytest.approx(1 - eps, abs=1e-8)
        assert cv.task_error >= a - 1e-9



def test_thm16_only_if_fails_for_a_tilted_encoder() -> None:
    # derived in the chapter: keep mu_1..mu_(d-1), tilt mu_d towards mu_K by theta. Within the
    # bound (eq-ch05-tilt) on sin^2(theta) the exact worst case is A* (1e-8), although the encoder
    # does not learn the contexture; beyond the bound it is strictly worse; d = 1 has no room.
    s = _rbf_spectrum()
    K = s.size
    lo, hi = thm16_eps_range(s)
    for d in (2, 3):
        s1, sd, sn, sk = s[0], s[d - 1], s[d], s[-1]
        bound = (s1**2 - sd**2) * (sn**2 - sk**2) / ((s1**2 - sn**2) * (sd**2 - sk**2))
        assert 0 < bound < 1
        for eps in np.linspace(lo, hi, 3)[1:]:
            a = worst_case_error(s, d, eps)
            for frac, optimal in ((0.5, True), (0.99, True), (1.5, False)):
                theta = np.arcsin(np.sqrt(min(frac * bound, 1.0)))
                enc = np.eye(K)[:, :d]
                enc[:, d - 1] *= np.cos(theta)
                enc[K - 1, d - 1] = np.sin(theta)
                assert principal_angles(enc, np.eye(K)[:, :d]).max() == pytest.approx(theta)
                err = worst_case_error_exact(enc, s, eps).error
                if optimal:
                    assert err == pytest.approx(a, abs=1e-8)
                else:
                    assert err > a + 1e-6

def test_encoder_at_angle_has_equal_principal_angles() -> None:
    # all principal angles = theta (1e-10); theta = 0 gives the top-d worst case exactly.
    for theta in (0.0, 0.3, 1.2, np.pi / 2):
        c = encoder_at_angle(12, 3, theta, 0)
        ang = principal_angles(c, np.eye(12)[:, :3])
        assert np.abs(ang - theta).max() < 1e-7
    with pytest.raises(ValueError, match="d must be an integer"):
        encoder_at_angle(5, 3, 0.1, 0)


# -- Definition 19 / Proposition 20 --------------------------------------------------------------


def test_prop20_reproducing_isometry_and_iii() -> None:
    # (i) h(a) = <h, k_A(a,.)>_H; (ii) isometry + inverse of T*; (iii) exact on span{s_i > 0}
    # and failing with a ker T* component (N > M). Tolerance 1e-9.
    ctx = _ctx(10, 6, seed=7)
    B = complete_basis(ctx)
    Ts, kA = np.asarray(ctx.adjoint_operator()), ctx.kernel_a()
    rng = np.random.default_rng(2)
    F = rng.standard_normal((10, 3))
    H = Ts @ F
    for j in range(3):
        for a in range(6):
            assert rkhs_inner(B, H[:, j], kA[a]) == pytest.approx(H[a, j], abs=1e-9)
    E = np.column_stack([rkhs_embed(B, H[:, j]) for j in range(3)])
    gram = np.array([[rkhs_inner(B, H[:, i], H[:, j]) for j in range(3)] for i in range(3)])
    assert np.abs(gram - E.T @ (ctx.px[:, None] * E)).max() < 1e-9
    assert np.abs(Ts @ E - H).max() < 1e-9

    def ratio8(fv: np.ndarray) -> float:
        h = Ts @ fv
        ht = h - ctx.pa @ h
        return float(np.sqrt(ctx.pa @ ht**2 / rkhs_inner(B, ht, ht)))

    pos = B.s > 1e-10
    pos[0] = False
    fv = B.mu[:, pos] @ rng.standard_normal(pos.sum())
    assert ratio8(fv) == pytest.approx(compatibility_direct(ctx, fv), abs=1e-9)
    bad = B.mu[:, 1] + 2.0 * B.mu[:, ~(B.s > 1e-10)][:, 0]
    assert ratio8(bad) == pytest.approx(B.s[1], abs=1e-9)
    assert compatibility_direct(ctx, bad) < B.s[1] - 1e-3


def test_rkhs_rejects_functions_outside_h() -> None:
    ctx = _ctx(4, 9, seed=1)  # M > N: R(T*) is a proper subspace of L2(P_A)
    B = complete_basis(ctx)
    h = np.random.default_rng(0).standard_normal(9)
    with pytest.raises(ValueError, match="not in H"):
        rkhs_inner(B, h, h)


# -- Definitions 21 and 23, Lemma 22, Theorem 24 -----------------------------------------------


def test_ratio_trace_direct_invariance_and_ky_fan() -> None:
    # C, B from values = coordinates (1e-12); RT invariant under M, b and a redundant column;
    # RT(top-d) = s_1^2 + .. + s_d^2; Lemma 22 on random orthonormal encoders.
    ctx = _ctx(12, 8, seed=3)
    B = complete_basis(ctx)
    s = B.s[1:]
    rng = np.random.default_rng(4)
    Phi = rng.standard_normal((12, 3))
    C, Bm = encoder_covariances(ctx, Phi)
    C2, B2 = ratio_trace_matrices(B.coords(Phi)[1:], s)
    assert np.abs(C - C2).max() < 1e-12 and np.abs(Bm - B2).max() < 1e-12
    rt = ratio_trace(C, Bm)
    M = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    assert ratio_trace(*encoder_covariances(ctx, Phi @ M - 2.0)) == pytest.approx(rt, abs=1e-10)
    red = np.column_stack([Phi, Phi @ [1.0, -2.0, 0.5]])
    assert ratio_trace(*encoder_covariances(ctx, red)) == pytest.approx(rt, abs=1e-8)
    top = B.mu[:, 1:4]
    assert ratio_trace(*encoder_covariances(ctx, top)) == pytest.approx((s[:3] ** 2).sum(),
                                                                         abs=1e-12)
    for _ in range(50):
        Q, _ = np.linalg.qr(rng.standard_normal((s.size, 3)))
        lhs, rhs = ky_fan_check(Q, s)
        assert lhs <= rhs + 1e-12


def test_trace_gap_padding_and_naive_gap() -> None:
    # TG(top-d) = s_(d+1)^2; appending a useless direction leaves TG, raises the naive gap.
    s = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.05, 0.0])
    top = np.eye(7)[:, :2]
    pad = np.column_stack([top, np.eye(7)[:, -2]])
    assert trace_gap(top, s) == pytest.approx(s[2] ** 2, abs=1e-12)
    assert trace_gap(pad, s) == pytest.approx(s[2] ** 2, abs=1e-12)
    assert naive_trace_gap(top, s) == pytest.approx(s[2] ** 2, abs=1e-12)
    assert naive_trace_gap(pad, s) == pytest.approx(s[2] ** 2 + s[3] ** 2 - s[5] ** 2, abs=1e-12)
    with pytest.raises(ValueError, match="full column rank"):
        naive_trace_gap(np.column_stack([top, top[:, :1]]), s)


def test_block_context_and_thm24_readings() -> None:
    # Top B-1 singular values near 1, the rest small; on slightly perturbed encoders the printed
    # bound fails while the sqrt(TG) reading holds, with certified exact errors (gap < 1e-7).
    ctx = block_context([8, 8, 7, 7], [0.02, 0.04, 0.06, 0.1], 60.0, 0)
    s = complete_basis(ctx).s[1:]
    assert s[2] > 0.9 and s[3] < 0.2
    tr = thm24_trial(s, 3, 0.2, 0.02, 15, 1)
    assert tr.applicable.all() and tr.gap.max() < 1e-7
    assert tr.violations("printed") > 0 and tr.max_excess("printed") > 1e-3
    assert tr.violations("sqrt") == 0
    with pytest.raises(ValueError, match="leaks must have one entry per block"):
        block_context([3, 3], [0.1], 1.0, 0)


# -- Fisher discriminant analysis -----------------------------------------------------------------


def test_fda_identities_and_optimum() -> None:
    # W S_B W^T = 2 B_Phi, W S_W W^T = C_Phi - B_Phi (1e-12), J = 2 Tr[(C-B)^{-1} B]; FDA's
    # solution attains the top generalised eigenvalues of (B_X, C_X).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 3))
    ctx = rbf_context(X, 0.7)
    S_B, S_W = fda_scatter(ctx, X)
    W = rng.standard_normal((2, 3))
    C, Bm = encoder_covariances(ctx, X @ W.T)
    assert np.abs(W @ S_B @ W.T - 2 * Bm).max() < 1e-12
    assert np.abs(W @ S_W @ W.T - (C - Bm)).max() < 1e-12
    assert fisher_criterion(W, S_B, S_W) == pytest.approx(
        2 * np.trace(np.linalg.solve(C - Bm, Bm)), abs=1e-10)
    kappa = generalized_eigenvalues(*encoder_covariances(ctx, X)[::-1])
    ev, V = np.linalg.eig(np.linalg.solve(S_W, S_B))
    Wf = np.real(V[:, np.argsort(-np.real(ev))[:2]]).T
    assert ratio_trace(*encoder_covariances(ctx, X @ Wf.T)) == pytest.approx(kappa[:2].sum(),
                                                                             abs=1e-10)
    with pytest.raises(ValueError, match="S_B and S_W must be 3 x 3"):
        fisher_criterion(W, S_B[:2, :2], S_W)
