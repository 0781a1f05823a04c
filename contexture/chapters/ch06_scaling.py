r"""Scaling and diminishing returns (Sec. 4.2): the best encoder inside a growing function class.

Sec. 4.2 of the paper argues that as a model grows, its function class approaches
:math:`L^2(P_{\mathcal X})`, so the span it learns approaches the top-:math:`d` singular functions;
once it is aligned, more capacity cannot lower the worst-case error of Theorem 16 any further, and
only a better *context* can. This module makes the argument exact (chapter ``ch06_scaling``):

* the Gaussian-noise context :math:`A=\rho X+\sqrt{1-\rho^2}Z`, :math:`X\sim N(0,1)`
  (:math:`s_k=|\rho|^k`, :math:`\mu_k=He_k/\sqrt{k!}` by Mehler's formula), in closed form
  through Hermite coordinates (:func:`contexture.contexts.analytic.hermite_functions`,
  :func:`fourier_feature_coordinates`, :func:`step_coordinates`) and, for training on the
  population loss, as a finite context on Gauss--Hermite nodes with exact marginals
  (:func:`contexture.contexts.analytic.gaussian_noise_context` with ``marginals="exact"``);
* nested function classes: :func:`polynomial_features`, :func:`random_fourier_features`;
* :func:`class_optimum` -- the best :math:`d`-dimensional encoder inside a linear class for the
  contexture objective (the ratio trace of Definition 21; Rayleigh--Ritz), and
  :func:`scaling_curve`, which evaluates it along nested classes with the alignment of Sec. 4.2 /
  Fig. 1 and the exact worst-case error of Definition 15 / Theorem 16.

Coordinates follow :mod:`contexture.metrics.optimality`: a centred function is the vector of its
coefficients on the nontrivial singular functions :math:`\mu_1..\mu_K`, so
:math:`L^2(P_{\mathcal X})` inner products are Euclidean and ``s`` excludes :math:`s_0=1`. The
task space must be complete: use a complete finite singular system (:func:`mu_coordinates`), or a
truncation plus a slack direction with :math:`s=0` that carries the remainder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import ndtri

from contexture.base.checks import as_rng, check_float, check_int, check_matrix, check_table
from contexture.base.validate import check_rtol, check_spectrum
from contexture.contexts.analytic import hermite_functions
from contexture.metrics import (
    approximation_error,
    span_alignment,
    thm16_eps_range,
    worst_case_error_exact,
)
from contexture.spectra import SingularSystem, check_system

__all__ = [
    "ClassOptimum",
    "FourierFeatures",
    "ScalingCurve",
    "class_contrastive_minimum",
    "class_optimum",
    "fourier_feature_coordinates",
    "mu_coordinates",
    "polynomial_features",
    "random_fourier_features",
    "scaling_curve",
    "step_coordinates",
    "thm16_eps",
]

def _check_x(x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return check_matrix("x", arr, ndim=1)


# --------------------------------------------------------------------------------------------
# nested function classes
# --------------------------------------------------------------------------------------------

def _log_factorial_sqrt(n: int) -> np.ndarray:
    return 0.5 * np.cumsum(np.r_[0.0, np.log(np.arange(1, n))])


def polynomial_features(x: Any, degree: int) -> np.ndarray:
    r"""Nonconstant features spanning the polynomials of degree :math:`\le` ``degree``.

    Columns are :math:`\mu_1..\mu_p` of :func:`contexture.contexts.analytic.hermite_functions`
    (``p = degree``): the same span
    as the monomials :math:`x,\dots,x^p` plus constants, much better conditioned. The classes
    are nested in ``degree``. Chapter ``ch06_scaling`` (Sec. 4.2).
    """
    degree = check_int("degree", degree, lo=1)
    return hermite_functions(_check_x(x), degree)[:, 1:]



@dataclass(frozen=True)
class FourierFeatures:
    r"""Random Fourier features :math:`\cos(\omega_jx+b_j)` (:func:`random_fourier_features`).

    ``frequencies`` and ``phases`` have length ``m``; :meth:`__call__` evaluates the first
    ``m'`` features (default all) at points ``x``.
    """

    frequencies: np.ndarray
    phases: np.ndarray

    def __call__(self, x: Any, m: int | None = None) -> np.ndarray:
        xs = _check_x(x)
        k = self.frequencies.size if m is None else check_int("m", m, lo=1,
                                                                hi=self.frequencies.size)
        return np.cos(np.outer(xs, self.frequencies[:k]) + self.phases[:k])


def random_fourier_features(
    m: int, *, seed: int | np.random.Generator = 0, frequency_scale: float = 1.0
) -> FourierFeatures:
    r"""Draw ``m`` random Fourier features: :math:`\omega_j\sim N(0,\sigma^2)`,
    :math:`b_j\sim U[0,2\pi)`, in order from one generator (so prefixes give nested classes).

    The classical random-features model of an RBF kernel; its :math:`L^2(N(0,1))` coordinates on
    the Hermite functions are known in closed form (:func:`fourier_feature_coordinates`), which
    makes the class optimum for the Gaussian context exact. Chapter ``ch06_scaling`` (Sec. 4.2).
    """
    m = check_int("m", m, lo=1)
    frequency_scale = check_float("frequency_scale", frequency_scale, lo=0.0, lo_open=True)
    draws = as_rng(seed).random((m, 2))
    freqs = frequency_scale * ndtri(np.clip(draws[:, 0], 1e-300, 1.0 - 1e-16))
    return FourierFeatures(frequencies=freqs, phases=2.0 * np.pi * draws[:, 1])


def fourier_feature_coordinates(
    features: FourierFeatures, n_modes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Exact Hermite coordinates of :math:`\cos(\omega x+b)` in :math:`L^2(N(0,1))`.

    From :math:`\mathbb E[e^{i\omega X}He_k(X)]=(i\omega)^ke^{-\omega^2/2}` (derived in the
    chapter):
    :math:`\langle\cos(\omega\cdot+b),\mu_k\rangle=\omega^ke^{-\omega^2/2}\cos(b+k\pi/2)/
    \sqrt{k!}`. Returns ``(coords, means, tails)``: ``coords`` (``n_modes x m``) for
    :math:`k=1..` ``n_modes`` (the centred feature in :math:`\mu`-coordinates), ``means`` the
    :math:`k=0` term :math:`e^{-\omega^2/2}\cos b`, and ``tails`` the squared norm beyond mode
    ``n_modes``, :math:`\|f\|^2-\sum_{k\le K}u_k^2` with
    :math:`\|f\|^2=\tfrac12+\tfrac12e^{-2\omega^2}\cos2b` (check that it is negligible).
    Chapter ``ch06_scaling``.
    """
    if not isinstance(features, FourierFeatures):
        raise TypeError(f"features must be FourierFeatures, got {type(features).__name__}")
    n_modes = check_int("n_modes", n_modes, lo=1)
    w, b = features.frequencies, features.phases
    k = np.arange(n_modes + 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        logmag = k * np.log(np.abs(w))[None, :] - 0.5 * w[None, :] ** 2 \
            - _log_factorial_sqrt(n_modes + 1)[:, None]
    mag = np.where(k == 0, np.exp(-0.5 * w[None, :] ** 2), np.exp(logmag))
    sign = np.where((w[None, :] < 0) & (k % 2 == 1), -1.0, 1.0)
    u = sign * mag * np.cos(b[None, :] + k * np.pi / 2.0)
    norm2 = 0.5 + 0.5 * np.exp(-2.0 * w**2) * np.cos(2.0 * b)
    tails = np.clip(norm2 - np.sum(u**2, axis=0), 0.0, None)
    return u[1:], u[0], tails


def step_coordinates(n_modes: int) -> tuple[np.ndarray, float]:
    r"""Hermite coordinates of the task :math:`f^*(x)=\mathbb 1[x>0]` in :math:`L^2(N(0,1))`.

    :math:`\langle f^*,\mu_k\rangle=\varphi(0)He_{k-1}(0)/\sqrt{k!}` for :math:`k\ge1`
    (integrate :math:`He_k\varphi=-(He_{k-1}\varphi)'` over :math:`x>0`), with
    :math:`He_{2j}(0)=(-1)^j(2j-1)!!` and :math:`He_{2j+1}(0)=0`. Returns ``(u, tail)``: ``u``
    for :math:`k=1..` ``n_modes`` and ``tail`` the squared norm of the centred task beyond mode
    ``n_modes`` (:math:`\|\tilde f^*\|^2=1/4`; the coefficients decay slowly, so the tail is
    *not* negligible and must be kept as a coordinate on a slack direction with :math:`s=0`).
    Chapter ``ch06_scaling`` (context scaling).
    """
    n_modes = check_int("n_modes", n_modes, lo=1)
    # c_k = He_{k-1}(0) / sqrt(k!) for k = 1..n_modes. From He_{n+1}(0) = -n He_{n-1}(0):
    # c_k = -(k - 2) c_{k-2} / sqrt(k (k - 1)), with c_1 = 1 and c_k = 0 for even k.
    he0 = np.zeros(n_modes)
    he0[0] = 1.0
    for k in range(3, n_modes + 1, 2):
        he0[k - 1] = -(k - 2) * he0[k - 3] / np.sqrt(k * (k - 1.0))
    u = he0 / np.sqrt(2.0 * np.pi)
    return u, float(max(0.25 - float(u @ u), 0.0))


# --------------------------------------------------------------------------------------------
# the best encoder inside a class
# --------------------------------------------------------------------------------------------

def _check_system(system: Any) -> SingularSystem:
    check_system(system)
    n, k = system.mu.shape
    if k != n:
        raise ValueError(f"system must be a complete singular system (mu of shape N x N, i.e. "
                         f"context.svd(N - 1)), got mu of shape {system.mu.shape}")
    return system


def mu_coordinates(values: Any, system: SingularSystem) -> np.ndarray:
    r"""Coordinates :math:`\langle\tilde f,\mu_i\rangle_{P_{\mathcal X}}`, ``i = 1..N-1``.

    ``values`` (``N`` or ``N x m``) are functions on the ``N`` points of :math:`\mathcal X`; they
    are centred under :math:`P_{\mathcal X}` and expanded on the nontrivial singular functions
    of a complete ``system`` (``context.svd(N - 1)``). Returns ``(N - 1) x m``: the coordinate
    convention of :mod:`contexture.metrics.optimality`. Chapter ``ch06_scaling``.
    """
    sys_ = _check_system(system)
    arr = check_table("values", values, rows=sys_.mu.shape[0], what="point of X")
    px = sys_.px
    centred = arr - px @ arr
    return sys_.mu[:, 1:].T @ (px[:, None] * centred)


def _nested_basis(U: np.ndarray, rtol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gram-Schmidt (twice, for stability) in column order: ``U[:, keep] = Q R``.

    Column ``j`` is kept if its component orthogonal to the kept columns before it exceeds
    ``rtol`` times its norm. The basis of a prefix of the columns is a prefix of the basis, so
    nested feature lists give exactly nested classes (Cauchy interlacing holds in floating point).
    """
    K, m = U.shape
    Q = np.zeros((K, min(K, m)))
    R = np.zeros((min(K, m), min(K, m)))
    keep: list[int] = []
    for j in range(m):
        r = len(keep)
        if r == Q.shape[1]:
            break
        v = U[:, j].copy()
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            continue
        c1 = Q[:, :r].T @ v
        v -= Q[:, :r] @ c1
        c2 = Q[:, :r].T @ v
        v -= Q[:, :r] @ c2
        rest = float(np.linalg.norm(v))
        if rest <= rtol * norm:
            continue
        Q[:, r] = v / rest
        R[:r, r] = c1 + c2
        R[r, r] = rest
        keep.append(j)
    r = len(keep)
    return Q[:, :r], R[:r, :r], np.asarray(keep, dtype=np.intp)


@dataclass(frozen=True)
class ClassOptimum:
    r"""Result of :func:`class_optimum`.

    ``coords`` (``K x k``, orthonormal columns): the optimal encoder in :math:`\mu`-coordinates;
    ``coefficients`` (``m x k``): the same encoder as combinations of the *centred* features,
    ``encoder = (F - E F) @ coefficients`` (use it to evaluate the encoder at new points);
    ``ritz``: the ``k`` top Ritz values (estimates of :math:`s_1^2..s_k^2` from inside the class);
    ``ratio_trace``: their sum; ``rank``: dimension of the centred class; ``k = min(d, rank)``.
    """

    coords: np.ndarray
    coefficients: np.ndarray
    ritz: np.ndarray
    ratio_trace: float
    rank: int


def _check_s_coords(coords: Any, s: Any) -> tuple[np.ndarray, np.ndarray]:
    s_arr = check_spectrum("s", s)
    c = check_table("coords", coords)
    if c.shape[0] != s_arr.size:
        raise ValueError(f"coords must have len(s) = {s_arr.size} rows (coordinates on "
                         f"mu_1..mu_K), got shape {c.shape}")
    return c, s_arr


def class_optimum(coords: Any, s: Any, d: int, *, rtol: float = 1e-10) -> ClassOptimum:
    r"""Best :math:`d`-dimensional encoder inside the class :math:`\mathrm{span}\{1,h_1..h_m\}`.

    ``coords`` (``K x m``) are the centred features :math:`\tilde h_j` in
    :math:`\mu`-coordinates (:func:`mu_coordinates` on a finite context, or closed forms such as
    :func:`fourier_feature_coordinates`), and ``s`` the ``K`` nontrivial singular values. The
    contexture objective restricted to the class -- maximise the ratio trace
    :math:`\mathrm{Tr}(C_\Phi^{-1}B_\Phi)` of Definition 21 over encoders whose components lie in
    it (Sec. 4.2's "function class") -- is the Rayleigh--Ritz problem for
    :math:`T_{k_X^+}=\mathrm{diag}(s_i^2)` on the class. With :math:`Q` an orthonormal basis of the
    centred class (Gram--Schmidt in feature order; a feature is kept if its new component exceeds
    ``rtol`` times its norm, so nested feature lists give exactly nested classes), the optimum is
    spanned by the top ``min(d, rank)`` eigenvectors of :math:`Q^\top\mathrm{diag}(s^2)Q`
    (Ky Fan). Its value, the sum of the top Ritz values, is nondecreasing along nested classes
    (Cauchy interlacing) and at most :math:`s_1^2+\dots+s_d^2` (Lemma 22), with equality iff the
    class contains :math:`\mathrm{span}\{\mu_1..\mu_d\}` when :math:`s_d>s_{d+1}`. On a symmetric
    context the same span minimises :math:`\mathcal L_C` within the class
    (:func:`class_contrastive_minimum`). Chapter ``ch06_scaling``.
    """
    U, s_arr = _check_s_coords(coords, s)
    d = check_int("d", d, lo=1, hi=s_arr.size)
    rtol = check_rtol(rtol)
    Q, R, keep = _nested_basis(U, rtol)
    if not keep.size:
        raise ValueError("coords span no direction: every feature is constant (zero coordinates)")
    r = keep.size
    s2 = s_arr**2
    H = Q.T @ (s2[:, None] * Q)
    lam, V = np.linalg.eigh(0.5 * (H + H.T))
    k = min(d, r)
    lam, V = lam[::-1][:k], V[:, ::-1][:, :k]
    coefficients = np.zeros((U.shape[1], k))
    coefficients[keep] = solve_triangular(R, V)
    return ClassOptimum(coords=Q @ V, coefficients=coefficients, ritz=lam.copy(),
                        ratio_trace=float(lam.sum()), rank=r)


def class_contrastive_minimum(ritz: Any) -> float:
    r"""Minimum of the spectral contrastive loss :math:`\mathcal L_C` over a linear class.

    Derived in the chapter (not in the paper): on a symmetric context, writing
    :math:`\Psi=\tilde FA` gives :math:`\mathcal L_C=-\mathrm{Tr}(A^\top BA)+\tfrac12
    \|A^\top CA\|_F^2`; with :math:`G=C^{1/2}A` and Eckart--Young (as in Theorem 10's proof) the
    minimum is :math:`-\tfrac12\sum_{i\le d}\lambda_i^2` over the top-:math:`d` Ritz values
    ``ritz`` (:attr:`ClassOptimum.ritz`), attained on the span of :func:`class_optimum`. With
    the whole space as the class this is the unrestricted minimum
    :math:`-\tfrac12\sum_{i\le d}s_i^4` (proof of Theorem 10).
    Chapter ``ch06_scaling``.
    """
    lam = check_matrix("ritz", ritz, ndim=1)
    if np.any(lam < -1e-12):
        raise ValueError(f"ritz must be nonnegative (eigenvalues of a PSD operator), got "
                         f"{float(lam.min())!r}")
    return float(-0.5 * np.sum(np.clip(lam, 0.0, None) ** 2))


def thm16_eps(s: Any, fraction: float) -> float:
    r""":math:`\epsilon=\epsilon_{lo}+\text{fraction}\,(\epsilon_{hi}-\epsilon_{lo})` inside
    Theorem 16's range :math:`[1-s_1,\,1-\sqrt{(s_1^2+s_2^2)/2}]`.

    ``s`` are the nontrivial singular values (``s[0]`` = :math:`s_1`). Lets one compare contexts
    whose ranges do not overlap at the same relative position. Chapter ``ch06_scaling``.
    """
    fraction = check_float("fraction", fraction, lo=0.0, hi=1.0)
    lo, hi = thm16_eps_range(s)
    return float(lo + fraction * (hi - lo))


@dataclass
class ScalingCurve:
    r"""Result of :func:`scaling_curve`: one entry per class size.

    ``sizes``: the number of features used; ``rank``: dimension of the centred class;
    ``alignment``: :func:`contexture.metrics.span_alignment` with :math:`\mu_1..\mu_d`;
    ``ratio_trace``: the class optimum's ratio trace;
    ``error``: its exact worst-case error over :math:`\mathcal F_\epsilon` (Definition 15, by
    :func:`contexture.metrics.worst_case_error_exact`); ``gap``: that calculator's duality gap;
    ``task_error``: probe error on the fixed task (``nan`` if none); ``optima``: the
    :class:`ClassOptimum` objects.
    """

    sizes: np.ndarray
    rank: np.ndarray
    alignment: np.ndarray
    ratio_trace: np.ndarray
    error: np.ndarray
    gap: np.ndarray
    task_error: np.ndarray
    optima: list[ClassOptimum] = field(repr=False)


def scaling_curve(
    coords: Any, sizes: Sequence[int], s: Any, d: int, eps: float, *,
    task: Any = None, rtol: float = 1e-10,
) -> ScalingCurve:
    r"""Evaluate the class optimum along the nested classes ``coords[:, :m]``, ``m in sizes``.

    ``coords`` (``K x M``) are centred features in :math:`\mu`-coordinates and ``s`` the ``K``
    nontrivial singular values; together they must describe the whole task space (a complete
    singular system, or a truncation plus slack directions with :math:`s=0` that carry the rest).
    For each size: :func:`class_optimum`, its alignment with :math:`\mu_1..\mu_d`
    (:func:`contexture.metrics.span_alignment`), its ratio trace, its exact worst-case error
    :math:`\mathrm{err}(\Phi;\mathcal F_\epsilon)` (Definition 15 / Theorem 16, by
    :func:`contexture.metrics.worst_case_error_exact`), and, if ``task`` (coordinates, length
    ``K``) is given, the linear-probe error :math:`\mathrm{err}(\Phi,f)` of Definition 15 on
    that normalised task. Sec. 4.2's claim is
    that ``alignment`` reaches 1 and ``error`` Theorem 16's optimum once the class contains the
    top-:math:`d` span, and that larger classes change neither. Chapter ``ch06_scaling``.
    """
    U, s_arr = _check_s_coords(coords, s)
    sz = [check_int("sizes[i]", m, lo=1, hi=U.shape[1]) for m in sizes]
    if not sz:
        raise ValueError("sizes must be non-empty")
    u_task = None
    if task is not None:
        u_task = check_matrix("task", task, ndim=1)
        if u_task.size != s_arr.size:
            raise ValueError(f"task must have len(s) = {s_arr.size} coordinates, "
                             f"got {u_task.size}")
        if not np.any(u_task):
            raise ValueError("task must not be constant (its coordinates are all zero)")
    rank, align, rt, err, gap, terr, opts = [], [], [], [], [], [], []
    for m in sz:
        opt = class_optimum(U[:, :m], s_arr, d, rtol=rtol)
        wc = worst_case_error_exact(opt.coords, s_arr, eps)
        rank.append(opt.rank)
        align.append(span_alignment(opt.coords, np.eye(opt.coords.shape[0], d)))
        rt.append(opt.ratio_trace)
        err.append(wc.error)
        gap.append(wc.gap)
        terr.append(np.nan if u_task is None else approximation_error(opt.coords, u_task))
        opts.append(opt)
    return ScalingCurve(sizes=np.asarray(sz), rank=np.asarray(rank), alignment=np.asarray(align),
                        ratio_trace=np.asarray(rt), error=np.asarray(err), gap=np.asarray(gap),
                        task_error=np.asarray(terr), optima=opts)
