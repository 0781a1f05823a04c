"""Matrix helpers shared by every layer: dense or CSR matrices, row/column scaling, the one sign
convention for singular and eigen functions and the one weighted eigendecomposition."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from contexture.base.checks import check_int, check_matrix

__all__ = ["Matrix", "as_matrix", "check_no_empty", "col_sums", "column_signs", "dense",
           "fix_signs", "orthonormal_completion", "row_sums", "scale_cols", "scale_rows",
           "weighted_eigh"]

Matrix = np.ndarray | sp.csr_matrix
"""A dense float64 array or a scipy CSR matrix."""

def as_matrix(name: str, value: Any) -> Matrix:
    """Validate a nonnegative finite 2-D matrix; keep scipy sparse input sparse (CSR)."""
    if sp.issparse(value):
        m = sp.csr_matrix(value, dtype=np.float64)
        if m.ndim != 2 or 0 in m.shape:
            raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {m.shape}")
        m.sum_duplicates()
        m.sort_indices()
        if not np.all(np.isfinite(m.data)):
            raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
        if m.nnz and m.data.min() < 0:
            k = int(np.argmin(m.data))
            row = int(np.searchsorted(m.indptr, k, side="right") - 1)
            raise ValueError(f"{name} must be nonnegative, got {float(m.data[k])!r} at index "
                             f"({row}, {int(m.indices[k])})")
        m.eliminate_zeros()
        return m
    return np.ascontiguousarray(check_matrix(name, value, ndim=2, nonnegative=True))


def row_sums(m: Matrix) -> np.ndarray:
    return np.asarray(m.sum(axis=1), dtype=np.float64).ravel()


def col_sums(m: Matrix) -> np.ndarray:
    return np.asarray(m.sum(axis=0), dtype=np.float64).ravel()


def check_no_empty(name: str, sums: np.ndarray, what: str) -> None:
    empty = np.flatnonzero(sums <= 0)
    if empty.size:
        shown = ", ".join(str(int(i)) for i in empty[:5]) + (", ..." if empty.size > 5 else "")
        raise ValueError(f"{name} has {empty.size} empty (all-zero) {what}(s) at index {shown}; "
                         f"every {what} must carry positive probability")


def scale_rows(m: Matrix, w: np.ndarray) -> Matrix:
    if sp.issparse(m):
        return sp.csr_matrix(sp.diags(w) @ m)
    return m * w[:, None]


def scale_cols(m: Matrix, w: np.ndarray) -> Matrix:
    if sp.issparse(m):
        return sp.csr_matrix(m @ sp.diags(w))
    return m * w[None, :]


def dense(m: Any) -> np.ndarray:
    """``m`` as a dense float64 array (scipy sparse matrices are expanded with ``toarray``)."""
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float64)


def column_signs(V: np.ndarray) -> np.ndarray:
    """The library's sign convention: ``+1`` or ``-1`` per column of ``V``.

    A column is flipped when its entry of largest absolute value (the first such row on ties) is
    negative; a zero column keeps its sign. Multiply a singular function and its partner
    (``mu_i`` and ``nu_i``) by the same sign to keep ``nu_i = T* mu_i / s_i`` (Lemma 3). Used
    by :func:`contexture.spectra.svd` and every eigendecomposition of the library.
    """
    if V.ndim != 2 or V.shape[1] == 0:
        return np.ones(V.shape[1] if V.ndim == 2 else 0)
    top = V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])]
    return np.where(top < 0, -1.0, 1.0)


def fix_signs(V: np.ndarray) -> np.ndarray:
    """``V`` with each column multiplied by its :func:`column_signs` (a new array)."""
    return V * column_signs(V)


def orthonormal_completion(F: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``[F, G]``: the ``N x r`` columns ``F``, orthonormal in ``L^2(p)``, completed to an
    ``L^2(p)``-orthonormal basis of all functions on the ``N`` points.

    ``G`` spans the orthogonal complement of ``span F`` (e.g. ``ker T*`` after the left singular
    functions, or ``ker T`` after the right ones), with the sign convention of
    :func:`column_signs`. Used for the complete singular systems of chapters
    ``ch03_self_supervised`` (Theorem 10's coordinates) and ``ch05_optimality``.
    """
    r = np.sqrt(p)
    extra = sla.null_space((F * r[:, None]).T)
    return np.hstack([F, fix_signs(extra / r[:, None])])


def weighted_eigh(
    kernel: Any,
    p: Any,
    *,
    top: int | None = None,
    deflate_constants: bool = False,
    name: str = "kernel",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigenpairs of the integral operator :math:`f\mapsto K\,\mathrm{diag}(p)\,f` on
    :math:`L^2(p)`.

    ``kernel`` is a symmetric ``N x N`` matrix :math:`K` (a Gram matrix such as
    :math:`k_X^+` of Definition 2 or the kernel of Lemma 18) and ``p`` positive weights (any
    positive sum). The operator is self-adjoint in :math:`L^2(p)` and similar to the symmetric
    :math:`D^{1/2}KD^{1/2}` (:math:`D=\mathrm{diag}(p)`), which is diagonalised; the
    eigenfunctions are :math:`D^{-1/2}u`. With ``deflate_constants`` the operator is
    diagonalised on the :math:`L^2(p)`-orthogonal complement of the constants only (it must map
    that complement to itself, e.g. :math:`T_{k_X^+}` or a random-walk operator), so that an
    eigenvalue 1 of multiplicity above one cannot mix the constant into the other columns;
    ``N - 1`` pairs are returned. For ``kernel`` the Gram matrix of :math:`k_X^+` and
    ``p = P_X`` this is kernel PCA on the dual kernel: eigenvalues :math:`s_i^2` and
    eigenfunctions :math:`\mu_i` (Lemma 3), computed independently of the SVD.

    Returns ``(eigenvalues, functions)``: the ``top`` largest eigenvalues (all if ``None``),
    descending, and their eigenfunctions as columns, with
    ``functions.T @ diag(p) @ functions == I`` and the sign convention of :func:`column_signs`.
    ``name`` names ``kernel`` in error messages. Used for Definition 5 (``ch01_contexts``),
    Theorems 6-8 (``ch02_supervised``), Theorem 11 (``ch03_self_supervised``) and Theorem 12 and
    kernel PCA (``ch04_manifold``).
    """
    k = check_matrix(name, dense(kernel), ndim=2)
    n = k.shape[0]
    if k.shape[1] != n:
        raise ValueError(f"{name} must be square, got shape {k.shape}")
    asym = float(np.abs(k - k.T).max())
    if asym > 1e-10 * float(np.abs(k).max()):
        raise ValueError(f"{name} must be symmetric, got max|{name} - {name}^T| = {asym!r}")
    w = check_matrix("p", p, ndim=1, nonnegative=True)
    if w.shape[0] != n:
        raise ValueError(f"p must have length {n} (one weight per row of {name}), "
                         f"got {w.shape[0]}")
    if np.any(w <= 0):
        raise ValueError(f"p must be strictly positive, got {float(w.min())!r}")
    count = n - 1 if deflate_constants else n
    top = count if top is None else check_int("top", top, lo=1, hi=count)
    r = np.sqrt(w)
    s = r[:, None] * k * r[None, :]
    s = 0.5 * (s + s.T)
    if deflate_constants:
        basis = sla.null_space((r / np.linalg.norm(r))[None, :])
        lam, y = np.linalg.eigh(basis.T @ s @ basis)
        u = basis @ y
    else:
        lam, u = np.linalg.eigh(s)
    return lam[::-1][:top].copy(), fix_signs(u[:, ::-1][:, :top] / r[:, None])
