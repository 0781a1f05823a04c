r"""Exact top singular functions of a sample context (kernel PCA) and their Lemma-3 extension.

For a context on ``n`` pretrain points with uniform :math:`P_{\mathcal X}` and conditional
``P`` (``n x n``, row-stochastic), ``Q = P diag(n p_A)^{-1/2}`` has the singular values
:math:`s_i` of :math:`T_{P^+}` (Definition 2, Lemma 4), and the dual kernel's Gram matrix
``k_X^+(x_i, x_j) = n (Q Q^T)_{ij}`` (Definition 1). The eigenvalues of the deflated matrix
``K = Q Q^T - 1 1^T / n`` are :math:`s_1^2\ge s_2^2\ge\dots` (the trivial pair
:math:`s_0 = 1`, :math:`\mu_0\equiv1` removed exactly), and its unit eigenvectors ``u_i`` give
:math:`\mu_i=\sqrt n\,u_i`, orthonormal in :math:`L^2(P_{\mathcal X})`; this is kernel PCA on the
dual kernel, the exact encoder of Sec. 5.3.

Lemma 3 extends them to any point x: :math:`\nu_i=T^*\mu_i/s_i` and
:math:`\mu_i(x)=s_i^{-1}\sum_jP^+(x_j|x)\nu_i(x_j)`, i.e.
:math:`\mu_i(x)=s_i^{-2}\,[P^+(\cdot|x)]\,W_i` with ``W = diag(1/(n p_A)) P^T mu``. On the
pretrain points the extension reproduces :math:`\mu_i` up to the eigen-residual
:math:`\|Ku_i-s_i^2u_i\|`, which is therefore reported as the accuracy certificate (Weyl: each
:math:`s_i^2` is within it of an eigenvalue of ``K``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas

from contexture.base.checks import check_float, check_int, check_matrix
from contexture.base.linalg import column_signs

__all__ = ["ExactEncoder", "exact_encoder", "top_eigh", "usable_dimension"]


def top_eigh(K: np.ndarray, k: int, *, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` eigenpairs of the symmetric ``K``, descending.

    LAPACK divide and conquer (``syevd``, all pairs) when ``3 k >= n``, else the MRRR subset
    driver (``syevr``), the rule of :mod:`contexture.spectra`. With ``overwrite`` a C-ordered
    ``K`` is passed to LAPACK transposed, so that it is not copied. Signs are not fixed here.
    Kernel PCA of Sec. 5.3 (Lemma 4); chapters: the real-data chapters.
    """
    n = K.shape[0]
    if K.flags.c_contiguous:  # K symmetric: its transpose is the Fortran-ordered copy-free view
        K = K.T
    if 3 * k >= n:
        w, v = sla.eigh(K, driver="evd", overwrite_a=overwrite, check_finite=False)
        return w[::-1][:k].copy(), v[:, ::-1][:, :k].copy()
    w, v = sla.eigh(K, subset_by_index=(n - k, n - 1), driver="evr", overwrite_a=overwrite,
                    check_finite=False)
    return w[::-1].copy(), v[:, ::-1].copy()


@dataclass(frozen=True, eq=False)
class ExactEncoder:
    r"""Top nontrivial singular triplets of a sample context and its Lemma-3 extension.

    Attributes
    ----------
    s : (k,) nontrivial singular values :math:`s_1\ge\dots\ge s_k` (trivial 1 excluded).
    mu : (n, k) :math:`\mu_1..\mu_k` on the pretrain points, ``mu.T @ mu / n == I``, sign
        convention of :func:`contexture.base.linalg.column_signs`.
    W : (n, k) ``diag(1/(n p_A)) P^T mu`` (:math:`=s_i\nu_i`), the weights of the extension.
    kernel_deviation : :math:`\frac1{n^2}\sum_{ij}|k_X^+(x_i,x_j)-1|` (App. F.1), or NaN when
        not asked for.

    Lemma 3, Sec. 5.3 (the exact encoder); chapters: the real-data chapters.
    """

    s: np.ndarray
    mu: np.ndarray
    W: np.ndarray
    kernel_deviation: float

    @property
    def k(self) -> int:
        """Number of nontrivial pairs."""
        return int(self.s.size)

    def extend(self, P_rows: np.ndarray, d: int | None = None) -> np.ndarray:
        r""":math:`\mu_1..\mu_d` at new points by Lemma 3 from their conditionals.

        ``P_rows[r, j] = P+(x_j | x_r)`` for new points ``x_r`` (rows summing to 1). Returns
        ``(rows, d)``; ``d`` (default all) must keep :math:`s_d>0`.
        """
        d = self.k if d is None else check_int("d", d, lo=0, hi=self.k)
        if d and self.s[d - 1] <= 0.0:
            raise ValueError(f"the Lemma-3 extension needs s_i > 0 for i <= d = {d}, got "
                             f"s_{d} = {self.s[d - 1]!r}")
        return (P_rows @ self.W[:, :d]) / (self.s[:d] ** 2)

    def residuals(self, P_pre: np.ndarray) -> np.ndarray:
        r"""Eigen-residuals :math:`\|Ku_i-s_i^2u_i\|` from the pretrain conditional ``P_pre``."""
        n = self.mu.shape[0]
        return np.linalg.norm(P_pre @ self.W - self.mu * self.s**2, axis=0) / np.sqrt(n)


def _deflated_gram(P: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``Q Q^T - 1/n`` for ``Q = P diag(c)`` (Fortran order), with no other n x n array.

    Column blocks of ``Q`` are accumulated by BLAS ``syrk`` into the lower triangle, which is
    then mirrored block by block.
    """
    n = P.shape[0]
    K = np.zeros((n, n), order="F")
    step = max(256, (1 << 24) // (8 * n))
    q = np.empty((n, min(step, P.shape[1])), order="F")
    for j0 in range(0, P.shape[1], step):
        blk = q[:, : min(step, P.shape[1] - j0)]
        np.multiply(P[:, j0:j0 + blk.shape[1]], c[j0:j0 + blk.shape[1]], out=blk)
        K = blas.dsyrk(1.0, blk, beta=1.0, c=K, lower=1, overwrite_c=1)
    for i0 in range(0, n, step):  # upper triangle from the lower one
        i1 = min(i0 + step, n)
        K[i0:i1, i1:] = K[i1:, i0:i1].T
        blk = K[i0:i1, i0:i1]
        blk[np.triu_indices(i1 - i0, 1)] = blk.T[np.triu_indices(i1 - i0, 1)]
    K -= 1.0 / n
    return K


def exact_encoder(P_pre: np.ndarray, k: int, *, kernel_deviation: bool = False,
                  timings: dict[str, float] | None = None) -> ExactEncoder:
    r"""Kernel PCA on the dual kernel of a sample context: the top-``k`` nontrivial pairs.

    ``P_pre`` is the ``n x n`` conditional ``P[i, j] = P+(x_j | x_i)`` on the pretrain points
    (uniform :math:`P_{\mathcal X}`, ``A = X``; every column must carry mass). Forms the
    deflated Gram matrix ``K`` (one symmetric product, module docstring), takes its top ``k``
    eigenpairs with :func:`top_eigh`, and the Lemma-3 weights ``W``. Memory besides ``P_pre``:
    ``K`` (``n x n``), one column block of ``Q`` and the ``n x k`` vectors.
    ``kernel_deviation`` also returns the App. F.1 measure
    :math:`\mathbb E|k_X^+-1|=n\cdot\mathrm{mean}|K|` over the pretrain pairs. ``timings``
    (optional dict) accumulates seconds under ``"gram"``, ``"eigh"`` and ``"weights"``.
    Definitions 1-2, Lemmas 3-4, Sec. 5.3 (the exact encoder); used by
    :func:`contexture.evaluation.evaluate_contexts` (the real-data chapters).
    """
    P = check_matrix("P_pre", P_pre, ndim=2)
    n = P.shape[0]
    if P.shape != (n, n):
        raise ValueError(f"P_pre must be square (pretrain points x pretrain points), got "
                         f"shape {P.shape}")
    k = check_int("k", k, lo=1, hi=n - 1)
    pa = P.mean(axis=0)
    if pa.min() <= 0:
        raise ValueError(f"every pretrain point must receive context mass, got P_A = 0 at "
                         f"column {int(np.argmin(pa))}")
    t0 = time.perf_counter()
    K = _deflated_gram(P, 1.0 / np.sqrt(n * pa))
    dev = float(n * np.abs(K).mean()) if kernel_deviation else float("nan")
    t1 = time.perf_counter()
    lam, U = top_eigh(K, k, overwrite=True)
    del K
    t2 = time.perf_counter()
    U *= column_signs(U)
    s = np.sqrt(np.clip(lam, 0.0, 1.0))
    mu = U * np.sqrt(n)
    W = (P.T @ mu) * (1.0 / (n * pa))[:, None]
    if timings is not None:
        t3 = time.perf_counter()
        for key, dt in (("gram", t1 - t0), ("eigh", t2 - t1), ("weights", t3 - t2)):
            timings[key] = timings.get(key, 0.0) + dt
    return ExactEncoder(s=s, mu=mu, W=W, kernel_deviation=dev)


def usable_dimension(s: np.ndarray, s_floor: float) -> int:
    r"""Number of leading singular functions whose extension is numerically determined.

    Lemma 3 divides by :math:`s_i^2`; below ``s_floor`` (the book uses ``1e-6``, i.e.
    :math:`s_i^2` at 1e-12, ten thousand times the rounding of ``K``) the extended function is
    rounding noise, and the probe stops there (assumed). Used for the real-data experiments.
    """
    s_floor = check_float("s_floor", s_floor, lo=0.0)
    below = np.flatnonzero(s < s_floor)
    return int(below[0]) if below.size else int(s.size)
