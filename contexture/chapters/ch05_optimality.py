r"""Optimality of the contexture: Theorem 14, Definition 15 and Appendix C on exact contexts.

Helpers for the chapter ``ch05_optimality``, arXiv v2 numbering.
They complement :mod:`contexture.metrics.optimality` and :mod:`contexture.metrics.ratio_trace`,
which work in :math:`\mu`-coordinates, with *direct* computations on a finite context (function
values on the points of :math:`\mathcal X` and :math:`\mathcal A`) so that the chapter can check
the coordinate formulas against the definitions:

* Theorem 14: the pair disagreement :math:`\mathbb E_X\mathbb E_{A,A'}[(g(A)-g(A'))^2]`
  (:func:`pair_disagreement`), the minimal-norm exact preimage (:func:`min_norm_preimage`) and the
  two ratios of inequality (7) in coordinates (:func:`thm14_ratios`);
* Definitions 13 and 15 from function values (:func:`compatibility_direct`,
  :func:`probe_error_direct`) and a complete :math:`L^2(P_{\mathcal X})` basis for coordinates
  (:func:`complete_basis`);
* Definition 19 / Proposition 20: the induced RKHS inner product (:func:`rkhs_inner`) and the
  isometry onto :math:`\mathrm{span}\{\mu_i:s_i>0\}` (:func:`rkhs_embed`);
* Definition 21 and the Fisher discriminant connection: covariances from function values
  (:func:`encoder_covariances`), the scatter matrices (:func:`fda_scatter`) and
  :math:`J(W)` (:func:`fisher_criterion`);
* Definition 23 and Theorem 24: the naive gap (:func:`naive_trace_gap`), a block context
  (:func:`block_context`), encoders at a prescribed angle (:func:`encoder_at_angle`) and the
  perturbed-encoder experiment (:func:`thm24_trial`).

Coordinates follow :mod:`contexture.metrics.optimality`: ``s`` holds nontrivial singular values
and ``coords``/``u`` are coordinates of centred functions in :math:`\mu_1,\mu_2,\dots`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from contexture.base.checks import (
    as_rng,
    check_float,
    check_int,
    check_matrix,
    check_probability_vector,
    check_table,
)
from contexture.base.linalg import dense, orthonormal_completion
from contexture.contexts.finite import Context, FiniteContext
from contexture.metrics.optimality import worst_case_error_exact
from contexture.metrics.ratio_trace import thm24_bound, trace_gap

__all__ = [
    "FullBasis",
    "Thm14Ratios",
    "Thm24Trial",
    "block_context",
    "compatibility_direct",
    "complete_basis",
    "encoder_at_angle",
    "encoder_covariances",
    "fda_scatter",
    "fisher_criterion",
    "min_norm_preimage",
    "naive_trace_gap",
    "null_space_t",
    "pair_disagreement",
    "probe_error_direct",
    "rkhs_embed",
    "rkhs_inner",
    "thm14_ratios",
    "thm24_trial",
]


def _values(name: str, value: Any, n: int) -> np.ndarray:
    """A function (length n) or a family of functions (n x k) on n points, as float64."""
    arr = np.asarray(value, dtype=np.float64)
    arr = check_matrix(name, arr, ndim=arr.ndim if arr.ndim in (1, 2) else 2)
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows (one value per point), got shape {arr.shape}")
    return arr


# ------------------------------------------------------------------------------------------------
# Theorem 14
# ------------------------------------------------------------------------------------------------


def pair_disagreement(context: Context, g: Any) -> float:
    r"""Left side of Theorem 14's inequality (7):
    :math:`\mathbb E_X\,\mathbb E_{A,A'\sim P^+(\cdot\mid X)}[(g(A)-g(A'))^2]`.

    ``g`` holds the values of a function on the ``M`` points of :math:`\mathcal A`. Expanding the
    square, with :math:`A,A'` independent given :math:`X`, the inner expectation is
    :math:`2\,\mathrm{Var}[g(A)\mid X]`, so the value is
    :math:`2\sum_x P_{\mathcal X}(x)(\mathbb E[g^2(A)\mid x]-\mathbb E[g(A)\mid x]^2)`: twice the
    average conditional variance of Section 4.1's corrupted-training-set story. Chapter
    ``ch05_optimality`` (Theorem 14).
    """
    P = context.conditional
    gv = _values("g", g, context.shape[1])
    if gv.ndim != 1:
        raise ValueError(f"g must be one function (a 1-D array), got shape {gv.shape}")
    m1 = np.asarray(P @ gv).ravel()
    m2 = np.asarray(P @ (gv * gv)).ravel()
    return float(2.0 * context.px @ np.maximum(m2 - m1 * m1, 0.0))


def min_norm_preimage(context: Context, f: Any, *, rtol: float = 1e-10) -> np.ndarray:
    r"""The minimal-:math:`L^2(P_{\mathcal A})`-norm :math:`g` with :math:`\mathbb E[g(A)\mid x]=
    f(x)` (Theorem 14, exact-preimage reading), i.e. :math:`g=\sum_i(u_i/s_i)\nu_i`.

    Solved in orthonormal coordinates with the matrix ``Q`` of
    :meth:`~contexture.contexts.finite.Context.q_matrix`: :math:`T g=f` iff
    :math:`Q(\sqrt{P_{\mathcal A}}g)=\sqrt{P_{\mathcal X}}f`, whose minimal-norm solution is
    :math:`Q^+\sqrt{P_{\mathcal X}}f` (singular values below ``rtol`` times the largest count as
    zero). Raises if ``f`` is not in the range of :math:`T` (relative residual above 1e-8). Every
    other preimage adds a component of :math:`\ker T`. Chapter ``ch05_optimality``.
    """
    fv = _values("f", f, context.shape[0])
    if fv.ndim != 1:
        raise ValueError(f"f must be one function (a 1-D array), got shape {fv.shape}")
    rtol = check_float("rtol", rtol, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    q = dense(context.q_matrix())
    sx, sa = np.sqrt(context.px), np.sqrt(context.pa)
    y = np.linalg.pinv(q, rcond=rtol) @ (sx * fv)
    res = np.linalg.norm(q @ y - sx * fv)
    scale = max(np.linalg.norm(sx * fv), 1e-300)
    if res > 1e-8 * scale:
        raise ValueError(f"f is not in the range of T (relative residual {res / scale:.3g}): no g "
                         f"has E[g(A) | x] = f(x)")
    return y / sa


def null_space_t(context: Context, *, rtol: float = 1e-10) -> np.ndarray:
    r"""An :math:`L^2(P_{\mathcal A})`-orthonormal basis (``M x k``) of :math:`\ker T_{P^+}`.

    :math:`Tg=0` iff :math:`Q\sqrt{P_{\mathcal A}}g=0`; the basis comes from the right singular
    vectors of ``Q`` with singular value at most ``rtol`` times the largest. Every exact preimage
    of a task is :func:`min_norm_preimage` plus an element of this space (Theorem 14). Chapter
    ``ch05_optimality``.
    """
    rtol = check_float("rtol", rtol, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    q = dense(context.q_matrix())
    _, sv, vt = np.linalg.svd(q, full_matrices=True)
    rank = int(np.count_nonzero(sv > rtol * sv[0]))
    return vt[rank:].T / np.sqrt(np.asarray(context.pa))[:, None]


@dataclass(frozen=True)
class Thm14Ratios:
    r"""The quantities of Theorem 14 for one task (see :func:`thm14_ratios`).

    ``rho`` is the compatibility, ``eps = 1 - rho`` the smallest :math:`\epsilon` with
    :math:`f\in\mathcal F_\epsilon`, ``bound = 4 eps``; ``ratio_proof`` and ``ratio_preimage`` are
    :math:`\mathbb E[(g(A)-g(A'))^2]/\|g\|^2_{P_{\mathcal A}}` for the proof's
    :math:`g^*=\sum s_iu_i\nu_i` and for the minimal-norm exact preimage
    :math:`\sum(u_i/s_i)\nu_i`; ``preimage_gap`` is :math:`\|Tg^*-f\|/\|f\|`.
    """

    rho: float
    eps: float
    bound: float
    ratio_proof: float
    ratio_preimage: float
    preimage_gap: float


def thm14_ratios(u: Any, s: Any) -> Thm14Ratios:
    r"""Theorem 14 in :math:`\mu`-coordinates: both sides of (7) for two choices of :math:`g`.

    ``u`` are the coordinates :math:`u_i` of a centred task and ``s`` the matching singular values
    :math:`s_i` (same length, any order; entries with :math:`u_i=0` may have :math:`s_i=0`). For
    :math:`g=\sum v_i\nu_i` one has :math:`\mathbb E[(g(A)-g(A'))^2]=2\sum(1-s_i^2)v_i^2`
    (because :math:`\mathbb E[g(A)g(A')]=\langle g,T_{k_A^+}g\rangle`), so

    * proof's :math:`g^*` (:math:`v_i=s_iu_i`): ratio :math:`2\sum(s_i^2-s_i^4)u_i^2/\sum
      s_i^2u_i^2\le4\epsilon` always (Cauchy-Schwarz and :math:`(1-\epsilon)^2\ge1-2\epsilon`);
      but :math:`\mathbb E[g^*(A)\mid x]=\sum s_i^2u_i\mu_i\neq f`;
    * exact preimage (:math:`v_i=u_i/s_i`): ratio :math:`2\sum(1-s_i^2)u_i^2/s_i^2/\sum
      u_i^2/s_i^2`, which can exceed :math:`4\epsilon` (so the theorem holds for the proof's
      :math:`g^*`, not for every exact preimage).

    Chapter ``ch05_optimality`` (Theorem 14).
    """
    u_arr = check_matrix("u", u, ndim=1)
    s_arr = check_matrix("s", s, ndim=1)
    if s_arr.shape != u_arr.shape:
        raise ValueError(f"u and s must have the same length, got {u_arr.size} and {s_arr.size}")
    if np.any(s_arr < 0) or np.any(s_arr > 1 + 1e-12):
        raise ValueError(f"s must hold singular values in [0, 1], got range "
                         f"[{s_arr.min()!r}, {s_arr.max()!r}]")
    s_arr = np.clip(s_arr, 0.0, 1.0)
    on = u_arr != 0
    if not on.any():
        raise ValueError("u must be nonzero (Theorem 14 needs a non-constant task)")
    if np.any(s_arr[on] == 0):
        raise ValueError("every s_i with u_i != 0 must be positive, else f has no exact preimage")
    u2, s2 = u_arr[on] ** 2, s_arr[on] ** 2
    rho = float(np.sqrt(np.clip((s2 * u2).sum() / u2.sum(), 0.0, 1.0)))
    eps = 1.0 - rho
    ratio_proof = float(2.0 * ((s2 - s2**2) * u2).sum() / (s2 * u2).sum())
    w = u2 / s2
    ratio_pre = float(2.0 * ((1.0 - s2) * w).sum() / w.sum())
    gap = float(np.sqrt((((1.0 - s2) ** 2) * u2).sum() / u2.sum()))
    return Thm14Ratios(rho=rho, eps=eps, bound=4.0 * eps, ratio_proof=ratio_proof,
                       ratio_preimage=ratio_pre, preimage_gap=gap)


# ------------------------------------------------------------------------------------------------
# Definitions 13 and 15 from function values; a complete basis for coordinates
# ------------------------------------------------------------------------------------------------


def compatibility_direct(context: Context, f: Any) -> float:
    r"""Compatibility :math:`\rho(f,P^+)` of Definition 13 from the values of ``f`` on
    :math:`\mathcal X`.

    The supremum over :math:`g` of :math:`\langle\tilde f,Tg\rangle/(\|\tilde f\|\|g\|)=
    \langle T^*\tilde f,g\rangle/(\|\tilde f\|\|g\|)` is attained at :math:`g\propto T^*\tilde f`
    (Cauchy-Schwarz), so :math:`\rho=\|T^*\tilde f\|_{P_{\mathcal A}}/\|\tilde f\|_{P_{\mathcal
    X}}`. Chapter ``ch05_optimality`` (Definition 13).
    """
    fv = _values("f", f, context.shape[0])
    if fv.ndim != 1:
        raise ValueError(f"f must be one function (a 1-D array), got shape {fv.shape}")
    ft = fv - context.px @ fv
    nf = float(np.sqrt(context.px @ ft**2))
    if nf == 0.0:
        raise ValueError("f must not be constant (Definition 13 needs f - E f != 0)")
    h = np.asarray(context.adjoint_operator() @ ft).ravel()
    return float(np.sqrt(context.pa @ h**2) / nf)


def probe_error_direct(Phi: Any, f: Any, px: Any) -> float:
    r"""Linear-probe error of Definition 15 from function values, relative to :math:`\|\tilde
    f\|^2`: :math:`\min_{w,b}\|w^\top\Phi+b-f\|^2_{P_{\mathcal X}}/\|f-\mathbb Ef\|^2_{P_{\mathcal
    X}}`.

    ``Phi`` is ``N x d`` (encoder values on the points of :math:`\mathcal X`), ``f`` has length
    ``N``, ``px`` is :math:`P_{\mathcal X}`. Weighted least squares with an intercept (the probe's
    bias). For a centred unit-norm task this is :math:`\mathrm{err}(\Phi,f)`. Chapter
    ``ch05_optimality`` (Definition 15).
    """
    p = check_probability_vector("px", px)
    F = check_table("Phi", Phi, rows=p.size, what="point")
    fv = _values("f", f, p.size)
    if fv.ndim != 1:
        raise ValueError(f"f must be one function (a 1-D array), got shape {fv.shape}")
    ft = fv - p @ fv
    nf = float(p @ ft**2)
    if nf == 0.0:
        raise ValueError("f must not be constant (the probe's bias fits a constant exactly)")
    w = np.sqrt(p)
    design = np.hstack([F, np.ones((p.size, 1))]) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, w * fv, rcond=None)
    r = design @ coef - w * fv
    return float(r @ r / nf)


@dataclass(frozen=True)
class FullBasis:
    r"""A complete singular system of a finite context (see :func:`complete_basis`).

    ``s`` (length N): :math:`s_0=1, s_1,\dots` padded with zeros; ``mu`` (N x N): an
    :math:`L^2(P_{\mathcal X})`-orthonormal basis, ``mu[:, 0] = 1``, column ``i`` pairs with
    ``s[i]``; ``nu`` (M x R, R = min(N, M)): the right singular functions for ``s[:R]``;
    ``px``, ``pa`` the marginals.
    """

    s: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    px: np.ndarray
    pa: np.ndarray

    def coords(self, f: Any) -> np.ndarray:
        """Coordinates ``<f, mu_i>`` (i = 0..N-1) of one function or of the columns of a matrix."""
        fv = _values("f", f, self.px.size)
        return self.mu.T @ (self.px[:, None] * fv if fv.ndim == 2 else self.px * fv)

    def rank(self, tol: float = 1e-10) -> int:
        """Number of singular values above ``tol`` (the trivial one included): dim R(T*)."""
        return int(np.count_nonzero(self.s > tol))


def complete_basis(context: Context) -> FullBasis:
    r"""All singular pairs of a finite context, completed to a basis of :math:`L^2(P_{\mathcal X})`.

    Uses the dense solver for ``min(N, M) - 1`` nontrivial pairs (Lemma 3) and completes
    :math:`\mu` with an orthonormal basis of the rest of :math:`L^2(P_{\mathcal X})` (singular
    value 0, i.e. :math:`\ker T^*`), so that every function on :math:`\mathcal X` has
    coordinates. The added columns follow the library's sign convention
    (:func:`contexture.base.linalg.column_signs`). Chapter ``ch05_optimality`` (coordinates for
    Definitions 13-23).
    """
    n_x, n_a = context.shape
    r = min(n_x, n_a)
    sv = context.svd(r - 1, solver="dense")
    px = np.asarray(context.px)
    mu = orthonormal_completion(np.asarray(sv.mu), px)
    s = np.concatenate([sv.s, np.zeros(n_x - r)])
    return FullBasis(s=s, mu=mu, nu=np.asarray(sv.nu), px=px, pa=np.asarray(context.pa))


# ------------------------------------------------------------------------------------------------
# Definition 19 / Proposition 20: the induced RKHS
# ------------------------------------------------------------------------------------------------


def _rkhs_coords(basis: FullBasis, h: Any, tol: float) -> np.ndarray:
    hv = _values("h", h, basis.pa.size)
    if hv.ndim != 1:
        raise ValueError(f"h must be one function (a 1-D array), got shape {hv.shape}")
    v = basis.nu.T @ (basis.pa * hv)
    scale = max(float(np.sqrt(basis.pa @ hv**2)), 1e-300)
    resid = float(np.sqrt(basis.pa @ (hv - basis.nu @ v) ** 2))
    s = basis.s[: v.size]
    off = float(np.abs(v[s <= tol]).max()) if np.any(s <= tol) else 0.0
    if resid > 1e-8 * scale or off > 1e-8 * scale:
        raise ValueError(f"h is not in H = R(T*) (relative residual {max(resid, off) / scale:.3g})")
    return v


def rkhs_inner(basis: FullBasis, h1: Any, h2: Any, *, tol: float = 1e-10) -> float:
    r"""Inner product of the induced RKHS :math:`\mathcal H_{P^+}=R(T^*)` (Definition 19).

    For :math:`h_1=\sum v_i\nu_i` and :math:`h_2=\sum w_i\nu_i` (values on the ``M`` points of
    :math:`\mathcal A`; index 0 is the constant), :math:`\langle h_1,h_2\rangle_{\mathcal H}=
    \sum_{s_i>0}v_iw_i/s_i^2`; equivalently :math:`\langle T^*f_1,T^*f_2\rangle_{\mathcal H}=
    \langle f_1,f_2\rangle_{P_{\mathcal X}}` for preimages in :math:`\mathrm{span}\{\mu_i:s_i>0\}`.
    Raises if an argument is not in :math:`\mathcal H` (a component on :math:`s_i\le` ``tol``).
    Chapter ``ch05_optimality`` (Proposition 20).
    """
    tol = check_float("tol", tol, lo=0.0, lo_open=True)
    v, w = _rkhs_coords(basis, h1, tol), _rkhs_coords(basis, h2, tol)
    s = basis.s[: v.size]
    on = s > tol
    return float((v[on] * w[on] / s[on] ** 2).sum())


def rkhs_embed(basis: FullBasis, h: Any, *, tol: float = 1e-10) -> np.ndarray:
    r"""The isometry of Proposition 20 (ii): :math:`\iota(\sum v_i\nu_i)=\sum(v_i/s_i)\mu_i`.

    Maps :math:`h\in\mathcal H_{P^+}` to the unique :math:`f\in\mathrm{span}\{\mu_i:s_i>0\}` with
    :math:`T^*f=h`; :math:`\langle\iota h_1,\iota h_2\rangle_{P_{\mathcal X}}=\langle h_1,h_2
    \rangle_{\mathcal H}`. Returns the values of :math:`\iota h` on :math:`\mathcal X`. Chapter
    ``ch05_optimality``.
    """
    tol = check_float("tol", tol, lo=0.0, lo_open=True)
    v = _rkhs_coords(basis, h, tol)
    s = basis.s[: v.size]
    on = s > tol
    return basis.mu[:, : v.size][:, on] @ (v[on] / s[on])


# ------------------------------------------------------------------------------------------------
# Definition 21 from function values; Fisher discriminant analysis (App. C)
# ------------------------------------------------------------------------------------------------


def encoder_covariances(context: Context, Phi: Any) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`C_\Phi=\mathrm{Cov}_{P_{\mathcal X}}[\Phi]` and :math:`B_\Phi=
    \mathrm{Cov}_{P_{\mathcal A}}[T^*\Phi]` (Definition 21) from the encoder's values.

    ``Phi`` is ``N x d``; :math:`(T^*\phi)(a)=\mathbb E[\phi(X)\mid a]` uses the context's adjoint.
    Chapter ``ch05_optimality`` (ratio trace, Fisher discriminant).
    """
    F = check_table("Phi", Phi, rows=context.shape[0], what="point")
    px, pa = np.asarray(context.px), np.asarray(context.pa)
    Ft = F - px @ F
    C = Ft.T @ (px[:, None] * Ft)
    G = np.asarray(context.adjoint_operator() @ F)
    Gt = G - pa @ G
    B = Gt.T @ (pa[:, None] * Gt)
    return (C + C.T) / 2.0, (B + B.T) / 2.0


def fda_scatter(context: Context, X: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Scatter matrices of the Fisher discriminant connection (App. C), from their definitions.

    ``X`` (``N x d_X``) places the points of :math:`\mathcal X` in :math:`\mathbb R^{d_X}`. With
    :math:`m(a)=\mathbb E[X\mid a]`:
    :math:`S_B=\iint(m(a_1)-m(a_2))(m(a_1)-m(a_2))^\top dP_{\mathcal A}(a_1)dP_{\mathcal A}(a_2)`
    (computed as the explicit double sum) and :math:`S_W=\int\mathbb E[(X-m(a))(X-m(a))^\top\mid
    a]\,dP_{\mathcal A}(a)`. Chapter ``ch05_optimality``.
    """
    x = check_table("X", X, rows=context.shape[0], what="point")
    pa = np.asarray(context.pa)
    Pxa = dense(context.adjoint_operator())  # M x N, rows P+(x | a)
    m = Pxa @ x  # M x d_X
    diff = m[:, None, :] - m[None, :, :]
    S_B = np.einsum("i,j,ijk,ijl->kl", pa, pa, diff, diff)
    second = np.einsum("an,nk,nl->akl", Pxa, x, x)
    cov_a = second - m[:, :, None] * m[:, None, :]
    S_W = np.einsum("a,akl->kl", pa, cov_a)
    return (S_B + S_B.T) / 2.0, (S_W + S_W.T) / 2.0


def fisher_criterion(W: Any, S_B: Any, S_W: Any) -> float:
    r"""Fisher's criterion :math:`J(W)=\mathrm{Tr}[(WS_BW^\top)(WS_WW^\top)^{-1}]` (App. C).

    ``W`` is ``d x d_X``; :math:`WS_WW^\top` must be invertible. Chapter ``ch05_optimality``.
    """
    w = check_matrix("W", W, ndim=2)
    sb, sw = check_matrix("S_B", S_B, ndim=2), check_matrix("S_W", S_W, ndim=2)
    if sb.shape != (w.shape[1], w.shape[1]) or sw.shape != sb.shape:
        raise ValueError(f"S_B and S_W must be {w.shape[1]} x {w.shape[1]} to match W {w.shape}, "
                         f"got {sb.shape} and {sw.shape}")
    within = w @ sw @ w.T
    if np.linalg.cond(within) > 1e12:
        raise ValueError("W S_W W^T must be invertible (the within-class scatter vanishes on "
                         "span(W))")
    return float(np.trace(np.linalg.solve(within, w @ sb @ w.T)))


# ------------------------------------------------------------------------------------------------
# Definition 23 / Theorem 24
# ------------------------------------------------------------------------------------------------


def naive_trace_gap(coords: Any, s: Any) -> float:
    r"""The naive gap :math:`s_1^2+\dots+s_{d+1}^2-\mathrm{RT}(\Phi)` that Definition 23 replaces.

    ``d`` is the number of columns of ``coords`` (which must have full column rank). It grows when
    useless dimensions are appended to an encoder, which is why the paper takes an infimum over
    sub-families instead. Chapter ``ch05_optimality`` (Definition 23).
    """
    from contexture.metrics.ratio_trace import ratio_trace, ratio_trace_matrices

    s_arr = check_matrix("s", s, ndim=1)
    C, B = ratio_trace_matrices(coords, s_arr)
    d = C.shape[0]
    if np.linalg.matrix_rank(C) < d:
        raise ValueError(f"coords must have full column rank {d} for the naive gap")
    if s_arr.size < d + 1:
        raise ValueError(f"s must hold at least d + 1 = {d + 1} singular values")
    return float((s_arr[: d + 1] ** 2).sum() - ratio_trace(C, B))


def block_context(
    sizes: Any, leaks: Any, concentration: float, seed: int | np.random.Generator
) -> FiniteContext:
    r"""A block context on :math:`\mathcal X=\mathcal A=\{1..n\}`, ``n = sum(sizes)``.

    Row :math:`x` in block :math:`b` is :math:`P^+(\cdot\mid x)=(1-\ell_b)\,D_{\rm in}+\ell_b\,
    D_{\rm all}`, with :math:`D_{\rm in}` a Dirichlet(``concentration``) vector on the block and
    :math:`D_{\rm all}` one on all points; :math:`P_{\mathcal X}` is uniform. With ``B`` blocks the
    top ``B - 1`` nontrivial singular values are close to 1 (smaller ``leaks`` = closer) and the
    rest are small (larger ``concentration`` = smaller). The chapter uses it for the Theorem 24
    experiment (e.g. a 30 x 30 block context with
    :math:`s\approx[1,.969,.957,.934,.090,\dots]`; the construction is ours, the paper gives
    none). Chapter ``ch05_optimality``.
    """
    sz = [check_int("sizes[i]", int(v) if isinstance(v, np.integer) else v, lo=1)
          for v in sizes]
    lk = check_matrix("leaks", leaks, ndim=1)
    if lk.size != len(sz):
        raise ValueError(f"leaks must have one entry per block ({len(sz)}), got {lk.size}")
    if np.any(lk < 0) or np.any(lk > 1):
        raise ValueError(f"leaks must lie in [0, 1], got {lk.tolist()}")
    conc = check_float("concentration", concentration, lo=0.0, lo_open=True)
    rng = as_rng(seed)
    n = int(sum(sz))
    labels = np.repeat(np.arange(len(sz)), sz)
    cond = np.zeros((n, n))
    for b in range(len(sz)):
        idx = np.flatnonzero(labels == b)
        cond[np.ix_(idx, idx)] = (1.0 - lk[b]) * rng.dirichlet(np.full(idx.size, conc),
                                                                size=idx.size)
        cond[idx] += lk[b] * rng.dirichlet(np.full(n, conc), size=idx.size)
    cond /= cond.sum(axis=1, keepdims=True)
    return FiniteContext.from_conditional(cond, np.full(n, 1.0 / n))


def encoder_at_angle(
    K: int, d: int, theta: float, seed: int | np.random.Generator
) -> np.ndarray:
    r"""A ``K x d`` encoder (:math:`\mu`-coordinates) all of whose principal angles with the
    top-:math:`d` span :math:`\mathrm{span}\{\mu_1..\mu_d\}` equal ``theta``.

    Columns :math:`\cos\theta\,e_j+\sin\theta\,r_j` with :math:`r_1..r_d` a random orthonormal
    family in :math:`\mathrm{span}\{\mu_{d+1}..\mu_K\}` (needs ``K >= 2 d``). ``theta = 0`` learns
    the contexture (Definition 5). Chapter ``ch05_optimality`` (misalignment figure).
    """
    K = check_int("K", K, lo=2)
    d = check_int("d", d, lo=1, hi=K // 2)
    theta = check_float("theta", theta, lo=0.0, hi=np.pi / 2)
    rng = as_rng(seed)
    R, _ = np.linalg.qr(rng.standard_normal((K - d, d)))
    out = np.zeros((K, d))
    out[:d] = np.cos(theta) * np.eye(d)
    out[d:] = np.sin(theta) * R
    return out


@dataclass(frozen=True)
class Thm24Trial:
    r"""Result of :func:`thm24_trial`; arrays have one entry per encoder.

    ``err``: exact :math:`\mathrm{err}(\Phi;\mathcal F_\epsilon)` (S-lemma dual); ``gap``: its
    duality gap; ``tg``: Definition-23 trace gap; ``applicable``: Theorem 24's precondition
    :math:`\mathrm{TG}<s_1^2`; ``bound_printed`` / ``bound_sqrt``: the two readings of the bound
    (NaN where not applicable).
    """

    err: np.ndarray
    gap: np.ndarray
    tg: np.ndarray
    applicable: np.ndarray
    bound_printed: np.ndarray
    bound_sqrt: np.ndarray

    def violations(self, reading: str, atol: float = 1e-9) -> int:
        """Number of applicable encoders whose exact error exceeds the bound by more than atol."""
        b = self.bound_printed if reading == "printed" else self.bound_sqrt
        ok = self.applicable
        return int(np.count_nonzero(self.err[ok] > b[ok] + atol))

    def max_excess(self, reading: str) -> float:
        """Largest ``err - bound`` over applicable encoders (negative if the bound always holds)."""
        b = self.bound_printed if reading == "printed" else self.bound_sqrt
        ok = self.applicable
        return float((self.err[ok] - b[ok]).max()) if ok.any() else float("nan")


def thm24_trial(
    s: Any, d: int, eps: float, noise: float, n_encoders: int,
    seed: int | np.random.Generator,
) -> Thm24Trial:
    r"""Theorem 24 on perturbed contexture encoders: exact error versus both readings of the bound.

    Draws ``n_encoders`` encoders :math:`\Phi=[\mu_1..\mu_d]+\sigma G` in :math:`\mu`-coordinates
    (``G`` standard normal ``K x d``, ``sigma = noise``), and for each computes the exact
    worst-case error (:func:`~contexture.metrics.worst_case_error_exact`), the trace gap of
    Definition 23 (:func:`~contexture.metrics.trace_gap`) and, where :math:`\mathrm{TG}<s_1^2`,
    :func:`~contexture.metrics.thm24_bound` in the ``"printed"`` and ``"sqrt"`` readings. ``s``
    (length K) must be the complete nontrivial spectrum (zeros appended) so that the task space is
    all of :math:`L^2_0(P_{\mathcal X})`. BLAS runs single-threaded inside (small matrices).
    Chapter ``ch05_optimality`` (Theorem 24 ⚠ caveat).
    """
    s_arr = check_matrix("s", s, ndim=1)
    K = s_arr.size
    d = check_int("d", d, lo=1, hi=K - 1)
    eps = check_float("eps", eps, lo=1.0 - float(s_arr[0]), hi=1.0, lo_open=True)
    noise = check_float("noise", noise, lo=0.0)
    n_encoders = check_int("n_encoders", n_encoders, lo=1)
    rng = as_rng(seed)
    err, gap, tg = (np.empty(n_encoders) for _ in range(3))
    bp, bs = np.full(n_encoders, np.nan), np.full(n_encoders, np.nan)
    top = np.eye(K)[:, :d]
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a duality-gap warning must not pass
        for k in range(n_encoders):
            coords = top + noise * rng.standard_normal((K, d))
            wc = worst_case_error_exact(coords, s_arr, eps)
            err[k], gap[k] = wc.error, wc.gap
            tg[k] = trace_gap(coords, s_arr)
            if tg[k] < s_arr[0] ** 2:
                bp[k] = thm24_bound(s_arr, tg[k], eps, "printed")
                bs[k] = thm24_bound(s_arr, tg[k], eps, "sqrt")
    return Thm24Trial(err=err, gap=gap, tg=tg, applicable=~np.isnan(bp), bound_printed=bp,
                      bound_sqrt=bs)
