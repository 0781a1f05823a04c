"""The real-data sweep shared by the association and Table 1 chapters, and its tidy tables.

One sweep, ``real_data``, holds every (dataset, context type, chunk of levels) cell of the
protocol of Sec. 5.3 (:func:`~contexture.evaluation.cell.evaluate_contexts`, with the
association measures of App. F.1). ``ch08_association_real_data`` reads its RBF and KNN rows
(Figs 2, 8-11) and ``ch10_tau_prediction`` all four types (Table 1, Fig. 6); both build the
sweep from the same parameters, so the second chapter reads the cells the first one stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from contexture.base.checks import check_int
from contexture.data import info, names
from contexture.evaluation.cell import evaluate_contexts
from contexture.evaluation.grids import CONTEXT_TYPES
from contexture.sweeps import Grid, Sweep, SweepResult

__all__ = ["CHAPTER_SETTINGS", "SWEEP_SETTINGS", "chapter_sweep", "held_datasets", "level_chunks",
           "level_table", "real_data_cell", "real_data_sweep"]

SWEEP_SETTINGS = ("d0", "n_pretrain_cap", "n_eval_cap", "seed", "n_levels", "max_fraction",
                  "n_masks", "mask_fraction", "ridge_grid", "beta", "association", "lipschitz_n",
                  "s_floor")
"""Keyword arguments of :func:`evaluate_contexts` that a sweep may fix (all cells alike)."""


CHAPTER_SETTINGS = ("d0", "n_pretrain_cap", "n_eval_cap", "seed", "n_levels", "n_masks",
                    "mask_fraction", "lipschitz_n")
"""The chapter parameters that :func:`chapter_sweep` passes on (the same in both chapters)."""


def held_datasets() -> list[str]:
    """The Table 1 datasets that can be prepared without internet (26 of the paper's 28).

    ``colleges`` and ``superconductivity`` have no offline copy (see the datasets page); they
    are prepared only from OpenML.
    """
    return [n for n in names(table1_only=True) if info(n).offline]


def level_chunks(levels: Sequence[int], chunk: int) -> tuple[tuple[int, ...], ...]:
    """Split level indices into consecutive tuples of at most ``chunk`` (one sweep cell each).

    Levels in one cell share their distance and neighbour computations; smaller chunks give
    finer resumption and more parallelism.
    """
    chunk = check_int("level_chunk", chunk, lo=1)
    lv = sorted({check_int("level", int(v), lo=0) for v in levels})
    if not lv:
        raise ValueError("levels is empty; give at least one level index")
    return tuple(tuple(lv[i:i + chunk]) for i in range(0, len(lv), chunk))


def real_data_cell(dataset: str, context: str, levels: Sequence[int], **settings: Any
                   ) -> dict[str, Any]:
    """One cell of :func:`real_data_sweep`: :func:`evaluate_contexts` without the point's axes.

    The sweep joins each record with its parameters, so ``dataset`` and ``context`` are left
    out of the record itself; ``d0`` is lowered to ``n - 2`` on datasets with fewer pretrain
    points (the record's ``d0`` says which was used).
    """
    rec = evaluate_contexts(dataset, context, levels, clip_d0=True, **settings)
    for axis in ("dataset", "context"):
        rec.pop(axis)
    return rec


def real_data_sweep(datasets: Sequence[str], contexts: Sequence[str] = CONTEXT_TYPES,
                    levels: Sequence[int] | None = None, *, level_chunk: int = 7,
                    name: str = "real_data", **settings: Any) -> Sweep:
    """The sweep of Sec. 5.1-5.3: datasets x context types x chunks of association levels.

    Parameters
    ----------
    datasets : names of :func:`contexture.data.names` (checked before anything runs).
    contexts : a subset of ``("rbf", "knn", "rbf_mask", "knn_mask")``.
    levels : level indices into the grid of ``settings["n_levels"]`` (default 35) levels;
        ``None`` = all of them.
    level_chunk : levels per cell (:func:`level_chunks`).
    name : the sweep's name (its folder in the store).
    **settings : the fixed keyword arguments of :func:`evaluate_contexts`, one of
        :data:`SWEEP_SETTINGS`; a sequence (``ridge_grid``) is stored as a list.

    Raises
    ------
    contexture.data.UnknownDatasetError
        for an unknown dataset; ``ValueError`` for an unknown context type, an unknown
        setting or a level outside the grid.
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("datasets is empty; give at least one name of contexture.data.names()")
    for ds in datasets:
        info(ds)
    bad = [c for c in contexts if c not in CONTEXT_TYPES]
    if bad or not contexts:
        raise ValueError(f"unknown context type(s) {bad or list(contexts)}; allowed: "
                         f"{list(CONTEXT_TYPES)}")
    unknown = sorted(set(settings) - set(SWEEP_SETTINGS))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} of the real-data sweep; allowed: "
                         f"{list(SWEEP_SETTINGS)}")
    n_levels = check_int("n_levels", settings.get("n_levels", 35), lo=2)
    lv = range(n_levels) if levels is None else list(levels)
    out_of_range = [v for v in lv if not 0 <= int(v) < n_levels]
    if out_of_range:
        raise ValueError(f"levels {out_of_range} are outside the grid of {n_levels} levels "
                         f"(indices 0..{n_levels - 1})")
    fixed = {k: (list(map(float, v)) if k == "ridge_grid" else v) for k, v in settings.items()}
    grid = Grid(dataset=datasets, context=list(contexts), levels=level_chunks(lv, level_chunk))
    return Sweep(name, real_data_cell, grid, fixed=fixed)


def chapter_sweep(params: Mapping[str, Any], contexts: Sequence[str] = CONTEXT_TYPES) -> Sweep:
    """The ``real_data`` sweep from a chapter's parameters (Sec. 5.1-5.3, App. F.1).

    ``params`` holds ``datasets`` (empty = :func:`held_datasets`), ``levels``,
    ``level_chunk`` and every name of :data:`CHAPTER_SETTINGS`; the association measures of
    App. F.1 are always computed, so ``ch08_association_real_data`` (RBF and KNN) and
    ``ch10_tau_prediction`` (all four types) store and read the same cells.
    """
    missing = [k for k in ("datasets", "levels", "level_chunk", *CHAPTER_SETTINGS)
               if k not in params]
    if missing:
        raise KeyError(f"chapter parameters lack {missing} for the real-data sweep")
    datasets = list(params["datasets"]) or held_datasets()
    return real_data_sweep(datasets, contexts, params["levels"],
                           level_chunk=params["level_chunk"], association=True,
                           **{k: params[k] for k in CHAPTER_SETTINGS})


_PER_LEVEL = ("level", "k", "value", "neighbourhood", "d_star", "err_star", "tau", "tau_d_star",
              "decay_rate", "sum_s2", "kernel_deviation", "lipschitz", "lipschitz_scaled",
              "d_usable", "residual")
_PER_CELL = ("n_pretrain", "n_train", "n_test", "n_features", "n_targets", "d0")


def level_table(result: SweepResult | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (dataset, context type, level): the scalar results of every level.

    Columns: ``dataset``, ``context``, the per-level scalars of :func:`evaluate_contexts`
    (``level``, ``k``, ``value``, ``neighbourhood``, ``d_star``, ``err_star``, ``tau``,
    ``decay_rate``, ``kernel_deviation``, ``lipschitz_scaled``, ...) and the per-cell sizes
    (``n_pretrain``, ``n_train``, ``n_test``, ``n_features``, ``d0``) and ``err0`` (the error
    of the bias alone, ``d = 0``); datasets in the order of the records, then context type
    and level.
    """
    rows = []
    for rec in result:
        n = len(np.atleast_1d(rec["level"]))
        for i in range(n):
            row = {"dataset": rec["dataset"], "context": rec["context"]}
            row.update({k: np.atleast_1d(rec[k])[i].item() for k in _PER_LEVEL if k in rec})
            row["err0"] = float(np.atleast_2d(rec["err"])[i, 0])
            row.update({k: rec[k] for k in _PER_CELL if k in rec})
            rows.append(row)
    if not rows:
        raise ValueError("no records: the sweep has no finished cell")
    order = {c: i for i, c in enumerate(CONTEXT_TYPES)}
    first = {d: i for i, d in enumerate(dict.fromkeys(r["dataset"] for r in rows))}
    df = pd.DataFrame(rows)
    df["_d"], df["_c"] = df["dataset"].map(first), df["context"].map(order)
    return (df.sort_values(["_d", "_c", "level"]).drop(columns=["_d", "_c"])
            .reset_index(drop=True))
