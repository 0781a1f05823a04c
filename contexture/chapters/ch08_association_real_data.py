r"""Association on real data: companion of ``ch08_association_real_data``.

The real-data experiment of Sec. 5.1 and App. F.1.1 (arXiv v2 numbering): for the RBF and KNN
contexts (``A = X``) at a grid of association levels, the downstream error
:math:`\mathrm{err}_{d^*}=\min_d\mathrm{err}_d` of a ridge probe on the exact top-:math:`d`
singular functions and the fitted decay rate of the singular values (Fig. 2; Figs 8 and 9 for
every dataset), and the expected kernel deviation and the Lipschitz estimate of the dual kernel
(Figs 10 and 11). The contexts, spectra and probes come from the ``real_data`` sweep of
:mod:`contexture.evaluation.sweep`; this module declares the chapter's view of it and turns its
per-level table into the chapter's statements:

* :func:`build_sweep` -- the sweep from the chapter's parameters (RBF and KNN only);
* :func:`build_weak_sweep` -- KNN on a grid that reaches weaker association than the shared
  one (neighbourhoods up to ``weak_max_fraction`` of the pretraining points), to see whether the
  right arm of the U appears there;
* :func:`error_shape`, :func:`curve_shapes` -- whether :math:`\mathrm{err}_{d^*}` is U-shaped
  along the association axis, by an explicit rule (:data:`SHAPES`);
* :func:`level_trends`, :func:`trend_summary` -- rank correlations between the association
  level and the decay rate, the kernel deviation and the Lipschitz estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from contexture.base.checks import check_float
from contexture.evaluation.sweep import chapter_sweep, held_datasets, real_data_sweep
from contexture.sweeps import Sweep

__all__ = [
    "CONTEXTS",
    "SHAPES",
    "SWEEPS",
    "TREND_MEASURES",
    "WEAK_SETTINGS",
    "build_sweep",
    "build_weak_sweep",
    "curve_shapes",
    "error_shape",
    "level_trends",
    "spearman",
    "trend_summary",
]

CONTEXTS = ("rbf", "knn")
"""The context types of Sec. 5.1 and Figs 2, 8-11 (the masked types are not used here)."""

SHAPES = ("U-shaped", "decreasing", "increasing", "flat")
"""The shapes of :func:`error_shape`, along the paper's axes (strongest association on the
left): ``decreasing`` = the error is smallest at the weak end, ``increasing`` = at the strong
end."""

TREND_MEASURES = ("decay_rate", "kernel_deviation", "lipschitz_scaled")
"""Columns of the per-level table whose trend along the levels :func:`level_trends` measures:
the decay rate of Sec. 5.1 (Figs 2, 8, 9), the expected kernel deviation and the Lipschitz
estimate times the feature dimension of App. F.1 (Figs 10, 11)."""


def build_sweep(params: Mapping[str, Any]) -> Sweep:
    """The ``real_data`` sweep restricted to RBF and KNN (Sec. 5.1, App. F.1.1; Figs 2, 8-11).

    ``params`` are the chapter's parameters (see
    :func:`contexture.evaluation.sweep.chapter_sweep`); the cells are the same as those of the
    four-type sweep of the Table 1 chapter, so each is computed once. Chapter
    ``ch08_association_real_data``.
    """
    return chapter_sweep(params, CONTEXTS)


WEAK_SETTINGS = ("d0", "n_pretrain_cap", "n_eval_cap", "seed", "n_levels")
"""The chapter parameters that :func:`build_weak_sweep` passes on unchanged."""


def build_weak_sweep(params: Mapping[str, Any]) -> Sweep:
    """KNN contexts on a grid reaching weaker association (Sec. 5.1, Fig. 8; grid assumed).

    The sweep ``real_data_weak``: the same datasets, levels and protocol as
    :func:`build_sweep`, for the KNN type only, with neighbourhood sizes from 2 up to
    ``params["weak_max_fraction"]`` of the pretraining points instead of a quarter of them
    (:func:`contexture.evaluation.grids.knn_levels`). The association measures are not
    computed. Chapter ``ch08_association_real_data``.
    """
    missing = [k for k in ("datasets", "levels", "level_chunk", "weak_max_fraction",
                           *WEAK_SETTINGS) if k not in params]
    if missing:
        raise KeyError(f"chapter parameters lack {missing} for the weak-grid sweep")
    datasets = list(params["datasets"]) or held_datasets()
    return real_data_sweep(datasets, ("knn",), params["levels"],
                           level_chunk=params["level_chunk"], name="real_data_weak",
                           max_fraction=params["weak_max_fraction"],
                           **{k: params[k] for k in WEAK_SETTINGS})


SWEEPS = {"real_data_association": build_sweep, "real_data_weak_knn": build_weak_sweep}
"""The sweeps this chapter reads (``python -m bookbuild sweep real_data_association``)."""


def error_shape(err: Sequence[float], margin: float = 0.05) -> dict[str, Any]:
    r"""Classify an error curve along the association levels (Sec. 5.1, Fig. 2; assumed rule).

    ``err`` holds :math:`\mathrm{err}_{d^*}` at increasing levels, **strongest association
    first** (the order of the paper's x-axes, :math:`-\gamma` and :math:`K/N`). With
    :math:`m=\min_l\mathrm{err}_l` and the relative excesses of the two ends,
    :math:`e_{\rm strong}=\mathrm{err}_{\rm first}/m-1` and
    :math:`e_{\rm weak}=\mathrm{err}_{\rm last}/m-1`, an end is *high* when its excess is
    positive and at least ``margin``; the curve is

    * ``"U-shaped"`` when both ends are high (so the minimum is at an interior level),
    * ``"decreasing"`` when only the strong end is high (best at or near the weak end),
    * ``"increasing"`` when only the weak end is high (best at or near the strong end),
    * ``"flat"`` when neither is.

    The paper calls its curves U-shaped without a rule; this one, and ``margin``, are assumed.
    NaN entries (levels without a usable probe) are dropped first.

    Returns
    -------
    dict with ``shape`` (one of :data:`SHAPES`), ``best`` (index of the smallest error among
    the finite entries), ``err_min``, ``strong_excess``, ``weak_excess`` and ``depth``
    (the smaller of the two excesses: how deep the U is).

    Raises
    ------
    ValueError
        if fewer than 3 entries are finite, if an error is not positive, or for a negative
        ``margin``. Chapter ``ch08_association_real_data``.
    """
    margin = check_float("margin", margin, lo=0.0)
    e = np.asarray(err, dtype=np.float64).ravel()
    e = e[np.isfinite(e)]
    if e.size < 3:
        raise ValueError(f"err must hold at least 3 finite errors (levels), got {e.size}")
    if e.min() <= 0:
        raise ValueError(f"errors must be positive to compare them relatively, got minimum "
                         f"{e.min()!r}")
    best = int(np.argmin(e))
    m = float(e[best])
    strong, weak = float(e[0] / m - 1.0), float(e[-1] / m - 1.0)
    high_strong = strong > 0 and strong >= margin
    high_weak = weak > 0 and weak >= margin
    if high_strong and high_weak:
        shape = "U-shaped"
    elif high_strong:
        shape = "decreasing"
    elif high_weak:
        shape = "increasing"
    else:
        shape = "flat"
    return {"shape": shape, "best": best, "err_min": m, "strong_excess": strong,
            "weak_excess": weak, "depth": min(strong, weak)}


def _groups(table: pd.DataFrame) -> Any:
    need = {"dataset", "context", "level"}
    missing = sorted(need - set(table.columns))
    if missing:
        raise KeyError(f"the level table lacks the column(s) {missing}")
    return table.sort_values("level", kind="stable").groupby(["dataset", "context"], sort=False)


def curve_shapes(table: pd.DataFrame, margin: float = 0.05) -> pd.DataFrame:
    r""":func:`error_shape` of every (dataset, context) curve of a level table (Figs 2, 8, 9).

    ``table`` is :func:`contexture.evaluation.sweep.level_table` (columns ``dataset``,
    ``context``, ``level``, ``err_star``, ``neighbourhood``, ``value``, ``d_star``). Returns one
    row per (dataset, context), in the table's order of appearance, with the fields of
    :func:`error_shape` and ``n_levels``, ``best_level`` (level index of the smallest error),
    ``best_neighbourhood`` (its :math:`K/n`) and ``best_value`` (its :math:`\gamma` or
    :math:`K`). Chapter ``ch08_association_real_data``.
    """
    rows = []
    for (ds, ctx), g in _groups(table):
        g = g[np.isfinite(g["err_star"].to_numpy(dtype=np.float64))]
        out = error_shape(g["err_star"].to_numpy(), margin)
        best = g.iloc[out["best"]]
        rows.append({"dataset": ds, "context": ctx, "n_levels": len(g),
                     "best_level": int(best["level"]),
                     "best_neighbourhood": float(best["neighbourhood"]),
                     "best_value": float(best["value"]), **out})
    return pd.DataFrame(rows)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` over their jointly finite entries.

    NaN when fewer than 3 pairs are finite or either side is constant (no ranking). Used for
    the trends of Sec. 5.1 and App. F.1 (Figs 8-11). Chapter ``ch08_association_real_data``.
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def level_trends(table: pd.DataFrame,
                 measures: Sequence[str] = TREND_MEASURES) -> pd.DataFrame:
    """Rank correlation between the level index and each measure, per (dataset, context).

    The level index grows as association **weakens** (level 0 is the strongest), so by
    Sec. 5.1 the decay rate should correlate positively (weak association = fast decay), and
    by App. F.1 the kernel deviation and the Lipschitz estimate negatively (Figs 8-11). Returns
    one row per (dataset, context) with a column ``<measure>`` holding :func:`spearman` of
    (level, measure). Chapter ``ch08_association_real_data``.
    """
    missing = [m for m in measures if m not in table.columns]
    if missing:
        raise KeyError(f"the level table lacks the column(s) {missing}")
    rows = []
    for (ds, ctx), g in _groups(table):
        row: dict[str, Any] = {"dataset": ds, "context": ctx}
        for m in measures:
            row[m] = spearman(g["level"], g[m])
        rows.append(row)
    return pd.DataFrame(rows)


def trend_summary(trends: pd.DataFrame, measure: str, sign: int) -> dict[str, float]:
    """Summary of one column of :func:`level_trends` over datasets (Sec. 5.1, App. F.1).

    ``sign`` (+1 or -1) is the direction the paper describes. Returns ``median``, ``min`` and
    ``max`` of the rank correlations, ``n`` (finite ones), ``n_direction`` (how many have the
    sign ``sign``) and ``n_monotone`` (how many equal ``sign`` exactly: perfectly monotone
    along the levels). Chapter ``ch08_association_real_data``.
    """
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, got {sign!r}")
    if measure not in trends.columns:
        raise KeyError(f"trends lack the column {measure!r}")
    r = trends[measure].to_numpy(dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        nan = float("nan")
        return {"median": nan, "min": nan, "max": nan, "n": 0, "n_direction": 0,
                "n_monotone": 0}
    return {"median": float(np.median(r)), "min": float(r.min()), "max": float(r.max()),
            "n": int(r.size), "n_direction": int(np.sum(sign * r > 0)),
            "n_monotone": int(np.sum(np.isclose(r, sign, rtol=0.0, atol=1e-12)))}
