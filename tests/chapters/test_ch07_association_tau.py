"""Chapter ch07 (association and tau): Sec. 5.1, Lemmas 17 and 25, App. F.1, Eq. (4).

Mirrors every check the chapter asserts, on small exact cases. Tolerances are stated per test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import dirichlet_context
from scipy.optimize import curve_fit
from scipy.stats import spearmanr

from contexture.chapters.ch07_association_tau import (
    association_profile,
    block_ends,
    gaussian_conditional_hermite,
    lemma17_terms,
    lemma25_terms,
    mehler_kernel,
    probe_error_curves,
    ridge_probe_errors,
    spike_tail_spectrum,
    tau_exponential_minimum,
    tau_spike_tail,
)
from contexture.contexts import FiniteContext, knn_context, rbf_context
from contexture.contexts.analytic import (
    hermite_functions,
    hypercube_masking_context,
    hypercube_points,
    hypercube_spectrum,
    parity_features,
    parity_subsets,
    resampling_context,
)
from contexture.metrics import (
    lemma17_bound,
    subspace_distance,
    tau,
    tau_exponential,
)

TOL = 1e-10


def _sample(n: int = 45, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]])
    return centres[np.arange(n) % 3] + 0.6 * rng.standard_normal((n, 2))


# ---- Section 5.1: the two extremes (tolerance 1e-10) ---------------------------------------------


def test_independence_and_identity_extremes() -> None:
    rng = np.random.default_rng(1)
    px, pa = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(5))
    s = FiniteContext(np.outer(px, pa)).svd(4).s[1:]
    assert np.abs(s).max() <= TOL
    s = FiniteContext(np.diag(px)).svd(6).s[1:]
    assert np.abs(s - 1).max() <= TOL


# ---- Lemma 17 (tolerance 1e-9) -------------------------------------------------------------------


def test_lemma17_on_mixtures_and_pair_integral() -> None:
    J0 = dirichlet_context(12, 9)
    joint = np.asarray(J0.joint)
    prod = np.outer(J0.px, J0.pa)
    s0 = J0.svd(8).s[1:]
    ratios = []
    for eta in (0.05, 0.3, 1.0):
        ctx = FiniteContext((1 - eta) * prod + eta * joint)
        s = ctx.svd(8).s[1:]
        assert np.abs(s - eta * s0).max() <= 1e-9  # s_i(eta) = eta s_i(J0)
        t = lemma17_terms(ctx)
        total = float((s**2).sum())
        assert t.trace == pytest.approx(total, abs=1e-9)
        assert t.chi2 == pytest.approx(total, abs=1e-9)
        assert t.trace <= t.eps
        assert abs(t.pair_integral) <= 1e-9  # the printed "pair" integral is always 0
        ratios.append(total / t.eps)
        # consistency check of two implementations of the same trace form
        assert (t.trace, t.eps) == pytest.approx(lemma17_bound(ctx.kernel_x(), ctx.px), abs=1e-12)
    assert np.ptp(ratios) <= 1e-9  # both sides scale as eta^2


def test_lemma17_tight_on_hypercube_masking() -> None:
    m = 3
    x = hypercube_points(m)
    for q in (0.1, 0.6, 0.95):
        ctx = hypercube_masking_context(m, q)
        K = np.asarray(ctx.kernel_x())
        assert np.abs(K - np.prod(1 + q * x[:, None, :] * x[None, :, :], axis=2)).max() <= 1e-9
        t = lemma17_terms(ctx)
        assert t.trace == pytest.approx((1 + q) ** m - 1, abs=1e-9)
        assert t.eps == pytest.approx((1 + q) ** m - 1, abs=1e-9)


def test_lemma17_terms_rejects_non_context() -> None:
    with pytest.raises(TypeError, match="context must be a contexture Context"):
        lemma17_terms(np.eye(3))


# ---- App. F.1 measures and Lemma 25 on sample contexts -------------------------------------------


def test_association_measures_monotone_and_lemmas_hold() -> None:
    X = _sample()
    n = X.shape[0]
    knn = [knn_context(X, k) for k in (2, 5, 10, 20)]
    rbf = [rbf_context(X, g) for g in (0.03, 0.3, 3.0)]
    rows = []
    i = np.arange(1, 21, dtype=float)
    dist = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=2)
    off = ~np.eye(n, dtype=bool)
    for ctx in knn + rbf:
        sv = ctx.svd(n - 1, solver="dense")
        prof = association_profile(ctx, sv, X, d_fit=20, d0=16)
        K = ctx.kernel_x()
        K = K.toarray() if hasattr(K, "toarray") else np.asarray(K)  # KNN kernels are sparse
        s2 = sv.s[1:] ** 2
        # each measure against an independent computation (not the functions the profile calls)
        lam_fit = curve_fit(lambda t, lam: np.exp(-lam * t), i, s2[:20], p0=[0.1],
                            bounds=(0.0, np.inf))[0][0]
        assert prof.decay_rate == pytest.approx(lam_fit, rel=1e-5)  # scipy curve_fit, 1e-5
        assert prof.kernel_deviation == pytest.approx(np.abs(K - 1.0).sum() / n**2, rel=1e-12)
        jump = np.abs(K[:, :, None] - K[:, None, :]).max(axis=0)  # max_z |k(z,x) - k(z,y)|
        assert prof.lipschitz == pytest.approx((jump[off] / dist[off]).max(), rel=1e-12)
        assert prof.lipschitz_scaled == pytest.approx(2 * prof.lipschitz)  # p = 2 features
        nxt = s2[1:17]  # s_{d+1}^2, d = 1..16; s = 1 (disconnected KNN graph) gives tau_d = inf
        with np.errstate(divide="ignore"):
            first = np.where(nxt < 1.0, 1.0 / (1.0 - nxt), np.inf)
        tau_d = first + np.cumsum(s2[:16]) / s2[:16].sum()  # Eq. (4) with beta = 1
        assert prof.tau == pytest.approx(tau_d.min(), abs=1e-12)
        assert prof.d_star == int(np.argmin(tau_d)) + 1
        total, eps = lemma17_bound(ctx.kernel_x())
        assert total <= eps + TOL  # Lemma 17
        t25 = lemma25_terms(sv, ctx.kernel_x(), X)
        assert t25.L_k <= t25.bound * (1 + TOL)  # Lemma 25 (sample version, exact)
        assert t25.sum_s2 == pytest.approx(total, abs=1e-9)
        rows.append(prof)
    dk = [p.decay_rate for p in rows[:4]]
    dr = [p.decay_rate for p in rows[4:]]
    assert spearmanr([2, 5, 10, 20], dk).statistic == pytest.approx(1.0)
    assert spearmanr([0.03, 0.3, 3.0], dr).statistic == pytest.approx(-1.0)
    kd = [p.kernel_deviation for p in rows[:4]]
    assert spearmanr([2, 5, 10, 20], kd).statistic == pytest.approx(-1.0)


def test_lemma25_needs_complete_system() -> None:
    X = _sample(30)
    ctx = rbf_context(X, 1.0)
    with pytest.raises(ValueError, match="system must be complete"):
        lemma25_terms(ctx.svd(5), ctx.kernel_x(), X)
    with pytest.raises(ValueError, match="K must be 30 x 30"):
        lemma25_terms(ctx.svd(29, solver="dense"), np.eye(3), X)


# ---- Eq. (4): tau on structured spectra ----------------------------------------------------------


@pytest.mark.parametrize(
    ("lam", "ref_tau", "tol", "ref_d"),
    # Reference values for s_i^2 = e^{-lam i}; tolerance = half a unit of the last printed digit.
    [(0.002, 2.559, 5e-4, 512), (0.02, 1.9999, 5e-5, 229), (0.2, 1.989, 5e-4, 11),
     (2.0, 1.883, 5e-4, 1)],
)
def test_tau_reference_table(lam: float, ref_tau: float, tol: float, ref_d: int) -> None:
    t, d, _ = tau_exponential(lam, beta=1.0, d0=512)
    assert abs(t - ref_tau) <= tol and d == ref_d
    t_num, d_num, _ = tau(np.exp(-lam * np.arange(1, 514) / 2), beta=1.0, d0=512)
    assert t_num == pytest.approx(t, abs=1e-10) and d_num == d


def test_tau_exponential_minimum_and_limits() -> None:
    t_min, lam, d = tau_exponential_minimum(beta=1.0, d0=512)
    assert d == 1
    # independent of the closed form: Eq. (4) evaluated on the explicit spectrum e^{-lam i / 2}
    t_gen, d_gen, td_gen = tau(np.exp(-lam * np.arange(1, 514) / 2), beta=1.0, d0=512)
    assert d_gen == 1 and t_min == pytest.approx(td_gen[0], abs=1e-12)
    assert t_min == pytest.approx(1.78861, abs=1e-5)  # derived here, 1e-5
    grid = np.logspace(-4, 2, 121)
    vals = np.array([tau_exponential(x)[0] for x in grid])
    assert vals.min() >= t_min - 1e-12
    dstar = np.array([tau_exponential(x)[1] for x in grid])
    assert np.diff(dstar).max() <= 0  # d* non-increasing in lambda
    assert tau_exponential(50.0)[0] == pytest.approx(2.0, abs=1e-6)  # weak limit beta + 1
    assert tau_exponential(0.2, beta=3.0)[0] > 1.0


def test_spike_tail_closed_form_and_limit() -> None:
    prev = np.inf
    for d0 in (8, 64, 512, 4096):
        b = min(1.0 / math.sqrt(d0), 0.5)
        t, d, tau_d = tau(spike_tail_spectrum(0.5, b, d0), d0=d0)
        assert t == pytest.approx(tau_spike_tail(0.5, b, d0), abs=1e-12) and d == 1
        assert np.all(np.diff(tau_d) > 0)
        assert 1.0 < t < prev
        prev = t
    assert prev < 1.03
    with pytest.raises(ValueError, match="b must be a finite number"):
        spike_tail_spectrum(0.3, 0.4, 10)
    with pytest.raises(ValueError, match="a must be positive"):
        spike_tail_spectrum(0.0, 0.0, 10)


def test_block_ends_and_tau_argmin_on_masking_spectra() -> None:
    assert block_ends([0.9, 0.9, 0.5, 0.5, 0.5, 0.1]).tolist() == [2, 5, 6]
    m = 10
    for q in (0.05, 0.3, 0.5, 0.8, 0.95):
        s, deg = hypercube_spectrum(m, lambda k, q=q: q ** (k / 2))
        assert s.size == 2**m - 1 and np.all(np.diff(deg) >= 0)
        t, d, td = tau(s, d0=512)
        assert d == 1 or d in set(block_ends(s).tolist())
        total = np.sum(s[:512] ** 2)
        inside = np.flatnonzero(np.isclose(s[1 : td.size], s[2 : td.size + 1], rtol=0,
                                           atol=1e-14))
        np.testing.assert_allclose(td[inside + 1] - td[inside], s[inside + 1] ** 2 / total,
                                   rtol=0, atol=1e-12)


# ---- closed-form contexts (Gaussian noise, hypercube) --------------------------------------------


def test_gaussian_noise_context_hermite_and_mehler() -> None:
    z, w = np.polynomial.hermite_e.hermegauss(40)
    H = hermite_functions(z, 10)
    np.testing.assert_allclose(H.T @ (H * (w / w.sum())[:, None]), np.eye(11), atol=1e-10)
    x = np.linspace(-3, 3, 7)
    for rho in (0.3, 0.8, 0.95):
        lhs = gaussian_conditional_hermite(rho, 10, x, n_nodes=40)
        np.testing.assert_allclose(lhs, hermite_functions(x, 10) * rho ** np.arange(11),
                                   atol=1e-9)
        Hx = hermite_functions(x, 300)
        series = (Hx * rho ** (2 * np.arange(301))) @ Hx.T
        np.testing.assert_allclose(series, mehler_kernel(x, x, rho), atol=1e-9)
        closed = tau_exponential(-2 * math.log(rho), d0=64)
        np.testing.assert_allclose(tau(rho ** np.arange(1, 66), d0=64)[2], closed[2],
                                   atol=1e-12)


def test_hypercube_contexts_closed_forms() -> None:
    m = 3
    x = hypercube_points(m)
    P = parity_features(x, parity_subsets(m))
    np.testing.assert_allclose(P.T @ P / 2**m, np.eye(2**m), atol=1e-12)  # orthonormal
    ends = np.cumsum([math.comb(m, k) for k in range(1, m + 1)])
    for q in (0.2, 0.7):
        sv = hypercube_masking_context(m, q).svd(2**m - 1)
        np.testing.assert_allclose(sv.s[1:], hypercube_spectrum(m, lambda k, q=q: q ** (k / 2))[0],
                                   atol=1e-9)
        for e in ends[:-1]:
            assert subspace_distance(sv.mu[:, 1 : e + 1], P[:, 1 : e + 1]) <= 1e-8
    p = 0.3
    ctx_r = resampling_context(m, p)
    np.testing.assert_allclose(ctx_r.svd(2**m - 1).s[1:],
                               hypercube_spectrum(m, lambda k: (1 - p) ** k)[0], atol=1e-9)
    mask = hypercube_masking_context(m, (1 - p) ** 2)
    np.testing.assert_allclose(np.asarray(mask.kernel_x()), np.asarray(ctx_r.kernel_x()),
                               atol=1e-9)


# ---- the probe on the exact encoder --------------------------------------------------------------


def test_ridge_probe_errors_parseval() -> None:
    m = 4
    subsets = parity_subsets(m)
    rng = np.random.default_rng(0)
    F = parity_features(rng.choice([-1.0, 1.0], size=(60, m)), subsets)
    deg = np.array([len(S) for S in subsets])
    u = 0.5 ** deg
    u[0] = 0.2
    y = F @ u + 0.3 * rng.standard_normal(60)
    grid = [1, 4, 10]
    err, approx = ridge_probe_errors(F[:, :11], y, u, grid, ridge=1e-3)
    F_all = parity_features(hypercube_points(m), subsets)
    for j, d in enumerate(grid):
        reg = np.full(d + 1, 1e-3 * 60)
        reg[0] = 0.0
        w = np.linalg.solve(F[:, : d + 1].T @ F[:, : d + 1] + np.diag(reg), F[:, : d + 1].T @ y)
        direct = np.mean((F_all[:, : d + 1] @ w - F_all @ u) ** 2)
        assert err[0, j] == pytest.approx(direct, abs=1e-10)  # Parseval, 1e-10
        # approximation error = squared residual of the best fit in span(mu_0..mu_d), computed
        # by least squares over all 2^m points (not from the coordinates)
        f_all = F_all @ u
        coef = np.linalg.lstsq(F_all[:, : d + 1], f_all, rcond=None)[0]
        residual = np.mean((f_all - F_all[:, : d + 1] @ coef) ** 2)
        assert approx[0, j] == pytest.approx(residual, abs=1e-12)
    # noiseless labels, full basis, no ridge, every cube point sampled: exact recovery
    F_full = np.vstack([F_all, F])
    err0, _ = ridge_probe_errors(F_full, F_full @ u, u, [15])
    assert err0[0, 0] <= 1e-20


def test_probe_error_curves_deterministic() -> None:
    subsets = parity_subsets(5, 2)
    U = np.zeros((2, len(subsets)))
    U[0, 1:] = 1.0
    U[1, 1:6] = 1.0
    U /= np.linalg.norm(U, axis=1, keepdims=True)

    def feats(rng: np.random.Generator, n: int) -> np.ndarray:
        return parity_features(rng.choice([-1.0, 1.0], size=(n, 5)), subsets)

    a = probe_error_curves(feats, U, n=80, sigma=0.2, d_grid=[1, 5, 15], reps=4, seed=3)
    b = probe_error_curves(feats, U, n=80, sigma=0.2, d_grid=[1, 5, 15], reps=4, seed=3)
    np.testing.assert_array_equal(a.err, b.err)
    assert a.err.shape == (2, 3)
    np.testing.assert_allclose(a.estimation, a.err - a.approx)
    assert a.approx[1, 1] == pytest.approx(0.0, abs=1e-15)  # task 2 lies in the top-5 span
    with pytest.raises(ValueError, match=r"d_grid values must lie in \[1, 15\]"):
        probe_error_curves(feats, U, n=80, sigma=0.2, d_grid=[16], reps=2)
    with pytest.raises(ValueError, match="features\\(rng, n\\) must return"):
        probe_error_curves(lambda r, n: np.ones((n, 3)), U, n=10, sigma=0.1, d_grid=[1], reps=2)


def test_closed_form_helpers_validate_inputs() -> None:
    with pytest.raises(ValueError, match="entries \\+1 or -1"):
        parity_features(np.full((2, 3), 0.5), [(0,)])
    with pytest.raises(ValueError, match="subsets must index the 3 columns"):
        parity_features(np.ones((2, 3)), [(3,)])
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 10\]"):
        hypercube_masking_context(11, 0.5)
    with pytest.raises(ValueError, match="s_degree\\(k\\) must return 3 values"):
        hypercube_spectrum(3, lambda k: np.ones(2))
    with pytest.raises(ValueError, match="rho must be a finite number"):
        mehler_kernel([0.0], [0.0], 1.0)
