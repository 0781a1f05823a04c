"""Exact singular systems of finite contextures (Lemmas 3-4) by dense and iterative solvers.

Recipe: with ``Q = diag(px)^{1/2} P diag(pa)^{-1/2}`` (the matrix of T_{P+} in orthonormal
coordinates), the SVD ``Q = U S V^T``
gives the singular values ``s_i`` of T_{P+} and the singular functions
``mu_i = U[:, i] / sqrt(px)``, ``nu_i = V[:, i] / sqrt(pa)``, orthonormal in L2(P_X) / L2(P_A).
``sqrt(px)``/``sqrt(pa)`` is the trivial pair (s_0 = 1); both solvers deflate it *exactly* so that
column 0 is always the constant, even when s = 1 is a multiple singular value (disconnected
contexts, A = X).

Solvers
-------
``"dense"`` (the oracle): Householder reflections map the trivial pair to e_1; a full LAPACK SVD
(``gesdd``, falling back to ``gesvd``) of the remaining (N-1) x (M-1) block. O(N M min(N, M)) time
and O(N M) memory (minutes at N = M = 4177 on 2 shared cores); limited to ``N * M <= dense_limit``.

``"gram"`` (dense contexts, many pairs): forms the dual kernel ``K = Q Q^T`` (or ``Q^T Q``) densely,
takes its top eigenvectors with LAPACK ``syevx`` (subset), then the Rayleigh-Ritz step for the SVD
below. O(N^2 M) time, O(N^2) memory: the kernel-PCA route, plus the certified residual check.

``"sparse"`` (matrix-free): block Krylov (block Lanczos with full re-orthogonalisation) on the
dual kernel ``K = Q Q^T`` (or ``Q^T Q`` when M < N), restricted to the complement of the trivial
vector. It only applies Q and Q^T to blocks of vectors, so a KNN context costs O(nnz(P)) per
vector and never forms K. Phase 1 is plain block Lanczos up to dimension ~1.25 d; unless already
converged, its d-th Ritz value c (a lower bound of s_d^2) defines a Chebyshev filter
``T_g((2K - c)/c)`` that damps the unwanted part [0, c] of the spectrum, and phase 2 builds a
fresh Krylov space of the filtered operator until the top-d Ritz pairs converge. Rayleigh-Ritz
always uses K itself; a final Rayleigh-Ritz step for the SVD (thin SVD of ``Q^T U``) yields the
triplets. Memory: two n x m float64 bases, m <= max_dim (about 1.5 GB at n = 28,155, d = 512).

Accuracy guarantee
------------------
Every returned nontrivial triplet is checked explicitly: with unit vectors ``u_i = sqrt(px) mu_i``
and ``v_i = sqrt(pa) nu_i``, ``residual = max_i max(||Q v_i - s_i u_i||, ||Q^T u_i - s_i v_i||)``.
Because ``||Q|| = 1``, each ``s_i`` is then within ``residual`` of a true singular value (Weyl's
bound for the Jordan-Wielandt matrix). If ``residual > tol`` the solver raises (or warns, with the
achieved accuracy, when ``on_inaccurate="warn"``). The iterative solver also runs a short Lanczos
probe on the complement of the returned subspace and raises if it finds a singular value above
``s_d^2 + tol`` for K that was missed. Residual checks cannot prove that no eigenvalue was
missed, but a missed one of the probe's size is detected.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from contexture.base.checks import as_rng, check_choice, check_float, check_int, check_matrix
from contexture.base.linalg import column_signs, dense

if TYPE_CHECKING:  # pragma: no cover
    from contexture.contexts.finite import Context

__all__ = [
    "InaccurateSpectrumError",
    "InaccurateSpectrumWarning",
    "SingularSystem",
    "check_system",
    "extend",
    "reconstruct_joint",
    "residuals",
    "svd",
]

DENSE_LIMIT = 60_000_000
"""Largest ``N * M`` the dense solver accepts (a float64 copy of Q is 480 MB at this size)."""

AUTO_DENSE_MAX = 1500
"""``solver="auto"`` uses the dense solver when ``min(N, M) <= AUTO_DENSE_MAX``."""


class InaccurateSpectrumError(RuntimeError):
    """Raised when a solver cannot certify the requested accuracy."""


class InaccurateSpectrumWarning(RuntimeWarning):
    """Warned instead of raising when ``on_inaccurate="warn"``."""


@dataclass(frozen=True, eq=False)
class SingularSystem:
    """Top singular triplets of T_{P+} (Lemma 3), trivial pair first.

    Attributes
    ----------
    s : (d+1,) singular values, descending, ``s[0] == 1``.
    mu : (N, d+1) left singular functions on the points of X; ``mu.T @ diag(px) @ mu == I``,
        ``mu[:, 0] == 1``; sign: the largest-magnitude entry of each column is positive.
    nu : (M, d+1) right singular functions on A, orthonormal in L2(P_A), ``nu_i = T* mu_i / s_i``.
    px, pa : the marginals defining the inner products.
    solver : ``"dense"``, ``"gram"`` or ``"sparse"``.
    residual : achieved ``max_i max(||Q v_i - s_i u_i||, ||Q^T u_i - s_i v_i||)`` (see module doc).
    """

    s: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    px: np.ndarray
    pa: np.ndarray
    solver: str
    residual: float

    @property
    def d(self) -> int:
        """Number of nontrivial pairs."""
        return int(self.s.shape[0] - 1)

    @property
    def eigenvalues(self) -> np.ndarray:
        """``s**2``: eigenvalues of T_{k_X^+} = T T* (and of T_{k_A^+}; Lemma 3)."""
        return self.s**2

    def truncate(self, d: int) -> SingularSystem:
        """The top-d nontrivial pairs (plus the trivial one) of this system."""
        d = check_int("d", d, lo=0, hi=self.d)
        return SingularSystem(self.s[: d + 1], self.mu[:, : d + 1], self.nu[:, : d + 1],
                              self.px, self.pa, self.solver, self.residual)


def check_system(value: Any, name: str = "system", *, d: int | None = None) -> SingularSystem:
    """Return ``value`` if it is a :class:`SingularSystem` with at least ``d`` nontrivial pairs,
    else raise (``TypeError`` for the type, ``ValueError`` for too few pairs)."""
    if not isinstance(value, SingularSystem):
        raise TypeError(f"{name} must be a SingularSystem (from Context.svd), "
                        f"got {type(value).__name__}")
    if d is not None and value.d < d:
        raise ValueError(f"{name} has only {value.d} nontrivial pairs, need d = {d}")
    return value


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _freeze(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


def _house_apply(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Apply ``H = I - 2 w w^T / (w^T w)`` to the columns of x."""
    return x - np.outer(w, (2.0 / (w @ w)) * (w @ x))


def _finish(
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    px: np.ndarray,
    pa: np.ndarray,
    solver: str,
    residual: float,
) -> SingularSystem:
    """Prepend the trivial pair, convert to functions, fix signs (:func:`column_signs`)."""
    mu = u / np.sqrt(px)[:, None]
    signs = column_signs(mu)
    mu = mu * signs
    nu = v / np.sqrt(pa)[:, None] * signs
    mu = np.hstack([np.ones((mu.shape[0], 1)), mu])
    nu = np.hstack([np.ones((nu.shape[0], 1)), nu])
    s = np.concatenate([[1.0], np.clip(s, 0.0, None)])
    _freeze(mu, nu, s)
    return SingularSystem(s, mu, nu, px, pa, solver, float(residual))


def _report(msg: str, on_inaccurate: str) -> None:
    if on_inaccurate == "warn":
        warnings.warn(msg, InaccurateSpectrumWarning, stacklevel=3)
    else:
        raise InaccurateSpectrumError(msg)


def _residual_norms(q: Any, u: np.ndarray, v: np.ndarray, s: np.ndarray) -> np.ndarray:
    r1 = np.linalg.norm(np.asarray(q @ v) - u * s, axis=0)
    r2 = np.linalg.norm(np.asarray(q.T @ u) - v * s, axis=0)
    return np.maximum(r1, r2)


# --------------------------------------------------------------------------------------------
# dense solver
# --------------------------------------------------------------------------------------------


def _svd_dense(q: np.ndarray, px: np.ndarray, pa: np.ndarray, d: int):
    u0, v0 = np.sqrt(px), np.sqrt(pa)
    wx, wa = u0.copy(), v0.copy()
    wx[0] += 1.0  # H_x u0 = -e_1 (u0[0] > 0, so no cancellation)
    wa[0] += 1.0
    a = _house_apply(wx, q)
    a = _house_apply(wa, a.T).T  # H_x Q H_a = [[1, 0], [0, B]]
    b = np.ascontiguousarray(a[1:, 1:])
    try:
        ub, sb, vbt = sla.svd(b, full_matrices=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:  # pragma: no cover - gesdd rarely fails to converge
        ub, sb, vbt = sla.svd(b, full_matrices=False, lapack_driver="gesvd")
    u = np.zeros((q.shape[0], d))
    v = np.zeros((q.shape[1], d))
    u[1:] = ub[:, :d]
    v[1:] = vbt[:d].T
    return _house_apply(wx, u), _house_apply(wa, v), sb[:d].copy()


# --------------------------------------------------------------------------------------------
# iterative solver: block Lanczos with full re-orthogonalisation on K = Q Q^T - u0 u0^T
# --------------------------------------------------------------------------------------------


def _orth_against(w: np.ndarray, basis: np.ndarray, u0: np.ndarray) -> None:
    """Two passes of classical Gram-Schmidt of the columns of w against basis and u0 (in place)."""
    for _ in range(2):
        if basis.shape[1]:
            w -= basis @ (basis.T @ w)
        w -= np.outer(u0, u0 @ w)


def _lanczos_probe(matmat, u0: np.ndarray, basis: np.ndarray, steps: int,
                   rng: np.random.Generator) -> float:
    """Largest Ritz value of K restricted to the complement of [u0, basis] (a lower bound)."""
    n = u0.shape[0]
    steps = min(steps, n - 1 - basis.shape[1])
    if steps <= 0:
        return 0.0
    vs = np.empty((n, steps))
    x = rng.standard_normal((n, 1))
    _orth_against(x, basis, u0)
    alpha, beta = [], []
    for k in range(steps):
        nrm = float(np.linalg.norm(x))
        if nrm < 1e-13:
            break
        vs[:, k] = x[:, 0] / nrm
        if k:
            beta.append(nrm)
        w = matmat(vs[:, k : k + 1])
        _orth_against(w, basis, u0)
        alpha.append(float(vs[:, k] @ w[:, 0]))
        w -= vs[:, : k + 1] @ (vs[:, : k + 1].T @ w)
        w -= vs[:, : k + 1] @ (vs[:, : k + 1].T @ w)
        x = w
    t = np.diag(alpha) + np.diag(beta[: len(alpha) - 1], 1) + np.diag(beta[: len(alpha) - 1], -1)
    return float(np.linalg.eigvalsh(t)[-1]) if len(alpha) else 0.0


_CONTROLLER: ThreadpoolController | None = None


def _one_thread() -> Any:
    """Context running BLAS/LAPACK single-threaded.

    Small factorisations (Cholesky of a b x b Gram matrix) are up to ~80x slower with two
    OpenBLAS threads than with one (measured 10 ms vs 0.13 ms at b = 128), while the tall
    products around them gain from threads; so only the small calls are limited.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


def _chol_qr(w: np.ndarray) -> np.ndarray | None:
    """Q factor of CholeskyQR2 of a tall block (BLAS-3 only); None if w is ill-conditioned."""
    q = w
    eye = np.eye(w.shape[1])
    for _ in range(2):
        g = q.T @ q
        with _one_thread():
            try:
                r = sla.cholesky(g, lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                return None
            dg = np.abs(np.diag(r))
            if dg.min() <= 1e-6 * max(dg.max(), 1e-300):
                return None
            rinv = sla.solve_triangular(r, eye, lower=False, check_finite=False)
        q = q @ rinv
    return q


def _top_eigh(h: np.ndarray, hi: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs ``hi-1 .. lo`` (descending, 0 = largest) of the symmetric h.

    Full divide and conquer (``syevd``) when the requested slice is a sizeable part of h (it is
    then faster than the subset driver ``syevr``: measured 0.08 s vs 0.20 s at m = 900, 512
    pairs), ``syevr`` on the subset otherwise.
    """
    m = h.shape[0]
    if 3 * (hi - lo) >= m:
        theta, ys = sla.eigh(h, driver="evd", check_finite=False)
        theta, ys = theta[m - hi : m - lo], ys[:, m - hi : m - lo]
    else:
        theta, ys = sla.eigh(h, subset_by_index=(m - hi, m - 1 - lo), driver="evr",
                             check_finite=False)
    return theta[::-1], ys[:, ::-1]


def _block_qr(w: np.ndarray, prev: np.ndarray, u0: np.ndarray, rng: np.random.Generator,
              brk: float) -> np.ndarray:
    """Orthonormal basis of the new block w (already orthogonalised against prev and u0).

    CholeskyQR2 when w is well conditioned. Otherwise Householder QR, with columns that vanished
    (an invariant subspace was found) replaced by fresh random directions, followed by one more
    orthogonalisation against prev (normalising nearly dependent columns amplifies the rounding
    left in them).
    """
    qn = _chol_qr(w)
    if qn is not None:
        return qn
    qn, r = sla.qr(w, mode="economic", check_finite=False)
    small = np.abs(np.diag(r)) < brk
    if small.any():
        qn[:, small] = rng.standard_normal((w.shape[0], int(small.sum())))
    _orth_against(qn, prev, u0)
    return sla.qr(qn, mode="economic", check_finite=False)[0]


def _cheb_filter(kv: np.ndarray, v: np.ndarray, matmat, c: float, g: int) -> np.ndarray:
    """``T_g((2K - c)/c) v`` given ``kv = K v``: damps [0, c], amplifies (c, 1] (rescaled)."""
    half = 0.5 * c
    y0, y1 = v, (kv - half * v) / half
    for _ in range(2, g + 1):
        y2 = (2.0 / half) * (matmat(y1) - half * y1) - y0
        scale = np.abs(y2).max(axis=0)
        scale[scale == 0] = 1.0
        y0, y1 = y1 / scale, y2 / scale
    return y1


_PHASE1 = 1.25  # phase-1 Krylov dimension / d
_G_MAX = 8
_GROWTH = 1e9  # largest amplification T_g(t(1)) of the Chebyshev filter


def _cheb_degree(c: float, top: float) -> int:
    """Largest degree <= _G_MAX whose amplification T_g((2 top - c)/c) stays <= _GROWTH."""
    t_top = (2.0 * top - c) / c
    g = 1
    for k in range(2, _G_MAX + 1):
        if math.cosh(k * math.acosh(t_top)) > _GROWTH:
            break
        g = k
    return g


class _Grow:
    """An n x m float64 array (Fortran order) that grows by doubling its column capacity."""

    def __init__(self, n: int, cap: int, start: int) -> None:
        self.cap = cap
        self.a = np.empty((n, min(cap, start)), order="F")

    def ensure(self, m: int) -> None:
        if m > self.a.shape[1]:
            new = np.empty((self.a.shape[0], min(self.cap, max(m, 2 * self.a.shape[1]))),
                           order="F")
            new[:, : self.a.shape[1]] = self.a
            self.a = new


def _block_krylov(q, qt, matmat, u0, d, b, cap, tol, rng, c, g, first_check, decide):
    """One block Krylov run (see :func:`_svd_iterative`).

    Returns ``("done", (u, v, s, res, m))`` when converged (or out of room), or
    ``("restart", (c, g))`` when ``decide`` asks for a Chebyshev-filtered restart.
    """
    n = u0.shape[0]
    start = min(cap, 2 * d + 4 * b)
    basis, kbasis = _Grow(n, cap, start), _Grow(n, cap, start)
    hmat = np.zeros((cap, cap))  # upper part of B^T K B, filled block column by block column
    x = rng.standard_normal((n, b))
    _orth_against(x, basis.a[:, :0], u0)
    basis.a[:, :b] = sla.qr(x, mode="economic", check_finite=False)[0]
    m = b
    next_check = min(cap, first_check)
    history: list[tuple[int, float]] = []
    best = None
    while True:
        vj = basis.a[:, m - b : m]
        kv = matmat(vj)
        kbasis.ensure(m)
        kbasis.a[:, m - b : m] = kv
        prev = basis.a[:, :m]
        hcol = prev.T @ kv
        hmat[:m, m - b : m] = hcol
        room = m + b <= cap
        if m >= next_check or not room:
            h = np.triu(hmat[:m, :m])
            h = h + np.triu(h, 1).T
            lo = max(0, d - 2 * b)  # the slowest Ritz pairs: indices lo..d-1 (descending)
            theta, ys = _top_eigh(h, d, lo)
            res = np.linalg.norm(kbasis.a[:, :m] @ ys - prev @ (ys * theta), axis=0)
            sv = np.sqrt(np.clip(theta, 0.0, None))
            ratio = float(np.max(res / (0.5 * tol * np.maximum(sv, math.sqrt(tol)))))
            if ratio <= 1.0 or not room:
                y = _top_eigh(h, d, 0)[1]
                best = _ritz_svd(q, qt, prev, y, tol) + (m,)
                if best[3].max() <= tol or not room:
                    return "done", best
                ratio = max(ratio, 2.0)
            if decide is not None:
                choice = decide(float(theta[-1]))
                decide = None
                if choice is not None:
                    return "restart", choice
            history.append((m, math.log(ratio)))
            # convergence accelerates (superlinear), so a linear extrapolation of log(ratio)
            # overshoots: take the smaller of it and ~10% growth
            step = max(2 * b, int(0.1 * m))
            if len(history) >= 2:
                (m1, l1), (m2, l2) = history[-2], history[-1]
                slope = (l2 - l1) / (m2 - m1)
                if slope < 0:
                    step = int(min(max(b, l2 / -slope + b), step))
            next_check = min(cap, m + -(-step // b) * b)
        if g == 1:  # plain block Lanczos: the first Gram-Schmidt pass is hcol
            w = kv - prev @ hcol
            w -= prev @ (prev.T @ w)
            w -= np.outer(u0, u0 @ w)
        else:
            w = _cheb_filter(kv, vj, matmat, c, g)
            _orth_against(w, prev, u0)
        qn = _block_qr(w, prev, u0, rng, 1e-12 * max(1.0, float(np.abs(w).max())))
        basis.ensure(m + b)
        basis.a[:, m : m + b] = qn
        m += b


def _svd_iterative(
    q: Any,
    px: np.ndarray,
    pa: np.ndarray,
    d: int,
    *,
    tol: float,
    rng: np.random.Generator,
    block_size: int | None,
    max_dim: int | None,
):
    """Top-d nontrivial triplets of Q (rows >= cols handled by transposing). See module doc.

    Block Krylov on the deflated dual kernel ``K = Q Q^T - u0 u0^T`` with full
    re-orthogonalisation (CGS2 + CholeskyQR2); Rayleigh-Ritz with ``B^T K B`` (B orthonormal).
    Phase 1 runs plain block Lanczos to dimension ~1.25 d; if not yet converged, its d-th Ritz
    value c (a lower bound of lambda_d, typically near lambda_{1.5d}) defines a Chebyshev filter
    ``T_g((2K - c)/c)`` that damps the unwanted spectrum [0, c], and phase 2 builds a fresh
    Krylov space of the filtered operator (mixing plain and filtered blocks in one space
    converges badly, so the phase-1 space is discarded). The filter changes only the subspace;
    Ritz values and the final triplets come from K and Q themselves.
    """
    swap = q.shape[0] > q.shape[1]
    if swap:
        q, px, pa = q.T, pa, px
    if sp.issparse(q):
        q = sp.csr_matrix(q)
        qt = sp.csr_matrix(q.T)
    else:
        q = np.asarray(q)
        qt = q.T
    n = q.shape[0]
    u0 = np.sqrt(px)

    def matmat(x: np.ndarray) -> np.ndarray:
        w = np.asarray(q @ np.asarray(qt @ x))
        w -= np.outer(u0, u0 @ x)
        return w

    if block_size is None:
        b = int(min(32, max(4, 2 ** round(math.log2(d / 16 + 1)))))
    else:
        b = block_size
    b = max(1, min(b, n - 1))
    cap = n - 1 if max_dim is None else min(max_dim, n - 1)
    if max_dim is None:  # small problems may fill the whole space (then the result is exact)
        cap = min(cap, max(8 * (d + 1), d + 10 * b, 2000))
    if cap == n - 1:  # the Krylov space may fill the complement of u0: blocks must tile it
        while (n - 1) % b:
            b -= 1
    while (cap // b) * b < d:  # the Krylov space must hold at least d vectors in whole blocks
        b -= 1
    cap = (cap // b) * b

    def decide(c: float):  # c = theta_d, a lower bound of lambda_d
        if not 0.0 < c < 0.5:
            return None
        g = _cheb_degree(c, 1.0)  # 1 bounds the top eigenvalue of K
        return (c, g) if g > 1 else None

    m1 = max(d + 2 * b, -(-int(_PHASE1 * d) // b) * b)
    kind, out = _block_krylov(q, qt, matmat, u0, d, b, cap, tol, rng, None, 1, m1, decide)
    if kind == "restart":
        c, g = out
        kind, out = _block_krylov(q, qt, matmat, u0, d, b, cap, tol, rng, c, g, d + 4 * b, None)
    u, v, s, res, m = out
    # missed-eigenvalue probe on the complement of the returned subspace
    probe = _lanczos_probe(matmat, u0, u, steps=30, rng=rng)
    missed = probe > s[-1] ** 2 + tol
    if swap:
        u, v = v, u
    return u, v, s, res, m, missed, math.sqrt(max(probe, 0.0))


def _ritz_svd(q: Any, qt: Any, basis: np.ndarray, y: np.ndarray | None, tol: float):
    """Rayleigh-Ritz for the SVD on span(basis @ y): thin SVD of ``W = Q^T U``.

    Right vectors of singular values below ``tol / 4`` are numerically arbitrary (they come from
    rounding in W); they are re-orthogonalised against the reliable ones, so that they lie in the
    right tail space and the residual stays below ~tol / 2 (the values are then certified to tol,
    the vectors are an arbitrary basis of the tail, as in any SVD of a cluster below tol).
    """
    u = basis if y is None else basis @ y
    gram = u.T @ u
    if np.abs(gram - np.eye(gram.shape[0])).max() > 1e-12:  # guard against lost orthogonality
        u = sla.qr(u, mode="economic", check_finite=False)[0]
    w = np.asarray(qt @ u)  # M x d
    sw = np.linalg.norm(w, axis=0)
    gw = w.T @ w
    denom = np.outer(sw, sw)
    off = np.abs(gw - np.diag(np.diag(gw))) / np.where(denom > 0, denom, 1.0)
    if sw.min() > 0 and off.max() <= 1e-12:
        # Ritz vectors of K already diagonalise W^T W = U^T K U: W's columns are the triplets
        order = np.argsort(-sw, kind="stable")
        u, sw = u[:, order], sw[order]
        vw = w[:, order] / sw
    else:
        try:
            vw, sw, vwt = sla.svd(w, full_matrices=False, lapack_driver="gesdd")
        except np.linalg.LinAlgError:  # pragma: no cover
            vw, sw, vwt = sla.svd(w, full_matrices=False, lapack_driver="gesvd")
        u = u @ vwt.T
    tiny = sw < 0.25 * tol
    if tiny.any():
        vt = vw[:, tiny]
        for _ in range(2):
            vt -= vw[:, ~tiny] @ (vw[:, ~tiny].T @ vt)
            vt = sla.qr(vt, mode="economic", check_finite=False)[0]
        vw = vw.copy()
        vw[:, tiny] = vt
    res = _residual_norms(q, u, vw, sw)
    return u, vw, sw, res


def _svd_gram(q: Any, px: np.ndarray, pa: np.ndarray, d: int, tol: float):
    """Dense eigendecomposition of the deflated dual kernel, then Rayleigh-Ritz for the SVD."""
    swap = q.shape[0] > q.shape[1]
    if swap:
        q, px, pa = q.T, pa, px
    qd = dense(q)
    u0 = np.sqrt(px)
    k = qd @ qd.T
    k -= np.outer(u0, u0)
    n = k.shape[0]
    # syevx (bisection + inverse iteration): measured 4.2 s vs 4.6 s for syevr at n = 4177,
    # d = 512; _ritz_svd re-orthogonalises if its vectors lose orthogonality
    y = sla.eigh(k, subset_by_index=(n - d, n - 1), driver="evx", overwrite_a=True,
                 check_finite=False)[1][:, ::-1]
    u, v, s, res = _ritz_svd(qd, qd.T, y, None, tol)
    if swap:
        u, v = v, u
    return u, v, s, res


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def svd(
    context: Context,
    d: int,
    *,
    solver: Literal["auto", "dense", "gram", "sparse"] = "auto",
    tol: float = 1e-8,
    on_inaccurate: Literal["raise", "warn"] = "raise",
    seed: int | np.random.Generator = 0,
    block_size: int | None = None,
    max_dim: int | None = None,
    dense_limit: int = DENSE_LIMIT,
) -> SingularSystem:
    """Top-d nontrivial singular triplets of T_{P+} and the trivial one (Lemmas 3-4).

    Returns a :class:`SingularSystem` with ``s`` (d+1, descending, ``s[0] == 1``), ``mu``
    (N x (d+1)) and ``nu`` (M x (d+1)), orthonormal in L2(P_X) / L2(P_A), sign-fixed per
    CONTRIBUTING.md. ``d`` counts nontrivial pairs (Definition 5 excludes mu_0), 1 <= d <=
    min(N, M) - 1.

    ``solver``: ``"dense"`` (full LAPACK SVD; the oracle), ``"gram"`` (dense eigensolver on the
    dual kernel plus Rayleigh-Ritz; dense contexts with many pairs), ``"sparse"`` (matrix-free
    block Krylov on the dual kernel; KNN contexts and large N), or ``"auto"``: dense when
    ``min(N, M) <= 1500`` or ``d + 1 > min(N, M) / 3`` (and ``N * M <= dense_limit``); else gram
    for a densely stored context with ``d + 1 > min(N, M) / 20``; else sparse -- and, when
    those cannot certify ``tol`` but ``N * M <= dense_limit``, the dense oracle.
    ``tol`` bounds the certified residual (module docstring); above it the call raises
    :class:`InaccurateSpectrumError`, or warns with the achieved accuracy if
    ``on_inaccurate="warn"``.
    ``seed`` fixes the random start block of the iterative solver; ``block_size`` and ``max_dim``
    (largest Krylov dimension; default ``min(N-1, max(8(d+1), d + 10 block, 2000))``) tune it.
    Chapter ``ch01_contexts`` and every later chapter.
    """
    n_x, n_a = context.shape
    r = min(n_x, n_a)
    if r < 2:
        raise ValueError(f"context must have at least 2 points in X and in A to have a "
                         f"nontrivial pair, got shape {context.shape}")
    d = check_int("d", d, lo=1, hi=r - 1)
    solver = check_choice("solver", solver, ["auto", "dense", "gram", "sparse"])
    tol = check_float("tol", tol, lo=0.0, lo_open=True)
    on_inaccurate = check_choice("on_inaccurate", on_inaccurate, ["raise", "warn"])
    dense_limit = check_int("dense_limit", dense_limit, lo=1)
    if block_size is not None:
        block_size = check_int("block_size", block_size, lo=1, hi=r - 1)
    if max_dim is not None:
        max_dim = check_int("max_dim", max_dim, lo=d, hi=max(d, r - 1))
    rng = as_rng(seed)

    dense_ok = n_x * n_a <= dense_limit
    if solver == "auto" and dense_ok and not (r <= AUTO_DENSE_MAX or d + 1 > r / 3):
        # try the cheaper dual-kernel solvers; fall back to the oracle if they cannot certify
        # tol (singular values far below 1 lose accuracy when squared in the dual kernel)
        fast = "gram" if not context.is_sparse and d + 1 > r / 20 else "sparse"
        try:
            return svd(context, d, solver=fast, tol=tol, seed=rng, block_size=block_size,
                       max_dim=max_dim, dense_limit=dense_limit)
        except InaccurateSpectrumError:
            solver = "dense"
    if solver == "auto":
        if dense_ok and (r <= AUTO_DENSE_MAX or d + 1 > r / 3):
            solver = "dense"
        elif dense_ok and not context.is_sparse and d + 1 > r / 20:
            solver = "gram"
        else:
            solver = "sparse"
    if solver in ("dense", "gram") and not dense_ok:
        raise ValueError(f"solver={solver!r} needs N * M <= dense_limit = {dense_limit}, got "
                         f"{n_x} * {n_a} = {n_x * n_a}; use solver='sparse'")

    px, pa = context.px, context.pa
    q = context.q_matrix()
    if solver == "dense":
        qd = dense(q)
        u, v, s = _svd_dense(qd, px, pa, d)
        res = _residual_norms(q, u, v, s)
        worst = float(res.max())
        if worst > tol:
            _report(f"dense SVD residual {worst:.3g} exceeds tol = {tol:g}", on_inaccurate)
        return _finish(u, v, s, px, pa, "dense", worst)

    if solver == "gram":
        u, v, s, res = _svd_gram(q, px, pa, d, tol)
        worst = float(res.max())
        if worst > tol:
            _report(f"gram solver residual {worst:.3g} exceeds tol = {tol:g}; use "
                    f"solver='dense'", on_inaccurate)
        return _finish(u, v, s, px, pa, "gram", worst)

    u, v, s, res, m, missed, probe = _svd_iterative(
        q, px, pa, d, tol=tol, rng=rng, block_size=block_size, max_dim=max_dim)
    worst = float(res.max())
    if worst > tol:
        _report(f"sparse solver reached residual {worst:.3g} > tol = {tol:g} with Krylov "
                f"dimension {m} (max_dim); the singular values are accurate to about {worst:.1e}. "
                f"Increase max_dim or use solver='dense'", on_inaccurate)
    if missed:
        _report(f"sparse solver missed a singular value: the complement still holds one of at "
                f"least {probe:.10f} > s_d = {s[-1]:.10f}; increase max_dim or block_size",
                on_inaccurate)
    return _finish(u, v, s, px, pa, "sparse", worst)


def residuals(context: Context, system: SingularSystem) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair residuals ``||Q v_i - s_i u_i||`` and ``||Q^T u_i - s_i v_i||`` (Lemma 3).

    ``u_i = sqrt(px) mu_i``, ``v_i = sqrt(pa) nu_i``; both vanish for an exact singular system.
    Equivalent to ``||T nu_i - s_i mu_i||_{P_X}`` and ``||T* mu_i - s_i nu_i||_{P_A}``.
    """
    q = context.q_matrix()
    u = system.mu * np.sqrt(context.px)[:, None]
    v = system.nu * np.sqrt(context.pa)[:, None]
    r1 = np.linalg.norm(np.asarray(q @ v) - u * system.s, axis=0)
    r2 = np.linalg.norm(np.asarray(q.T @ u) - v * system.s, axis=0)
    return r1, r2


def extend(system: SingularSystem, conditional_new: Any) -> np.ndarray:
    """Out-of-sample extension of the left singular functions by Lemma 3.

    ``mu_i(x) = s_i^{-1} (T nu_i)(x) = s_i^{-1} sum_j P+(a_j | x) nu_i(a_j)`` for new points x,
    given ``conditional_new[k, j] = P+(a_j | x_k)`` (rows summing to 1; dense or sparse). Column
    0 is the row sum, i.e. 1. Applied to the training rows it reproduces ``system.mu`` (Lemma 3).
    Raises if some ``s_i`` is (numerically) zero, where Lemma 3 does not apply. Used for test
    points of a sample context (:meth:`contexture.contexts.SampleContext.extend`).
    """
    if sp.issparse(conditional_new):
        c = sp.csr_matrix(conditional_new, dtype=np.float64)
    else:
        c = check_matrix("conditional_new", conditional_new, ndim=2, nonnegative=True)
    if c.shape[1] != system.nu.shape[0]:
        raise ValueError(f"conditional_new must have {system.nu.shape[0]} columns (one per "
                         f"context value), got shape {c.shape}")
    tiny = np.flatnonzero(system.s <= 1e-12)
    if tiny.size:
        raise ValueError(f"extend needs s_i > 1e-12 for all pairs (Lemma 3), got s[{tiny[0]}] = "
                         f"{system.s[tiny[0]]!r}; truncate the system first")
    return np.asarray(c @ system.nu) / system.s


def reconstruct_joint(system: SingularSystem) -> np.ndarray:
    """Rank-(d+1) reconstruction ``sum_{i<=d} s_i mu_i(x) nu_i(a) P_X(x) P_A(a)`` (Lemma 4).

    With all pairs (d = min(N, M) - 1) it equals the joint P+(x, a) exactly; otherwise it is the
    best rank-(d+1) approximation of the density ratio in L2(P_X x P_A). Dense N x M.
    """
    core = (system.mu * system.s) @ system.nu.T
    return core * system.px[:, None] * system.pa[None, :]
