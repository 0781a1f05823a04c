"""Argument validation shared by the whole library.

Every public function validates its inputs *before* any long computation and raises a
:class:`ValueError` (or :class:`TypeError`) whose message names the argument, the bad
value and what is allowed, e.g. ``"k must be an integer in [1, 99], got 0"``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "as_numpy",
    "as_rng",
    "check_choice",
    "check_float",
    "check_int",
    "check_matrix",
    "check_probability_vector",
    "check_table",
]


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    lo_s = "-inf" if lo is None else repr(lo)
    hi_s = "inf" if hi is None else repr(hi)
    return f"{left}{lo_s}, {hi_s}{right}"


def check_int(name: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[lo, hi]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        allowed = _range_text(lo, hi, False, False)
        raise TypeError(f"{name} must be an integer in {allowed}, "
                        f"got {value!r} of type {type(value).__name__}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        allowed = _range_text(lo, hi, False, False)
        raise ValueError(f"{name} must be an integer in {allowed}, got {v}")
    return v


def check_float(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` in the stated interval, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        allowed = _range_text(lo, hi, lo_open, hi_open)
        raise TypeError(f"{name} must be a real number in {allowed}, "
                        f"got {value!r} of type {type(value).__name__}")
    v = float(value)
    bad = not np.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        raise ValueError(f"{name} must be a finite number in "
                         f"{_range_text(lo, hi, lo_open, hi_open)}, got {v!r}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise listing the allowed values."""
    allowed = list(choices)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_matrix(name: str, value: Any, *, ndim: int = 2, nonnegative: bool = False) -> np.ndarray:
    """Return ``value`` as a finite float64 array with ``ndim`` dimensions, else raise."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    if nonnegative and np.any(arr < 0):
        i = np.unravel_index(np.argmin(arr), arr.shape)
        where = tuple(int(j) for j in i)
        raise ValueError(f"{name} must be nonnegative, got {float(arr[i])!r} at index {where}")
    return arr


def as_numpy(value: Any) -> Any:
    """A torch tensor detached and copied to a NumPy array on the CPU; anything else unchanged.

    Duck-typed (``detach``), so the base layer does not import torch.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def check_table(name: str, value: Any, *, rows: int | None = None,
                what: str = "point") -> np.ndarray:
    """Return ``value`` as a finite float64 ``n x d`` table of functions on ``n`` points, else
    raise.

    A 1-D array is one column; a torch tensor is detached and copied to the CPU. With ``rows``
    the table must have exactly that many rows (one per ``what``).
    """
    arr = np.asarray(as_numpy(value), dtype=np.float64)
    arr = check_matrix(name, arr[:, None] if arr.ndim == 1 else arr, ndim=2)
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows (one per {what}), got shape {arr.shape}")
    return arr


def check_probability_vector(name: str, value: Any, *, atol: float = 1e-9) -> np.ndarray:
    """Return ``value`` as a 1-D float64 probability vector (nonnegative, sums to 1), else raise."""
    p = check_matrix(name, value, ndim=1, nonnegative=True)
    total = float(p.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1 (tolerance {atol}), got sum {total!r}")
    return p


def as_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """A :class:`numpy.random.Generator`: ``seed`` itself if it is one, else one seeded with the
    integer ``seed >= 0`` (the library's seeding convention: no global random state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int(name, seed, lo=0))
