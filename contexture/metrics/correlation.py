r"""Correlations between :math:`\tau` and the actual error (Sec. 5.3, Table 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from contexture.base.checks import check_matrix

__all__ = ["distance_correlation", "pearson"]


def _vectors(x: Any, y: Any, ndim_max: int) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, v in (("x", x), ("y", y)):
        arr = np.asarray(v, dtype=np.float64)
        if arr.ndim == 1 or ndim_max == 1:
            arr = check_matrix(name, arr, ndim=1)[:, None]
        else:
            arr = check_matrix(name, arr, ndim=2)
        out.append(arr)
    a, b = out
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"x and y must have the same number of samples, got {a.shape[0]} "
                         f"and {b.shape[0]}")
    if a.shape[0] < 2:
        raise ValueError(f"x and y need at least 2 samples, got {a.shape[0]}")
    return a, b


def pearson(x: Any, y: Any) -> float:
    """Pearson correlation of two 1-D samples (Table 1, column "Pearson", Sec. 5.3). Raises if
    either sample is constant."""
    a, b = _vectors(x, y, 1)
    a, b = a[:, 0] - a.mean(), b[:, 0] - b.mean()
    na, nb = np.sqrt(a @ a), np.sqrt(b @ b)
    for name, nv in (("x", na), ("y", nb)):
        if nv == 0.0:
            raise ValueError(f"{name} must not be constant (Pearson correlation undefined)")
    return float(np.clip(a @ b / (na * nb), -1.0, 1.0))


def distance_correlation(x: Any, y: Any) -> float:
    r"""Distance correlation :math:`\mathcal R_n(x, y)\in[0,1]` of Székely, Rizzo & Bakirov (2007).

    Returns dCor itself, **not** its square: :math:`\mathcal R_n` with the V-statistic (biased)
    estimator :math:`\mathcal R_n^2=\mathcal V_n^2(x,y)/\sqrt{\mathcal V_n^2(x)\,\mathcal
    V_n^2(y)}` from double-centred Euclidean distance matrices. Computed by the reference
    implementation, ``dcor.distance_correlation`` (O(n log n) for 1-D samples). Table 1, column
    "Dist. corr" (Sec. 5.3), which cites Székely et
    al. (2007), whose distance correlation is this :math:`\mathcal R_n`. ``x`` and ``y`` are
    1-D, or 2-D with rows as samples. Raises if either sample is constant.
    """
    a, b = _vectors(x, y, 2)
    for name, v in (("x", a), ("y", b)):
        if np.all(v == v[0]):
            raise ValueError(f"{name} must not be constant (distance correlation undefined)")
    import dcor  # deferred: importing dcor compiles its numba kernels (several seconds)

    return float(np.clip(dcor.distance_correlation(a, b), 0.0, 1.0))
