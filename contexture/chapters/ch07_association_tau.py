r"""Association and the metric :math:`\tau`: calculators for the chapter ``ch07_association_tau``.

Covers Section 5.1 (strong vs weak association), Lemma 17 (App. F.2), Lemma 25 (App. F.3), the
association measures of App. F.1 and the metric :math:`\tau` of Eq. (4) (Sec. 5.2), all in arXiv v2
numbering. The generic measures (decay rate, kernel deviation, Lipschitz estimates, :math:`\tau`)
live in :mod:`contexture.metrics`; this module adds the theorem-specific pieces:

* :func:`lemma17_terms` -- both sides of Lemma 17, plus the pair integral that the printed proof
  uses in place of the trace (it is identically 0);
* :func:`lemma25_terms` -- both sides of Lemma 25 on a sample, from a *complete* singular system;
* :func:`association_profile` -- the App. F.1 measures and :math:`\tau` of one sample context;
* :func:`block_ends`, :func:`spike_tail_spectrum`, :func:`tau_spike_tail`,
  :func:`tau_exponential_minimum` -- facts about :math:`\tau` on structured spectra;
* :func:`ridge_probe_errors`, :func:`probe_error_curves` -- the actual error of a ridge probe on
  the exact top-:math:`d` singular functions, for comparing :math:`\arg\min_d\tau_d` with
  :math:`\arg\min_d\mathrm{err}_d` on closed-form contexts;
* :func:`gaussian_conditional_hermite`, :func:`mehler_kernel` -- quadrature and series checks of
  the Gaussian-noise context; the closed-form contexts themselves (Hermite functions, hypercube
  masking and resampling, parities, spectra with multiplicities) live in
  :mod:`contexture.contexts.analytic`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize_scalar

from contexture.base.checks import as_rng, check_float, check_int, check_matrix, check_table
from contexture.base.linalg import dense
from contexture.base.validate import check_spectrum
from contexture.contexts.analytic import hermite_functions, mehler_density_ratio
from contexture.contexts.finite import Context, check_context
from contexture.metrics import (
    decay_rate,
    function_lipschitz_estimate,
    kernel_deviation,
    lemma25_bound,
    lipschitz_estimate,
    tau,
    tau_exponential,
)
from contexture.spectra import SingularSystem, check_system

__all__ = [
    "AssociationProfile",
    "Lemma17Terms",
    "Lemma25Terms",
    "ProbeCurves",
    "association_profile",
    "block_ends",
    "gaussian_conditional_hermite",
    "lemma17_terms",
    "lemma25_terms",
    "mehler_kernel",
    "probe_error_curves",
    "ridge_probe_errors",
    "spike_tail_spectrum",
    "tau_exponential_minimum",
    "tau_spike_tail",
]


# --------------------------------------------------------------------------------------------
# Lemma 17 (App. F.2)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lemma17Terms:
    r"""Both sides of Lemma 17 for one finite context.

    ``trace`` :math:`=\int k_X^+(x,x)\,dP_{\mathcal X}-1=\sum_{i\ge1}s_i^2` (the trace of
    :math:`k_X^+-1`); ``chi2`` the same sum computed independently from the joint law
    (:meth:`Context.chi_square`); ``eps`` :math:`=\max_{x,x'}|k_X^+(x,x')-1|`;
    ``pair_integral`` :math:`=\iint(k_X^+(x,x')-1)\,dP_{\mathcal X}(x)\,dP_{\mathcal X}(x')`,
    which is 0 for every context. Lemma 17 says ``trace <= eps``.
    """

    trace: float
    chi2: float
    eps: float
    pair_integral: float


def lemma17_terms(context: Context) -> Lemma17Terms:
    r"""Lemma 17: :math:`|k_X^+-1|<\epsilon` everywhere implies :math:`\sum_{i>0}s_i^2<\epsilon`.

    Computes the dual-kernel Gram matrix on the N points of :math:`\mathcal X` (dense; keep N in
    the low thousands) and returns :class:`Lemma17Terms`. The proof is a trace argument:
    :math:`k_X^+-1=\sum_{i>0}s_i^2\mu_i\otimes\mu_i`, so
    :math:`\sum_{i>0}s_i^2=\int(k_X^+(x,x)-1)\,dP\le\sup|k_X^+-1|`. The integral over
    *independent pairs* :math:`(x,x')` is not the trace: since
    :math:`\int k_X^+(x,x')\,dP(x')=1` it vanishes identically (``pair_integral``), which is why
    the chapter reads the trace as the diagonal integral. Chapter ``ch07_association_tau``.
    """
    ctx = check_context(context)
    K = dense(ctx.kernel_x())
    px = ctx.px
    return Lemma17Terms(
        trace=float(px @ np.diag(K) - 1.0),
        chi2=float(ctx.chi_square()),
        eps=float(np.abs(K - 1.0).max()),
        pair_integral=float(px @ K @ px - 1.0),
    )


# --------------------------------------------------------------------------------------------
# Lemma 25 (App. F.3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lemma25Terms:
    r"""Both sides of Lemma 25 on a sample.

    ``L_k``: Lipschitz estimate of :math:`k_X^+` (App. F.1 estimator); ``c``:
    :math:`\max_{i\ge1,x}|\mu_i(x)|`; ``L_mu``: :math:`\max_{i\ge1}` Lipschitz estimate of
    :math:`\mu_i`; ``sum_s2``: :math:`\sum_{i\ge1}s_i^2`; ``bound`` :math:`=c\,L_\mu\sum s_i^2`.
    Lemma 25 says ``L_k <= bound``.
    """

    L_k: float
    c: float
    L_mu: float
    sum_s2: float
    bound: float


def lemma25_terms(
    system: SingularSystem,
    K: Any,
    X: Any,
    *,
    n_sub: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Lemma25Terms:
    r"""Lemma 25: :math:`L_{k_X^+}\le c\,L_\mu\sum_{i\ge1}s_i^2` with :math:`|\mu_i|\le c`.

    ``system`` must be the **complete** singular system of a sample context on the rows of
    ``X`` (``system.d == min(N, M) - 1``), so that
    :math:`k_X^+(x,x')=\sum_{i\ge0}s_i^2\mu_i(x)\mu_i(x')` holds exactly at the sample points;
    ``K`` is the dual-kernel Gram matrix there. The sample version of the lemma then holds by
    the same one-line proof: :math:`|k(x_3,x_1)-k(x_3,x_2)|=|\sum_{i\ge1}s_i^2\mu_i(x_3)
    (\mu_i(x_1)-\mu_i(x_2))|\le c\,L_\mu\|x_1-x_2\|\sum_{i\ge1}s_i^2`. ``L_k`` uses
    :func:`contexture.metrics.lipschitz_estimate` (a subsample of ``n_sub`` points, all points
    when ``n <= n_sub``), ``L_mu`` all sample pairs. The hypothesis is read as
    :math:`|\mu_i|\le c` (the paper prints :math:`\mu_i(x)\le c`; the sign of each
    :math:`\mu_i` is arbitrary). Chapter ``ch07_association_tau``.
    """
    sv = check_system(system)
    Kd = dense(K)
    x = check_matrix("X", np.asarray(X, dtype=np.float64).reshape(len(X), -1), ndim=2)
    n_x, n_a = sv.mu.shape[0], sv.nu.shape[0]
    if Kd.shape != (n_x, n_x) or x.shape[0] != n_x:
        raise ValueError(f"K must be {n_x} x {n_x} and X must have {n_x} rows (one per point of "
                         f"the system), got K {Kd.shape} and X {x.shape}")
    if sv.d != min(n_x, n_a) - 1:
        raise ValueError(f"system must be complete (d = min(N, M) - 1 = {min(n_x, n_a) - 1}) for "
                         f"the sample version of Lemma 25 to hold exactly, got d = {sv.d}")
    mu = sv.mu[:, 1:]
    s = sv.s[1:]
    c = float(np.abs(mu).max())
    L_mu = function_lipschitz_estimate(mu, x)
    L_k = lipschitz_estimate(Kd, x, n_sub=n_sub, seed=seed)
    return Lemma25Terms(L_k=L_k, c=c, L_mu=L_mu, sum_s2=float(np.sum(s**2)),
                        bound=lemma25_bound(c, L_mu, s))


# --------------------------------------------------------------------------------------------
# App. F.1 association measures of one sample context
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssociationProfile:
    r"""App. F.1 measures and :math:`\tau` of one context.

    ``sum_s2`` (:math:`\sum_{i\ge1}s_i^2` over the computed pairs), ``decay_rate`` (fit over the
    top ``d_fit`` squared values), ``kernel_deviation``, ``lipschitz`` (of :math:`k_X^+`) and
    ``lipschitz_scaled`` (times the feature dimension, as in the paper's Figs 10-11), ``tau``
    and its minimiser ``d_star``.
    """

    sum_s2: float
    decay_rate: float
    kernel_deviation: float
    lipschitz: float
    lipschitz_scaled: float
    tau: float
    d_star: int


def association_profile(
    context: Context,
    system: SingularSystem,
    X: Any,
    *,
    d_fit: int,
    d0: int,
    beta: float = 1.0,
    n_sub: int = 1000,
    seed: int | np.random.Generator = 0,
) -> AssociationProfile:
    r"""Decay rate, kernel deviation, Lipschitz constant (App. F.1) and :math:`\tau` (Eq. (4)).

    ``system`` is the singular system of ``context`` with at least ``max(d_fit, d0 + 1)``
    nontrivial pairs; ``X`` (``N x p``) holds the sample points (rows of the context). The decay
    rate fits :math:`s_i^2=e^{-\lambda i}` over ``i = 1..d_fit``; :math:`\tau` uses ``d0`` and
    ``beta`` (:func:`contexture.metrics.tau`). Chapter ``ch07_association_tau`` (Sec. 5.1 and the
    paper's Figs 2, 8-11 in miniature).
    """
    ctx = check_context(context)
    sv = check_system(system)
    d_fit = check_int("d_fit", d_fit, lo=1, hi=sv.d)
    d0 = check_int("d0", d0, lo=1, hi=sv.d)
    x = check_matrix("X", np.asarray(X, dtype=np.float64).reshape(len(X), -1), ndim=2)
    if x.shape[0] != ctx.shape[0]:
        raise ValueError(f"X must have one row per point of the context ({ctx.shape[0]}), "
                         f"got {x.shape[0]}")
    s = sv.s[1:]
    K = ctx.kernel_x()
    L = lipschitz_estimate(K, x, n_sub=n_sub, seed=seed)
    t, d_star, _ = tau(s, beta=beta, d0=d0)
    return AssociationProfile(
        sum_s2=float(np.sum(s**2)),
        decay_rate=decay_rate(s[:d_fit] ** 2),
        kernel_deviation=kernel_deviation(K),
        lipschitz=L,
        lipschitz_scaled=L * x.shape[1],
        tau=t,
        d_star=d_star,
    )


# --------------------------------------------------------------------------------------------
# tau on structured spectra (Eq. (4))
# --------------------------------------------------------------------------------------------


def block_ends(s: Any, *, atol: float = 1e-12) -> np.ndarray:
    r"""Indices :math:`d\ge1` with :math:`s_d>s_{d+1}+` ``atol``: the last index of each block of
    (numerically) equal nontrivial singular values, plus ``len(s)``.

    Fact used for Eq. (4) (derived in chapter ``ch07_association_tau``): inside a block,
    :math:`s_{d+1}=s_{d+2}` makes :math:`\tau_{d+1}-\tau_d=\beta s_{d+1}^2/\sum_{i\le d_0}s_i^2>0`,
    so :math:`d^*=\arg\min_d\tau_d` is 1 or a block end. ``s[0]`` is :math:`s_1`.
    """
    s_arr = check_spectrum("s", s)
    atol = check_float("atol", atol, lo=0.0)
    drops = np.flatnonzero(s_arr[:-1] > s_arr[1:] + atol) + 1  # d with s_d > s_{d+1}
    return np.unique(np.append(drops, s_arr.size)).astype(int)


def spike_tail_spectrum(a: float, b: float, d0: int) -> np.ndarray:
    r"""Singular values of a spike plus a flat tail: :math:`s_1^2=a`, :math:`s_i^2=b` for
    :math:`2\le i\le d_0+1` (``d0 + 1`` values, enough for :math:`\tau_{d_0}`), ``1 > a >= b >= 0``.

    A flat, small tail drives :math:`\tau` towards 1 (see
    :func:`tau_spike_tail`). Chapter ``ch07_association_tau``.
    """
    d0 = check_int("d0", d0, lo=2)
    a = check_float("a", a, lo=0.0, hi=1.0, hi_open=True)
    b = check_float("b", b, lo=0.0, hi=a)
    if a <= 0.0:
        raise ValueError("a must be positive (tau is undefined for an independent context)")
    s2 = np.full(d0 + 1, b)
    s2[0] = a
    return np.sqrt(s2)


def tau_spike_tail(a: float, b: float, d0: int, beta: float = 1.0) -> float:
    r"""Closed form of :math:`\tau` (Eq. (4)) for :func:`spike_tail_spectrum`.

    :math:`\tau_d=\frac1{1-b}+\beta\frac{a+(d-1)b}{a+(d_0-1)b}` is increasing in :math:`d`, so
    :math:`\tau=\tau_1=\frac1{1-b}+\beta\frac{a}{a+(d_0-1)b}`. With :math:`b=c/\sqrt{d_0}` both
    terms tend to their floors as :math:`d_0\to\infty` and :math:`\tau\to1`. Chapter
    ``ch07_association_tau``.
    """
    spike_tail_spectrum(a, b, d0)  # validates
    beta = check_float("beta", beta, lo=0.0, lo_open=True)
    return float(1.0 / (1.0 - b) + beta * a / (a + (d0 - 1) * b))


def tau_exponential_minimum(
    beta: float = 1.0, d0: int = 512, lam_range: tuple[float, float] = (1e-4, 1e2),
    n_grid: int = 401,
) -> tuple[float, float, int]:
    r"""Smallest :math:`\tau` over pure exponential spectra :math:`s_i^2=e^{-\lambda i}`.

    Minimises :func:`contexture.metrics.tau_exponential` over :math:`\lambda` in ``lam_range``
    (log grid of ``n_grid`` points, then a bounded scalar search around the best grid point) and
    returns ``(tau_min, lam_min, d_star)``. It quantifies "exponential spectra sit near
    :math:`\beta+1`": no exponential spectrum scores below ``tau_min``. Chapter
    ``ch07_association_tau``.
    """
    beta = check_float("beta", beta, lo=0.0, lo_open=True)
    d0 = check_int("d0", d0, lo=1)
    lo = check_float("lam_range[0]", lam_range[0], lo=0.0, lo_open=True)
    hi = check_float("lam_range[1]", lam_range[1], lo=lo, lo_open=True)
    n_grid = check_int("n_grid", n_grid, lo=3)
    grid = np.linspace(np.log(lo), np.log(hi), n_grid)

    def f(log_lam: float) -> float:
        return tau_exponential(float(np.exp(log_lam)), beta=beta, d0=d0)[0]

    vals = np.array([f(g) for g in grid])
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-10})
    best = float(res.x) if res.fun <= vals[i] else float(grid[i])
    lam = float(np.exp(best))
    t, d_star, _ = tau_exponential(lam, beta=beta, d0=d0)
    return t, lam, d_star


# --------------------------------------------------------------------------------------------
# actual error of the exact encoder (ridge probe on the top-d singular functions)
# --------------------------------------------------------------------------------------------


def _check_grid(d_grid: Sequence[int], hi: int) -> np.ndarray:
    g = np.asarray(d_grid)
    if g.ndim != 1 or g.size == 0 or not np.issubdtype(g.dtype, np.integer):
        raise ValueError(f"d_grid must be a non-empty 1-D sequence of integers, got {d_grid!r}")
    if g.min() < 1 or g.max() > hi:
        raise ValueError(f"d_grid values must lie in [1, {hi}], got [{g.min()}, {g.max()}]")
    return g.astype(int)


def ridge_probe_errors(
    F: Any, y: Any, U: Any, d_grid: Sequence[int], *, ridge: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    r"""Population error of a ridge probe on the exact top-:math:`d` singular functions.

    ``F`` (``n x (D+1)``) holds :math:`\mu_0\equiv1,\mu_1,\dots,\mu_D` at ``n`` training inputs,
    ``y`` (``n`` or ``n x T``) the labels of ``T`` tasks, ``U`` (``T x (K+1)``, ``K >= D``) the
    tasks' coordinates :math:`f^*_t=\sum_{k\le K}U_{tk}\mu_k`. For each ``d`` in ``d_grid`` the
    probe :math:`\hat f=\hat w_0+\sum_{k\le d}\hat w_k\mu_k` solves
    :math:`\min_w\|F_dw-y\|^2+\mathrm{ridge}\cdot n\sum_{k=1}^d w_k^2` (bias unpenalised;
    one Cholesky factor serves all nested ``d``, with a minimum-norm least-squares fallback for a
    singular design) and,
    because the :math:`\mu_k` are orthonormal in :math:`L^2(P_{\mathcal X})`, its error
    :math:`\|\hat f-f^*\|^2_{P_{\mathcal X}}` is exactly
    :math:`\sum_{k\le d}(\hat w_k-U_{tk})^2+\sum_{k>d}U_{tk}^2` (Parseval). Returns
    ``(err, approx)``, each ``T x len(d_grid)``; ``approx`` is the second sum (the
    approximation error of the encoder, Definition 15 without normalisation) and
    ``err - approx`` the estimation error. Chapter ``ch07_association_tau``.
    """
    Fm = check_matrix("F", F, ndim=2)
    n, D1 = Fm.shape
    Y = check_table("y", y)
    Um = np.asarray(U, dtype=np.float64)
    Um = check_matrix("U", Um[None, :] if Um.ndim == 1 else Um, ndim=2)
    if Y.shape[0] != n:
        raise ValueError(f"y must have one row per row of F ({n}), got {Y.shape[0]}")
    if Um.shape[0] != Y.shape[1]:
        raise ValueError(f"U must have one row per task (column of y, {Y.shape[1]}), got "
                         f"{Um.shape[0]}")
    if Um.shape[1] < D1:
        raise ValueError(f"U must have at least {D1} columns (one per column of F), got "
                         f"{Um.shape[1]}")
    grid = _check_grid(d_grid, D1 - 1)
    ridge = check_float("ridge", ridge, lo=0.0)
    G = Fm.T @ Fm
    B = Fm.T @ Y
    D = int(grid.max())
    reg = np.full(D + 1, ridge * n)
    reg[0] = 0.0  # the probe's bias is not penalised
    A = G[: D + 1, : D + 1] + np.diag(reg)
    try:  # nested problems: the Cholesky factor of A serves every leading block
        L = sla.cholesky(A, lower=True)
        if not np.all(np.isfinite(L)) or np.diag(L).min() <= 1e-10 * np.diag(L).max():
            L = None
    except np.linalg.LinAlgError:
        L = None
    tail = np.cumsum((Um**2)[:, ::-1], axis=1)[:, ::-1]  # tail[:, k] = sum_{j >= k} U_j^2
    tail = np.concatenate([tail, np.zeros((Um.shape[0], 1))], axis=1)
    err = np.empty((Um.shape[0], grid.size))
    approx = np.empty_like(err)
    for j, d in enumerate(grid):
        if L is not None:
            W = sla.cho_solve((L[: d + 1, : d + 1], True), B[: d + 1])
        else:  # singular design without ridge: minimum-norm least squares
            W = np.linalg.lstsq(A[: d + 1, : d + 1], B[: d + 1], rcond=None)[0]
        approx[:, j] = tail[:, d + 1]
        err[:, j] = ((W.T - Um[:, : d + 1]) ** 2).sum(axis=1) + approx[:, j]
    return err, approx


@dataclass(frozen=True)
class ProbeCurves:
    r"""Monte-Carlo error curves of :func:`probe_error_curves`: ``d`` (the grid), ``err`` and
    ``err_se`` (mean and standard error over repetitions, ``T x len(d)``), ``approx`` (exact
    approximation error) and ``estimation`` (``err - approx``)."""

    d: np.ndarray
    err: np.ndarray
    err_se: np.ndarray
    approx: np.ndarray
    estimation: np.ndarray


def probe_error_curves(
    features: Callable[[np.random.Generator, int], np.ndarray],
    U: Any,
    *,
    n: int,
    sigma: float,
    d_grid: Sequence[int],
    ridge: float = 0.0,
    reps: int = 20,
    seed: int | np.random.Generator = 0,
) -> ProbeCurves:
    r"""Expected error of the ridge probe on the exact encoder, by Monte Carlo over training sets.

    ``features(rng, n)`` draws ``n`` inputs from :math:`P_{\mathcal X}` and returns the
    ``n x (K+1)`` matrix of :math:`\mu_0..\mu_K` there (:math:`K+1` = ``U.shape[1]``); labels are
    :math:`y=f^*(x)+\sigma\xi` with standard normal :math:`\xi` (known noise level, shared across
    tasks). Each repetition fits every ``d`` in ``d_grid`` with :func:`ridge_probe_errors`; the
    result averages ``reps`` repetitions. This is the "actual error" against which chapter
    ``ch07_association_tau`` compares :math:`\tau_d` (Eq. (4)); the task and the probe are
    assumptions of the chapter, not of the paper.
    """
    Um = np.asarray(U, dtype=np.float64)
    Um = check_matrix("U", Um[None, :] if Um.ndim == 1 else Um, ndim=2)
    n = check_int("n", n, lo=2)
    sigma = check_float("sigma", sigma, lo=0.0)
    reps = check_int("reps", reps, lo=1)
    grid = _check_grid(d_grid, Um.shape[1] - 1)
    rng = as_rng(seed)
    D = int(grid.max())
    errs = np.empty((reps, Um.shape[0], grid.size))
    approx = np.zeros((Um.shape[0], grid.size))
    for r in range(reps):
        F = np.asarray(features(rng, n), dtype=np.float64)
        if F.shape != (n, Um.shape[1]):
            raise ValueError(f"features(rng, n) must return an array of shape {(n, Um.shape[1])}"
                             f", got {F.shape}")
        Y = F @ Um.T + sigma * rng.standard_normal((n, 1))
        errs[r], approx = ridge_probe_errors(F[:, : D + 1], Y, Um, grid, ridge=ridge)
    mean = errs.mean(axis=0)
    se = errs.std(axis=0, ddof=1) / np.sqrt(reps) if reps > 1 else np.zeros_like(mean)
    return ProbeCurves(d=grid, err=mean, err_se=se, approx=approx, estimation=mean - approx)


def gaussian_conditional_hermite(rho: float, k_max: int, x: Any, n_nodes: int = 80) -> np.ndarray:
    r""":math:`\mathbb E[h_k(A)\mid x]` for the Gaussian-noise context
    :math:`A=\rho x+\sqrt{1-\rho^2}Z`, by Gauss-Hermite quadrature with
    ``n_nodes`` nodes (exact for degree :math:`<2\,n_\mathrm{nodes}`). Returns
    ``len(x) x (k_max+1)``; the closed form is :math:`\rho^kh_k(x)`. Chapter
    ``ch07_association_tau``."""
    rho = check_float("rho", rho, lo=-1.0, hi=1.0)
    n_nodes = check_int("n_nodes", n_nodes, lo=1)
    xv = check_matrix("x", np.atleast_1d(np.asarray(x, dtype=np.float64)), ndim=1)
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    a = rho * xv[:, None] + np.sqrt(1.0 - rho**2) * z[None, :]
    H = hermite_functions(a.ravel(), k_max).reshape(xv.size, n_nodes, k_max + 1)
    return np.einsum("inj,n->ij", H, w)


def mehler_kernel(x: Any, x2: Any, rho: float) -> np.ndarray:
    r"""Dual kernel of the Gaussian-noise context (Mehler's formula with
    :math:`t=\rho^2`, i.e. :func:`contexture.contexts.analytic.mehler_density_ratio` at
    :math:`\rho^2`): :math:`k_X^+(x,x')=(1-t^2)^{-1/2}\exp\big(\frac{2txx'-t^2(x^2+x'^2)}
    {2(1-t^2)}\big)=\sum_k\rho^{2k}h_k(x)h_k(x')`. Returns the ``len(x) x len(x2)`` Gram.
    Unbounded on the diagonal, so Lemma 17's hypothesis fails for every :math:`\rho\ne0`.
    Chapter ``ch07_association_tau``."""
    rho = check_float("rho", rho, lo=-1.0, hi=1.0, lo_open=True, hi_open=True)
    return mehler_density_ratio(np.atleast_1d(np.asarray(x, dtype=np.float64)),
                                np.atleast_1d(np.asarray(x2, dtype=np.float64)), rho**2)
