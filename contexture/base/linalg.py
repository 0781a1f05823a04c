"""Matrix helpers shared by every layer: dense or CSR matrices, row/column scaling."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from contexture.base.checks import check_matrix

__all__ = ["Matrix", "as_matrix", "check_no_empty", "col_sums", "row_sums", "scale_cols",
           "scale_rows"]

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


