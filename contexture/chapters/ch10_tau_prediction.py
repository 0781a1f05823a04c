r"""Does :math:`\tau` predict the downstream error? Companion of ``ch10_tau_prediction``.

The large-scale test of Sec. 5.3 (Table 1, Fig. 6): for every dataset, the metric
:math:`\tau` of Eq. (4) and the downstream error :math:`\mathrm{err}_{d^*}` of the 140 contexts
(RBF, KNN, RBF_mask, KNN_mask at 35 association levels each), correlated over the contexts by
Pearson's coefficient and the distance correlation. The contexts, spectra and probes come from
the ``real_data`` sweep of :mod:`contexture.evaluation.sweep` (shared with
``ch08_association_real_data``); this module holds the paper's Table 1 and the per-dataset
correlations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from contexture.evaluation.agreement import tau_error_agreement
from contexture.evaluation.sweep import chapter_sweep
from contexture.sweeps import Sweep

__all__ = [
    "PAPER_MEAN",
    "PAPER_MEDIAN",
    "PAPER_TABLE1",
    "SWEEPS",
    "build_sweep",
    "correlations",
    "side_by_side",
    "summarise",
]

PAPER_TABLE1: dict[str, tuple[float, float]] = {
    "credit-approval": (0.583, 0.683),
    "breast-w": (0.072, 0.255),
    "diabetes": (0.737, 0.740),
    "solar_flare": (0.019, 0.262),
    "Moneyball": (0.680, 0.650),
    "yeast": (0.221, 0.256),
    "cmc": (0.867, 0.860),
    "wine_quality_red": (-0.084, 0.212),
    "scene": (0.608, 0.685),
    "dna": (0.881, 0.843),
    "splice": (0.831, 0.801),
    "kr-vs-kp": (0.543, 0.512),
    "abalone": (0.028, 0.470),
    "spambase": (0.775, 0.858),
    "colleges": (0.155, 0.387),
    "mushroom": (0.185, 0.340),
    "kin8nm": (0.805, 0.760),
    "pumadyn32nh": (0.938, 0.961),
    "cpu_activity": (0.709, 0.825),
    "SpeedDating": (0.590, 0.656),
    "grid_stability": (0.925, 0.911),
    "sulfur": (-0.180, 0.487),
    "brazilian_houses": (-0.290, 0.563),
    "fifa": (-0.349, 0.663),
    "superconductivity": (0.141, 0.367),
    "kings_county": (0.842, 0.882),
    "health_insurance": (0.601, 0.749),
    "cps88wages": (0.250, 0.479),
}
"""Table 1 of the paper (Sec. 5.3): (Pearson, distance correlation) between :math:`\\tau` and
:math:`\\mathrm{err}_{d^*}` over the 140 contexts of each dataset, keyed by registry name (the
paper's "Wine" is ``wine_quality_red``). The header's "Distribution" is read as "Distance"."""

PAPER_MEAN = (0.431, 0.611)
"""The mean row of Table 1 as printed (Pearson, distance correlation; 28 datasets)."""

PAPER_MEDIAN = (0.587, 0.659)
"""The median row of Table 1 as printed (Pearson, distance correlation; 28 datasets)."""


def build_sweep(params: dict[str, Any]) -> Sweep:
    """The ``real_data`` sweep with all four context types (Table 1, Fig. 6 of Sec. 5.3)."""
    return chapter_sweep(params)


SWEEPS = {"real_data": build_sweep}


def correlations(levels: pd.DataFrame, *, by: Sequence[str] = ("dataset",),
                 min_level: int = 0) -> pd.DataFrame:
    r"""Pearson, distance and Spearman correlation of :math:`\tau` and :math:`\mathrm{err}_{d^*}`.

    One row per group of ``by`` (default: per dataset, over all its contexts, as in Table 1),
    over the rows of ``levels`` (a :func:`~contexture.evaluation.sweep.level_table`) with
    ``level >= min_level`` (0 = every level; a larger value leaves out the strongest contexts).
    Correlations by :func:`~contexture.evaluation.agreement.tau_error_agreement`: contexts
    with an infinite :math:`\tau` (counted in ``n_infinite``) or a NaN are left out.
    Sec. 5.3, Table 1.
    """
    rows = []
    sub = levels[levels["level"] >= min_level]
    for key, g in sub.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        row.update(tau_error_agreement(g["tau"], g["err_star"]))
        rows.append(row)
    return pd.DataFrame(rows)


def side_by_side(corr: pd.DataFrame) -> pd.DataFrame:
    """Table 1 beside ours: one row per dataset of ``corr`` (which has ``dataset``, ``pearson``,
    ``dcor``), with the paper's two values and the differences (ours minus paper)."""
    missing = [d for d in corr["dataset"] if d not in PAPER_TABLE1]
    if missing:
        raise KeyError(f"datasets {missing} are not in the paper's Table 1")
    out = corr[["dataset", "pearson", "dcor"]].copy()
    out["paper_pearson"] = [PAPER_TABLE1[d][0] for d in out["dataset"]]
    out["paper_dcor"] = [PAPER_TABLE1[d][1] for d in out["dataset"]]
    out["diff_pearson"] = out["pearson"] - out["paper_pearson"]
    out["diff_dcor"] = out["dcor"] - out["paper_dcor"]
    return out


def summarise(table: pd.DataFrame) -> dict[str, float]:
    """Mean and median of ours and of the paper's values over the datasets of ``table`` (a
    :func:`side_by_side` table): keys ``{ours,paper}_{mean,median}_{pearson,dcor}``."""
    out = {}
    for who, prefix in (("ours", ""), ("paper", "paper_")):
        for col in ("pearson", "dcor"):
            v = table[prefix + col].to_numpy(float)
            out[f"{who}_mean_{col}"] = float(np.nanmean(v))
            out[f"{who}_median_{col}"] = float(np.nanmedian(v))
    return out
