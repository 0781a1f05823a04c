"""Calculators for self-supervised learning on finite contexts (Sec. 3.2, arXiv v2 numbering).

What the chapter ``ch03_self_supervised``
compares its trained encoders with:

* :func:`average_encoder` -- the average encoder ``Phi = T Psi`` of Sec. 3.2 and Corollary 9;
* :func:`right_basis` -- a *complete* ``L^2(P_A)``-orthonormal basis ``nu_0..nu_{M-1}`` with
  singular values padded by zeros (the null space of ``T``), the coordinates of the proof of
  Theorem 10 and of the converse of Corollary 9;
* :func:`theorem10_terms` -- the quantities of Theorem 10's proof: the coefficient matrix ``C``,
  ``B = C^T C``, ``D = diag(s_i^2)``, both forms of ``L_C`` (with and without the factor 1/2
  that the printed proof drops) and the non-contrastive identity;
* :func:`contrastive_optimum`, :func:`lora_optimum` -- closed-form minimisers (derived from
  Theorem 10's proof and the Eckart-Young theorem);
* :func:`invariance_excess`, :func:`vicreg_span_repair`, :func:`vicreg_aligned_variances` --
  why the VICReg surrogate of ``L_N`` either learns the contexture or collapses (derived here);
* :func:`non_contrastive_gap` -- like :func:`contexture.metrics.span_alignment` and unlike
  :func:`contexture.metrics.cca_alignment`, it penalises a collapsed (rank-deficient) encoder;
* :func:`dae_optimum` -- Eq. (2) / Theorem 11: the top eigenspace of ``T* Lambda T`` with the
  linear loss kernel on X;
* the Gaussian-noise context on Gauss-Hermite nodes, where Theorem 11's autoencoder
  recovers the degree-1 Hermite function, is
  :func:`contexture.contexts.analytic.gaussian_noise_context`;
* :class:`WeightedLookupEncoder` -- a lookup table in ``L^2(P)`` coordinates, so that AdamW
  also converges on context values of tiny probability (quadrature nodes);
* :class:`PairSampler` -- draws ``(X, A, A+)`` with ``A, A+ ~ P+(. | X)`` independent, for the
  batch losses of :mod:`contexture.learning.objectives`.

Conventions follow the library: functions on ``X`` are ``N``-row tables, functions on ``A``
``M``-row tables, inner products those of ``L^2(P_X)`` / ``L^2(P_A)``; singular systems are
:class:`contexture.spectra.SingularSystem` objects (``s[0] = 1`` is the trivial pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from contexture.base.checks import as_numpy, check_float, check_int, check_matrix, check_table
from contexture.base.linalg import dense, orthonormal_completion, weighted_eigh
from contexture.contexts.finite import Context, check_context
from contexture.learning.encoders import LookupEncoder
from contexture.learning.objectives import supervised_kernel
from contexture.spectra import SingularSystem, check_system

__all__ = [
    "DAEOptimum",
    "PairSampler",
    "Theorem10Terms",
    "WeightedLookupEncoder",
    "average_encoder",
    "contrastive_optimum",
    "dae_optimum",
    "invariance_excess",
    "lora_optimum",
    "non_contrastive_gap",
    "right_basis",
    "theorem10_terms",
    "vicreg_aligned_variances",
    "vicreg_span_repair",
]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------

def _encoder_on_a(ctx: Context, psi: Any) -> np.ndarray:
    """``psi`` as an ``M x d`` table on the context values, ``1 <= d <= min(N, M) - 1``."""
    table = check_table("psi", psi, rows=ctx.shape[1], what="context value a")
    r = min(ctx.shape)
    if table.shape[1] > r - 1:
        raise ValueError(f"psi must have at most min(N, M) - 1 = {r - 1} columns, "
                         f"got {table.shape[1]}")
    return table


# --------------------------------------------------------------------------------------------
# Corollary 9 and the complete right basis
# --------------------------------------------------------------------------------------------

def average_encoder(context: Context, psi: Any) -> np.ndarray:
    """The average encoder ``Phi = T_{P+} Psi``, ``Phi(x) = E[Psi(A) | x]`` (Sec. 3.2).

    ``psi`` is an ``M x d`` table on the context values; returns the ``N x d`` table on X.
    Corollary 9: if ``s_d > 0``, ``Phi`` spans the top-``d`` left singular functions when
    ``Psi`` spans the top-``d`` right ones (the converse holds modulo ``ker T``, see
    :func:`right_basis`). Centring commutes with ``T``: ``T Psi~ = (T Psi)~``. Chapter
    ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    n_x, n_a = ctx.shape
    table = check_table("psi", psi, rows=n_a, what="context value a")
    return np.asarray(ctx.conditional @ table)


def right_basis(context: Context) -> tuple[np.ndarray, np.ndarray]:
    """A complete ``L^2(P_A)``-orthonormal basis of right functions and their singular values.

    Returns ``(s, nu)``: ``s`` has length ``M`` (descending, ``s[0] = 1``, zero-padded beyond
    ``min(N, M)``), ``nu`` is ``M x M`` with ``nu.T @ diag(pa) @ nu = I``, ``nu[:, 0] = 1``.
    The first ``min(N, M)`` columns are the right singular functions of ``T`` (dense SVD,
    Lemma 3); the remaining ``M - N`` columns (if ``M > N``) span ``ker T``, so ``T nu_j = 0``
    there. These are the coordinates of the proof of Theorem 10
    (``psi~_i = sum_{j>=1} c_ij nu_j``) and of the converse of Corollary 9. Dense; meant for
    small finite contexts. Chapter ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    n_x, n_a = ctx.shape
    r = min(n_x, n_a)
    if r < 2:
        raise ValueError(f"context must have at least 2 points in X and in A, got {ctx.shape}")
    system = ctx.svd(r - 1, solver="dense")
    s = np.zeros(n_a)
    s[:r] = system.s
    return s, orthonormal_completion(np.asarray(system.nu), np.asarray(ctx.pa))


# --------------------------------------------------------------------------------------------
# Theorem 10
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Theorem10Terms:
    """The quantities of Theorem 10's proof (App. A.4) for one encoder ``Psi``.

    ``C`` (``d x (M-1)``): coefficients ``c_ij = <psi~_i, nu_j>_{P_A}``, ``j = 1..M-1``.
    ``B = C^T C`` and ``D = diag(s_1^2, ..., s_{M-1}^2)`` (``s2`` holds the diagonal).
    ``positive = E<Psi~(A), Psi~(A+)> = ||T Psi~||^2 = sum_j s_j^2 b_jj``;
    ``negative = E<Psi~(A), Psi~(A-)>^2 = ||B||_F^2``;
    ``second_moment = E||Psi~(A)||^2 = tr B``;
    ``lc = -positive + negative / 2`` (the loss ``L_C``);
    ``lc_identity = ||B - D||_F^2 / 2 - ||D||_F^2 / 2`` (equals ``lc``);
    ``lc_printed = ||B - D||_F^2 - ||D||_F^2`` (the printed proof, factor 1/2 dropped);
    ``sq_distance = E||Psi(A) - Psi(A+)||^2 = 2 second_moment - 2 positive``.
    """

    C: np.ndarray
    B: np.ndarray
    s2: np.ndarray
    positive: float
    negative: float
    second_moment: float
    lc: float
    lc_identity: float
    lc_printed: float
    sq_distance: float


def theorem10_terms(context: Context, psi: Any) -> Theorem10Terms:
    """Decompose ``L_C`` and ``E||Psi(A) - Psi(A+)||^2`` as in the proof of Theorem 10.

    With ``psi~_i = sum_{j>=1} c_ij nu_j`` in the complete basis of :func:`right_basis`,
    ``L_C = -sum_j s_j^2 b_jj + 1/2 sum_jk b_jk^2 = 1/2 ||B - D||^2 - 1/2 ||D||^2``; the printed
    proof writes the same without the factors 1/2, which changes the value (not the minimisers).
    The positive and negative terms are computed directly from the context (``T`` and
    ``Cov_{P_A}``), the identity forms from ``C``, so comparing them checks the proof.
    Chapter ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    n_x, n_a = ctx.shape
    table = check_table("psi", psi, rows=n_a, what="context value a")
    pa, px = ctx.pa, ctx.px
    tc = table - pa @ table
    phi = np.asarray(ctx.conditional @ tc)
    positive = float(np.sum(px[:, None] * phi * phi))
    cov = tc.T @ (pa[:, None] * tc)
    negative = float(np.sum(cov * cov))
    second = float(np.trace(cov))
    s, nu = right_basis(ctx)
    C = tc.T @ (pa[:, None] * nu[:, 1:])
    B = C.T @ C
    s2 = s[1:] ** 2
    Dm = np.diag(s2)
    gap = float(np.sum((B - Dm) ** 2))
    dn = float(np.sum(s2**2))
    return Theorem10Terms(C=C, B=B, s2=s2, positive=positive, negative=negative,
                          second_moment=second, lc=-positive + 0.5 * negative,
                          lc_identity=0.5 * gap - 0.5 * dn, lc_printed=gap - dn,
                          sq_distance=2.0 * second - 2.0 * positive)


def contrastive_optimum(system: SingularSystem, d: int, rotation: Any | None = None) -> np.ndarray:
    """A closed-form minimiser of ``L_C``: ``Psi* = [nu_1..nu_d] diag(s_1..s_d) U^T`` (Thm 10).

    ``rotation`` is a ``d x d`` orthogonal ``U`` (identity by default); every minimiser has
    this form (plus an arbitrary constant) when ``s_d > s_{d+1}``. Its covariance has
    eigenvalues ``s_1^2..s_d^2`` and ``L_C(Psi*) = -1/2 sum_{i<=d} s_i^4`` (proof of Theorem 10).
    Returns an ``M x d`` table. Chapter ``ch03_self_supervised``.
    """
    d = check_int("d", d, lo=1)
    sys_ = check_system(system, d=d)
    U = np.eye(d) if rotation is None else check_matrix("rotation", as_numpy(rotation))
    if U.shape != (d, d) or not np.allclose(U.T @ U, np.eye(d), atol=1e-10):
        raise ValueError(f"rotation must be a {d}x{d} orthogonal matrix, got shape {U.shape}")
    return (sys_.nu[:, 1:d + 1] * sys_.s[1:d + 1]) @ U.T


def lora_optimum(system: SingularSystem, d: int) -> np.ndarray:
    """``Phi Psi^T`` at the minimum of the asymmetric ("LoRA") loss: ``sum_{i<d} s_i mu_i nu_i``.

    The rank-``d`` truncation of the density ratio ``P+/(P_X P_A)`` (Lemma 4), constant mode
    ``i = 0`` included (Eckart-Young; :func:`contexture.learning.objectives.lora_loss`). ``N x M``.
    Chapter ``ch03_self_supervised``.
    """
    d = check_int("d", d, lo=1)
    sys_ = check_system(system, d=d - 1)
    return (sys_.mu[:, :d] * sys_.s[:d]) @ sys_.nu[:, :d].T


# --------------------------------------------------------------------------------------------
# VICReg: span repair and collapse (derived here)
# --------------------------------------------------------------------------------------------

def _cov_and_positive(ctx: Context, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    pa, px = ctx.pa, ctx.px
    tc = table - pa @ table
    phi = np.asarray(ctx.conditional @ tc)
    return tc, tc.T @ (pa[:, None] * tc), float(np.sum(px[:, None] * phi * phi))


def invariance_excess(context: Context, psi: Any) -> float:
    """``sum_i lambda_i(G) s_i^2 - ||T Psi~||^2 >= 0`` with ``G = Cov_{P_A}[Psi]`` (derived here).

    ``E||Psi(A) - Psi(A+)||^2 = 2 tr G - 2 ||T Psi~||^2`` and, for a fixed covariance ``G``,
    ``||T Psi~||^2 <= sum_i lambda_i(G) s_i^2`` (von Neumann's trace inequality and Cauchy
    interlacing). The bound is attained by :func:`vicreg_span_repair`, whose principal axes are
    ``nu_1..nu_d`` in order; if ``G`` is nonsingular and ``s_d > s_{d+1}``, a zero excess forces
    ``span Psi~ = span{nu_1..nu_d}`` (the converse fails: inside the top span the excess is
    positive unless the eigenvectors of ``G`` are matched to ``nu_1..nu_d``). Any loss whose
    other terms depend on ``Psi`` only through ``G`` (VICReg, ``L_N``) drops by
    ``2 * inv_coeff * excess`` under the repair. Chapter ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    table = _encoder_on_a(ctx, psi)
    d = table.shape[1]
    _, G, positive = _cov_and_positive(ctx, table)
    lam = np.clip(np.linalg.eigvalsh(G)[::-1], 0.0, None)
    s = ctx.svd(d, solver="dense").s[1:]
    return float(lam @ s**2 - positive)


def vicreg_span_repair(context: Context, psi: Any) -> np.ndarray:
    """The encoder with the same mean and covariance as ``psi`` but in the top-``d`` span.

    With ``G = Cov_{P_A}[Psi] = U diag(lambda) U^T`` (eigenvalues descending) returns
    ``E Psi + [nu_1..nu_d] diag(lambda)^{1/2} U^T``: the variance and covariance penalties of
    VICReg are unchanged and the invariance term is minimal for this covariance, so
    ``vicreg(psi) - vicreg(repair) = 2 inv_coeff invariance_excess(psi) >= 0``. Consequently a
    VICReg minimiser with nonsingular covariance spans ``nu_1..nu_d`` (learns the contexture);
    the surrogate can fail only by (dimensional) collapse. Derived here (not in the paper);
    Sec. 3.2 / Theorem 10. Chapter ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    table = _encoder_on_a(ctx, psi)
    d = table.shape[1]
    _, G, _ = _cov_and_positive(ctx, table)
    lam, U = np.linalg.eigh(G)
    lam, U = np.clip(lam[::-1], 0.0, None), U[:, ::-1]
    nu = ctx.svd(d, solver="dense").nu[:, 1:d + 1]
    return ctx.pa @ table + (nu * np.sqrt(lam)) @ U.T


def vicreg_aligned_variances(s: Any, d: int, *, inv_coeff: float = 25.0,
                             var_coeff: float = 25.0, gamma: float = 1.0,
                             eps: float = 1e-4) -> np.ndarray:
    """Variances of the best *aligned* VICReg encoder ``Psi = sum_i sigma_i nu_i e_i`` (derived).

    For uncorrelated columns on ``nu_1..nu_d`` the population loss of
    :func:`contexture.learning.objectives.vicreg_loss` separates into
    ``2 inv sigma_i^2 (1 - s_i^2) + (2 var / d) max(0, gamma - sqrt(sigma_i^2 + eps))`` per
    column (the covariance term vanishes). Its minimiser is
    ``sigma_i^2 = clip(c_i^2 - eps, 0, gamma^2 - eps)`` with
    ``c_i = var / (2 d inv (1 - s_i^2))``: weak contexts (small ``s_i``) and a small ratio
    ``var / inv`` shrink the variances, after which the quartic covariance penalty is too weak
    to stop all columns from collapsing onto ``nu_1``. ``s`` holds the singular values in the
    library convention (``s[0] = 1``). Returns ``sigma_1^2..sigma_d^2``. Chapter
    ``ch03_self_supervised``.
    """
    d = check_int("d", d, lo=1)
    arr = check_matrix("s", as_numpy(s), ndim=1)
    if arr.size < d + 1:
        raise ValueError(f"s must have at least d + 1 = {d + 1} entries (s[0] = 1), got {arr.size}")
    inv_coeff = check_float("inv_coeff", inv_coeff, lo=0.0, lo_open=True)
    var_coeff = check_float("var_coeff", var_coeff, lo=0.0)
    gamma = check_float("gamma", gamma, lo=0.0, lo_open=True)
    eps = check_float("eps", eps, lo=0.0)
    if eps >= gamma**2:
        raise ValueError(f"eps must be below gamma^2 = {gamma**2!r}, got {eps!r}")
    s_top = arr[1:d + 1]
    if np.any(s_top >= 1.0):
        raise ValueError("s_1..s_d must be below 1 (otherwise the invariance term vanishes "
                         "and the variance is unbounded above gamma^2 - eps)")
    c = var_coeff / (2.0 * d * inv_coeff * (1.0 - s_top**2))
    return np.clip(c**2 - eps, 0.0, gamma**2 - eps)


# --------------------------------------------------------------------------------------------
# alignment that penalises collapse
# --------------------------------------------------------------------------------------------

def non_contrastive_gap(context: Context, psi: Any, *, rtol: float = 1e-6) -> float:
    """``2 (sum_{i<=d} s_i^2 - RT(Psi))``: the ``L_N`` gap of ``psi``'s span (Theorem 10).

    ``RT = tr(G^+ Cov_{P_X}[T Psi~])`` is the ratio trace of ``Psi`` for ``T* T`` on the
    directions of ``G = Cov_{P_A}[Psi]`` with eigenvalue above ``rtol`` times the largest. For
    a full-rank ``psi`` this equals ``non_contrastive_loss(psi) - non_contrastive_minimum(s, d)``
    (the whitened encoder); collapsed directions count as carrying no signal. Zero iff the
    span is the top-``d`` right singular space. Chapter ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    table = _encoder_on_a(ctx, psi)
    d = table.shape[1]
    rtol = check_float("rtol", rtol, lo=0.0, lo_open=True, hi=1.0)
    tc, G, _ = _cov_and_positive(ctx, table)
    lam, V = np.linalg.eigh(G)
    if lam[-1] <= 0:
        rt = 0.0
    else:
        keep = lam > rtol * lam[-1]
        W = V[:, keep] / np.sqrt(lam[keep])
        phi = np.asarray(ctx.conditional @ (tc @ W))
        rt = float(np.sum(ctx.px[:, None] * phi * phi))
    s = ctx.svd(d, solver="dense").s[1:]
    return float(2.0 * (np.sum(s**2) - rt))


# --------------------------------------------------------------------------------------------
# Eq. (2) and Theorem 11
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DAEOptimum:
    """Result of :func:`dae_optimum` (Eq. (2), Theorem 11).

    ``eigenvalues``: all ``M`` eigenvalues of ``T* Lambda T`` on ``L^2(P_A)``, descending (at most
    ``d_X`` are nonzero). ``functions``: its top-``d`` eigenfunctions (``M x d``, orthonormal in
    ``L^2(P_A)``). ``second_moment``: ``E||X~||^2`` (``E||X||^2`` without bias). ``minimum``:
    ``second_moment - sum_{j<=d} eigenvalues_j``, the minimum of the risk over ``d``-dimensional
    encoders.
    """

    eigenvalues: np.ndarray
    functions: np.ndarray
    second_moment: float
    minimum: float


def dae_optimum(context: Context, x_values: Any, d: int, *, bias: bool = True) -> DAEOptimum:
    """Closed-form optimum of the denoising-autoencoder risk Eq. (2) (Theorem 11).

    ``R(Psi) = min_{W, b} E||W Psi(A) + b - X||^2`` with inputs ``x_values`` (``N x d_X``).
    By Theorem 11 (proof "as Theorem 8") a minimiser's centred span is the top-``d`` eigenspace
    of ``T* Lambda T`` on ``L^2(P_A)``, where ``Lambda`` has the linear kernel
    ``<x~, x~'>`` (``bias=True``) or ``<x, x'>`` (``bias=False``), i.e. the kernel
    ``k(a, a') = <m(a), m(a')>`` with ``m(a) = E[X~ | a]``
    (:func:`contexture.learning.objectives.supervised_kernel` on ``J^T``). Its rank is at most
    ``d_X``,
    so in general it is *not* the contexture. Compare with
    :func:`contexture.learning.objectives.dae_risk`. Chapter ``ch03_self_supervised``.
    """
    ctx = check_context(context)
    n_x, n_a = ctx.shape
    xv = check_table("x_values", x_values, rows=n_x, what="point x")
    d = check_int("d", d, lo=1, hi=n_a)
    J = dense(ctx.joint)
    lam, V = weighted_eigh(supervised_kernel(J.T, xv, bias=bool(bias)), ctx.pa)
    xc = xv - ctx.px @ xv if bias else xv
    second = float(np.sum(ctx.px[:, None] * xc * xc))
    return DAEOptimum(eigenvalues=lam, functions=V[:, :d].copy(), second_moment=second,
                      minimum=float(second - lam[:d].sum()))


# --------------------------------------------------------------------------------------------
# sampling positive pairs (batch losses)
# --------------------------------------------------------------------------------------------

class PairSampler:
    """Draws ``(x, a, a+)`` index triples: ``x ~ P_X``, ``a, a+ ~ P+(. | x)`` independently.

    The multi-view setup of Sec. 3.2 on a finite (e.g. KNN) context: ``a`` and ``a+`` are a
    positive pair; other rows of a batch act as negatives ``A- ~ P_A``. Draws use torch's global
    generator (seeded by :func:`contexture.learning.training.train`) unless ``generator`` is given.
    Dense internally (``N x M`` float64). Chapter ``ch03_self_supervised``.
    """

    def __init__(self, context: Context) -> None:
        ctx = check_context(context)
        self.shape = ctx.shape
        self._px = torch.as_tensor(np.array(ctx.px))
        self._cond = torch.as_tensor(dense(ctx.conditional).copy())

    def __call__(self, batch: int, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = check_int("batch", batch, lo=1)
        x = torch.multinomial(self._px, batch, replacement=True, generator=generator)
        pair = torch.multinomial(self._cond[x], 2, replacement=True, generator=generator)
        return x, pair[:, 0], pair[:, 1]


class WeightedLookupEncoder(nn.Module):
    """A lookup-table encoder parametrised in ``L^2(P)`` coordinates: ``psi = u / sqrt(P)``.

    Same function class as :class:`contexture.learning.encoders.LookupEncoder` (all functions on a
    finite
    space), but the free parameters are ``u = sqrt(P) psi``, in which the population losses are
    isotropic. AdamW's per-coordinate steps (and its ``eps``) otherwise stall the rows of
    points with tiny probability -- e.g. the outer Gauss-Hermite nodes of
    :func:`contexture.contexts.analytic.gaussian_noise_context`, whose weights fall below ``1e-10``
    --
    and the learned span stops short of the optimum. ``weights`` is ``P`` (positive, length
    ``num_points``); the initial ``u`` is ``N(0, init_scale^2)`` from ``seed``. ``forward()``
    returns the ``num_points x out_dim`` table of ``psi``. Chapter ``ch03_self_supervised``.
    """

    def __init__(self, num_points: int, out_dim: int, weights: Any, *, init_scale: float = 1.0,
                 seed: int | None = None) -> None:
        super().__init__()
        w = check_matrix("weights", as_numpy(weights), ndim=1, nonnegative=True)
        num_points = check_int("num_points", num_points, lo=1)
        if w.shape[0] != num_points or np.any(w <= 0):
            raise ValueError(f"weights must be a positive vector of length {num_points}, "
                             f"got shape {w.shape} with minimum {float(w.min())!r}")
        self.inner = LookupEncoder(num_points, out_dim, init_scale=init_scale, seed=seed)
        self.register_buffer("scale", torch.as_tensor(1.0 / np.sqrt(w))[:, None])

    def forward(self) -> torch.Tensor:
        return self.inner() * self.scale
