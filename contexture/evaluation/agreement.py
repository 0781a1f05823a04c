r"""How well :math:`\tau` ranks contexts against their downstream error (Sec. 5.3, Table 1).

Shared by the Table 1 chapter ``ch10_tau_prediction`` and the command
``python -m contexture.choose``: Pearson's coefficient, the distance correlation and Spearman's
rank correlation between :math:`\tau` and :math:`\mathrm{err}_{d^*}` over a set of contexts,
with contexts whose :math:`\tau` is infinite in exact arithmetic left out and counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

from contexture.metrics import distance_correlation, pearson

__all__ = ["TAU_INFINITE", "tau_error_agreement"]

TAU_INFINITE = 1e8
r"""Values of :math:`\tau` at or above this are :math:`+\infty` in exact arithmetic (derived
here): :math:`\tau_d \ge 1/(1-s_{d+1}^2)` exceeds :math:`10^8` for every :math:`d\le d_0` only
when :math:`s_1..s_{d_0+1}` all equal 1 to about 8 digits, i.e. the context splits the
pretraining points into more than :math:`d_0` groups that never share a neighbour (a very
strong KNN context). Rounding then turns :math:`1/(1-1)` into a number near :math:`10^{15}`;
such contexts are left out of the correlations and counted."""


def tau_error_agreement(tau: Any, err: Any) -> dict[str, float | int]:
    r"""Pearson, distance and Spearman correlation of :math:`\tau` and :math:`\mathrm{err}_{d^*}`.

    Over the contexts with a finite error and a :math:`\tau` below :data:`TAU_INFINITE`
    (``n_contexts``; ``n_infinite`` counts those left out for an infinite :math:`\tau`). The
    correlations are NaN when fewer than 3 contexts remain or either side is constant.
    Sec. 5.3, Table 1 (Pearson and distance correlation).
    """
    t = np.asarray(tau, dtype=np.float64).ravel()
    e = np.asarray(err, dtype=np.float64).ravel()
    if t.shape != e.shape:
        raise ValueError(f"tau and err must have the same length, got {t.size} and {e.size}")
    ok = np.isfinite(t) & np.isfinite(e) & (t < TAU_INFINITE)
    out: dict[str, float | int] = {"n_contexts": int(ok.sum()),
                                   "n_infinite": int(np.sum(t >= TAU_INFINITE))}
    t, e = t[ok], e[ok]
    if t.size < 3 or np.ptp(t) == 0 or np.ptp(e) == 0:
        nan = float("nan")
        return {"pearson": nan, "dcor": nan, "spearman": nan, **out}
    return {"pearson": pearson(t, e), "dcor": distance_correlation(t, e),
            "spearman": float(spearmanr(t, e).statistic), **out}
