"""Validation helpers shared by the metrics modules (on top of :mod:`contexture.base.checks`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from contexture.base.checks import check_float, check_matrix, check_table

# Values this far outside [0, 1] (round-off from an eigensolver) are clipped, not rejected.
SPECTRUM_ATOL = 1e-9


def check_spectrum(
    name: str, value: Any, *, squared: bool = False, sorted_desc: bool = True, min_len: int = 1
) -> np.ndarray:
    """Return nontrivial singular values (or their squares) as float64 in ``[0, 1]``, else raise.

    Round-off within ``SPECTRUM_ATOL`` of ``[0, 1]`` is clipped. ``sorted_desc`` requires a
    non-increasing sequence (same tolerance).
    """
    arr = check_matrix(name, value, ndim=1)
    what = "squared singular values" if squared else "singular values"
    if arr.size < min_len:
        raise ValueError(f"{name} must hold at least {min_len} nontrivial {what}, "
                         f"got {arr.size}")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -SPECTRUM_ATOL or hi > 1 + SPECTRUM_ATOL:
        bad = lo if lo < -SPECTRUM_ATOL else hi
        raise ValueError(f"{name} must hold {what} in [0, 1], got {bad!r}")
    arr = np.clip(arr, 0.0, 1.0)
    if sorted_desc and arr.size > 1:
        steps = np.diff(arr)
        if np.any(steps > SPECTRUM_ATOL):
            i = int(np.argmax(steps))
            raise ValueError(f"{name} must be non-increasing (nontrivial {what} "
                             f"s_1 >= s_2 >= ...), got {name}[{i}]={arr[i]!r} < "
                             f"{name}[{i + 1}]={arr[i + 1]!r}")
    return arr


def check_coords(name: str, value: Any, n_basis: int) -> np.ndarray:
    """Return a ``K x d`` coordinate matrix (``K <= n_basis``) zero-padded to ``n_basis`` rows."""
    arr = check_table(name, value)
    if arr.shape[0] > n_basis:
        raise ValueError(f"{name} must have at most len(s)={n_basis} rows (coordinates in "
                         f"mu_1..mu_K), got shape {arr.shape}")
    if arr.shape[0] < n_basis:
        arr = np.vstack([arr, np.zeros((n_basis - arr.shape[0], arr.shape[1]))])
    return arr


def check_weights(name: str, value: Any, n: int) -> np.ndarray:
    """Return nonnegative sample weights of length ``n`` normalised to sum 1, else raise."""
    w = check_matrix(name, value, ndim=1, nonnegative=True)
    if w.size != n:
        raise ValueError(f"{name} must have length {n} (one weight per row), got {w.size}")
    total = float(w.sum())
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum, got {total!r}")
    return w / total


def orthonormal_basis(M: np.ndarray, rtol: float) -> np.ndarray:
    """Euclidean orthonormal basis of the column span of ``M`` (rank-revealing SVD).

    Singular values at most ``rtol * sigma_max`` count as zero (a purely relative tolerance,
    so the rank does not change when ``M`` is rescaled).
    """
    if M.shape[1] == 0:
        return np.zeros((M.shape[0], 0))
    U, sv, _ = np.linalg.svd(M, full_matrices=False)
    if sv.size == 0 or sv[0] == 0.0:
        return np.zeros((M.shape[0], 0))
    return U[:, sv > rtol * sv[0]]


def check_rtol(value: Any) -> float:
    """Validate a relative rank tolerance."""
    return check_float("rtol", value, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
