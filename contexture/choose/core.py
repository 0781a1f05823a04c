r"""Choosing a context for a user's data file: the real-data protocol of Sec. 5.3 on a CSV.

The paper's practical promise (Sec. 5.3, Table 1): the metric :math:`\tau` of Eq. (4) ranks
contexts without labels, so the association level can be picked before any training. This
module applies the book's protocol to one file:

1. **read** a CSV / TSV / Parquet file (:func:`read_table`); numeric and categorical columns;
2. **prepare** it with the book's rule (:func:`prepare_file`): rows with a missing target are
   dropped, the rows are subsampled to ``max_rows`` (seeded), split 70/15/15 into pretrain /
   downstream / test (:func:`contexture.data.split_indices`, App. E), and the features are
   preprocessed exactly as the book's datasets (:func:`contexture.data.fit_preprocessor`,
   fitted on the pretrain rows: numeric missing values -> the pretrain median, then z-scored;
   categoricals one-hot with a ``<missing>`` level);
3. **sweep** every context type at ``n_levels`` association levels
   (:func:`build_sweep`, cells of :mod:`contexture.choose.cell`): the exact spectrum,
   :math:`\tau`, :math:`\arg\min_d\tau_d` and, with a target, the ridge probe's
   :math:`\mathrm{err}_{d^*}` on the held-out test part;
4. **report** (:func:`ranking_table`, :func:`agreement`, :func:`plot_tau`, :func:`write_outputs`):
   the :math:`\tau` minimiser is the recommended setting.

Without a target the same split is drawn (so the pretrain points, hence :math:`\tau`, are the
ones a later ``--target`` run uses) and a dummy all-zero target is passed to
:func:`contexture.evaluation.prepare_arrays`; its probe errors are dropped.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contexture.choose.cell import arrays_sha256, choose_cell
from contexture.data import CanonicalTable, file_digest, fit_preprocessor, split_indices
from contexture.data.canonical import atomic_path
from contexture.evaluation import CONTEXT_TYPES, feature_groups, level_chunks, subseed
from contexture.evaluation.agreement import TAU_INFINITE, tau_error_agreement
from contexture.evaluation.grids import K_MIN
from contexture.sweeps import Grid, Sweep, SweepResult, run_sweep

__all__ = [
    "EXTENSIONS",
    "MAX_CATEGORY_LEVELS",
    "TAU_INFINITE",
    "ChooseError",
    "ChooseSettings",
    "PreparedFile",
    "agreement",
    "build_sweep",
    "check_settings",
    "choose",
    "min_rows",
    "plot_tau",
    "prepare_file",
    "ranking_table",
    "read_table",
    "recommended_row",
    "summary_text",
    "write_outputs",
]

EXTENSIONS = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq")
"""File types the command reads (by extension)."""

MAX_CATEGORY_LEVELS = 100
"""A categorical column with more levels than this (or a distinct value in every row) is
dropped as an identifier (assumed; its one-hot block would swamp the distances)."""

MAX_CLASS_LEVELS = 10
"""An integer-valued numeric target with at most this many distinct values is a class label
(``--task auto``; assumed)."""

SWEEP_NAME = "choose"
LEVEL_CHUNK = 7
_TAG_ROWS = 11  # the row-subsample stream of subseed (the protocol's own tags are 1-4)
FRACTIONS = (0.70, 0.15, 0.15)


class ChooseError(ValueError):
    """A usage error: a message saying what was wrong and what is allowed."""


@dataclass(frozen=True)
class ChooseSettings:
    """The command's settings (see ``python -m contexture.choose --help``)."""

    path: str
    target: str | None = None
    contexts: tuple[str, ...] = CONTEXT_TYPES
    n_levels: int = 12
    max_rows: int = 3000
    d0: int | None = None
    seed: int = 0
    task: str = "auto"
    n_masks: int = 50
    mask_fraction: float = 0.2
    max_fraction: float = 0.25


@dataclass
class PreparedFile:
    """A data file prepared for the protocol: arrays, sizes and what was done to the columns."""

    arrays: dict[str, np.ndarray]
    task: str
    n_classes: int | None
    sha256: str
    n_file: int
    n_used: int
    n_missing_target: int
    n_pre: int
    n_train: int
    n_test: int
    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str]
    n_model_columns: int
    n_groups: int
    classes: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV / TSV (optionally gzipped) or Parquet file into a DataFrame.

    Raises
    ------
    ChooseError
        for a missing or unreadable file, an unknown extension or an empty table.
    """
    p = Path(path)
    name = p.name.lower()
    ext = next((e for e in sorted(EXTENSIONS, key=len, reverse=True) if name.endswith(e)), None)
    if ext is None:
        raise ChooseError(f"cannot read {str(path)!r}: unknown file type {p.suffix!r}; allowed "
                          f"extensions: {', '.join(EXTENSIONS)}")
    if not p.is_file():
        raise ChooseError(f"cannot read {str(path)!r}: no such file")
    try:
        if ext.startswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p, sep="\t" if ext.startswith(".tsv") else ",")
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same usage error
        raise ChooseError(f"cannot read {str(path)!r} as {ext}: "
                          f"{type(exc).__name__}: {exc}") from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ChooseError(f"{str(path)!r} holds no data ({df.shape[0]} rows, "
                          f"{df.shape[1]} columns)")
    df.columns = [str(c) for c in df.columns]
    if len(set(df.columns)) != df.shape[1]:
        raise ChooseError(f"{str(path)!r} has repeated column names")
    return df


def _is_numeric(s: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))


def _encode_target(y: pd.Series, task: str) -> tuple[np.ndarray, str, list[str] | None]:
    numeric = _is_numeric(y)
    if task == "auto":
        vals = y.to_numpy()
        small_ints = (numeric and np.all(np.asarray(vals, float) == np.round(np.asarray(
            vals, float))) and y.nunique() <= MAX_CLASS_LEVELS)
        task = "regression" if numeric and not small_ints else "classification"
    if task == "regression":
        if not numeric:
            raise ChooseError(f"target {y.name!r} is not numeric (dtype {y.dtype}); use "
                              f"--task classification or another column")
        return y.to_numpy(np.float64), task, None
    classes = sorted(y.unique().tolist(), key=lambda v: (str(type(v)), v))
    codes = {v: i for i, v in enumerate(classes)}
    if len(classes) < 2:
        raise ChooseError(f"target {y.name!r} has a single class {classes[0]!r}; a classification "
                          f"target needs at least 2")
    return y.map(codes).to_numpy(np.int64), task, [str(c) for c in classes]


def _features(df: pd.DataFrame) -> tuple[CanonicalTable, list[str], list[str], dict[str, str]]:
    """Canonical features of the used rows; constant, identifier and other columns dropped."""
    numeric, categorical, dropped = [], [], {}
    cols, cats, categories = [], [], {}
    n = df.shape[0]
    for name in df.columns:
        s = df[name]
        present = s.dropna()
        if _is_numeric(s):
            if present.nunique() <= 1:
                dropped[name] = "constant" if present.size else "all missing"
                continue
            cols.append(s.to_numpy(np.float64))
            cats.append(False)
            numeric.append(name)
            continue
        if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
                or isinstance(s.dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(s.dtype)):
            dropped[name] = f"unsupported type {s.dtype}"
            continue
        text = present.astype(str)
        levels = sorted(text.unique().tolist())
        n_lv = len(levels) + (1 if present.size < n else 0)
        if n_lv <= 1:
            dropped[name] = "constant" if present.size else "all missing"
            continue
        if len(levels) > MAX_CATEGORY_LEVELS or (len(levels) == n and n > MAX_CLASS_LEVELS):
            dropped[name] = f"identifier-like ({len(levels)} distinct values)"
            continue
        code = {v: float(i) for i, v in enumerate(levels)}
        col = np.full(n, np.nan)
        mask = s.notna().to_numpy()
        col[mask] = text.map(code).to_numpy(np.float64)
        cols.append(col)
        cats.append(True)
        categories[name] = levels
        categorical.append(name)
    names = [c for c in df.columns if c not in dropped]
    X = np.column_stack(cols) if cols else np.zeros((n, 0))
    table = CanonicalTable(name="choose", task="regression", kind="tabular", X=X,
                           y=np.zeros(n), feature_names=names, categorical=cats,
                           categories=categories, target_name="", classes=None)
    return table, numeric, categorical, dropped


def _split_sizes(n: int) -> tuple[int, int, int]:
    n_pre, n_tr = int(round(FRACTIONS[0] * n)), int(round(FRACTIONS[1] * n))
    return n_pre, n_tr, n - n_pre - n_tr


def _rows_ok(n: int, d0: int | None, n_levels: int, max_fraction: float) -> bool:
    n_pre, n_tr, n_te = _split_sizes(n)
    if n_pre < 4 or n_tr < 3 or n_te < 1:
        return False
    if d0 is not None and d0 > n_pre - 2:
        return False
    return int(np.floor(max_fraction * n_pre)) - K_MIN + 1 >= n_levels


def min_rows(d0: int | None, n_levels: int, max_fraction: float = 0.25) -> int:
    """The fewest rows (after dropping missing targets) that the protocol accepts.

    The 70/15/15 split needs ``d0 <= n_pretrain - 2`` (``d0 + 1`` singular pairs, Eq. (4)),
    ``n_levels`` distinct neighbourhood sizes in ``2..floor(max_fraction * n_pretrain)``,
    at least 3 downstream rows and 1 test row.
    """
    n = 5
    while not _rows_ok(n, d0, n_levels, max_fraction):
        n += 1
    return n


def check_settings(s: ChooseSettings) -> None:
    """Validate the settings that need no data (raise :class:`ChooseError`)."""
    bad = [c for c in s.contexts if c not in CONTEXT_TYPES]
    if bad or not s.contexts:
        raise ChooseError(f"unknown context type(s) {', '.join(bad) or '(none)'}; allowed: "
                          f"{', '.join(CONTEXT_TYPES)}")
    if len(set(s.contexts)) != len(s.contexts):
        raise ChooseError(f"context types repeated in {','.join(s.contexts)}")
    for name, v in (("--levels", s.n_levels), ("--max-rows", s.max_rows)):
        if not isinstance(v, int) or v < 1:
            raise ChooseError(f"{name} must be a positive integer, got {v!r}")
    if s.d0 is not None and s.d0 < 1:
        raise ChooseError(f"--d0 must be a positive integer, got {s.d0!r}")
    if s.seed < 0:
        raise ChooseError(f"--seed must be a non-negative integer, got {s.seed!r}")
    if s.task not in ("auto", "classification", "regression"):
        raise ChooseError(f"--task must be auto, classification or regression, got {s.task!r}")


def prepare_file(s: ChooseSettings) -> PreparedFile:
    """Read and prepare ``s.path`` with the book's rule; every usage check happens here.

    The book's preprocessing (:mod:`contexture.data.preprocess`), fitted on the pretrain rows
    of the seeded 70/15/15 split (App. E; Sec. 5.3). Constant or all-missing columns and
    identifier-like categorical columns are dropped with a warning (the command fails only
    when no usable feature column remains).

    Raises
    ------
    ChooseError
        for an unreadable file, an unknown target column, no usable feature column, too few
        rows for ``d0`` and the level grid, or fewer than 2 features for a masked context.
    """
    check_settings(s)
    df = read_table(s.path)
    n_file = df.shape[0]
    n_missing_target = 0
    y_all: np.ndarray | None = None
    classes = None
    task = "regression"
    if s.target is not None:
        if s.target not in df.columns:
            raise ChooseError(f"--target {s.target!r} is not a column of {s.path!r}; columns: "
                              f"{', '.join(df.columns)}")
        keep = df[s.target].notna().to_numpy()
        n_missing_target = int((~keep).sum())
        df = df[keep].reset_index(drop=True)
        if df.shape[0] == 0:
            raise ChooseError(f"--target {s.target!r} is missing in every row")
    feats = df.drop(columns=[s.target]) if s.target is not None else df
    if feats.shape[1] == 0:
        raise ChooseError(f"{s.path!r} has no feature column besides the target {s.target!r}")
    n_avail = df.shape[0]
    need = min_rows(s.d0, s.n_levels, s.max_fraction)
    if min(n_avail, s.max_rows) < need:
        what = f"--d0 {s.d0} and --levels {s.n_levels}" if s.d0 else f"--levels {s.n_levels}"
        raise ChooseError(
            f"too few rows: {what} need at least {need} rows (70% of them pretrain points, "
            f"d0 <= n_pretrain - 2), but {n_avail} rows"
            + (" with a target value" if s.target else "")
            + (f" are available and --max-rows is {s.max_rows}" if s.max_rows < n_avail
               else " are available") + "; lower --d0 / --levels or give more rows")
    rows = np.arange(n_avail)
    if n_avail > s.max_rows:
        rows = np.sort(subseed(s.seed, _TAG_ROWS).choice(n_avail, size=s.max_rows,
                                                         replace=False))
    used = df.iloc[rows].reset_index(drop=True)
    table, numeric, categorical, dropped = _features(
        used.drop(columns=[s.target]) if s.target is not None else used)
    if not numeric and not categorical:
        raise ChooseError(f"no usable feature column in {s.path!r}: "
                          + "; ".join(f"{k}: {v}" for k, v in dropped.items()))
    for name, why in dropped.items():
        warnings.warn(f"column {name!r} dropped: {why}", UserWarning, stacklevel=2)
    if s.target is not None:
        y_all, task, classes = _encode_target(used[s.target], s.task)
    else:
        y_all = np.zeros(len(rows))
    n_used = len(rows)
    split = split_indices(n_used, s.seed, FRACTIONS)
    pre = fit_preprocessor(table, split.pretrain)
    X = pre.transform(table.X)
    groups = feature_groups(pre)
    n_groups = int(np.unique(groups).size)
    masked = [c for c in s.contexts if c.endswith("mask")]
    if masked and n_groups < 2:
        raise ChooseError(f"masked contexts ({', '.join(masked)}) hide a share of the features "
                          f"and need at least 2 usable feature columns, got {n_groups}; use "
                          f"--contexts knn,rbf")
    arrays = {"X_pre": X[split.pretrain], "X_train": X[split.train], "X_test": X[split.test],
              "y_pre": y_all[split.pretrain], "y_train": y_all[split.train],
              "y_test": y_all[split.test], "groups": groups.astype(np.int64)}
    notes = []
    if n_used < n_avail:
        notes.append(f"subsampled {n_used} of {n_avail} rows at random (seed {s.seed})")
    return PreparedFile(
        arrays=arrays, task=task, n_classes=len(classes) if classes else None,
        sha256=file_digest(s.path), n_file=n_file, n_used=n_used,
        n_missing_target=n_missing_target, n_pre=int(split.pretrain.size),
        n_train=int(split.train.size), n_test=int(split.test.size), numeric=numeric,
        categorical=categorical, dropped=dropped, n_model_columns=int(X.shape[1]),
        n_groups=n_groups, classes=classes, notes=notes)


def resolved_d0(s: ChooseSettings, prep: PreparedFile) -> int:
    """``--d0``, or ``min(512, n_pretrain - 2)`` (the paper's 512, Sec. 5.3) when not given."""
    return s.d0 if s.d0 is not None else min(512, prep.n_pre - 2)


def build_sweep(s: ChooseSettings, prep: PreparedFile, prepared_path: str | os.PathLike[str]
                ) -> Sweep:
    """The sweep: context types x chunks of at most 7 levels, cells :func:`choose_cell`.

    Every setting and the hash of the prepared arrays enter the key, so a changed file or
    setting computes new cells and an unchanged rerun reads them all from the store.
    """
    fixed = {"prepared": str(Path(prepared_path).resolve()),
             "prepared_sha256": arrays_sha256(prep.arrays), "task": prep.task,
             "n_classes": prep.n_classes, "probe": s.target is not None,
             "d0": resolved_d0(s, prep), "n_levels": s.n_levels, "n_masks": s.n_masks,
             "mask_fraction": s.mask_fraction, "max_fraction": s.max_fraction, "seed": s.seed}
    grid = Grid(context=list(s.contexts),
                levels=level_chunks(range(s.n_levels), LEVEL_CHUNK))
    return Sweep(SWEEP_NAME, choose_cell, grid, fixed=fixed)


def ranking_table(result: SweepResult | Sequence[dict[str, Any]], *, probe: bool
                  ) -> pd.DataFrame:
    """One row per context type x level (columns as in ``ranking.csv``).

    ``K`` is the neighbourhood size of the level (the KNN K; for RBF the size its gamma is
    matched to), ``gamma`` the RBF bandwidth (empty for KNN types), ``neighbourhood`` = K/n;
    ``tau`` (Eq. (4)) and ``tau_d_star`` (:math:`\\arg\\min_d\\tau_d`, the predicted
    :math:`d^*`); with a target ``err_star`` and ``d_star``; ``tau_rank`` (1 = smallest
    finite tau) and ``recommended`` (the tau minimiser).
    """
    rows = []
    for rec in result:
        for i in range(len(np.atleast_1d(rec["level"]))):
            ctx = rec["context"]
            row = {"context": ctx, "level": int(np.atleast_1d(rec["level"])[i]),
                   "K": int(np.atleast_1d(rec["k"])[i]),
                   "gamma": (float(np.atleast_1d(rec["value"])[i]) if ctx.startswith("rbf")
                             else float("nan")),
                   "neighbourhood": float(np.atleast_1d(rec["neighbourhood"])[i]),
                   "tau": float(np.atleast_1d(rec["tau"])[i]),
                   "tau_d_star": int(np.atleast_1d(rec["tau_d_star"])[i])}
            if probe:
                row["err_star"] = float(np.atleast_1d(rec["err_star"])[i])
                row["d_star"] = int(np.atleast_1d(rec["d_star"])[i])
            rows.append(row)
    if not rows:
        raise ValueError("no records: the sweep has no finished cell")
    order = {c: i for i, c in enumerate(CONTEXT_TYPES)}
    df = pd.DataFrame(rows)
    df = (df.assign(_c=df["context"].map(order)).sort_values(["_c", "level"])
          .drop(columns="_c").reset_index(drop=True))
    ok = np.isfinite(df["tau"]) & (df["tau"] < TAU_INFINITE)
    df["tau_rank"] = df["tau"].where(ok).rank(method="min").astype("Int64")
    df["recommended"] = False
    if ok.any():
        df.loc[df["tau"].where(ok).idxmin(), "recommended"] = True
    return df


def recommended_row(table: pd.DataFrame) -> pd.Series | None:
    """The recommended setting: the row with the smallest finite tau (None if none is)."""
    hit = table[table["recommended"]]
    return None if hit.empty else hit.iloc[0]


def agreement(table: pd.DataFrame) -> dict[str, float | int]:
    r"""How well :math:`\tau` ranked the contexts against the probe's :math:`\mathrm{err}_{d^*}`.

    Pearson, distance correlation (:func:`contexture.metrics.pearson`,
    :func:`contexture.metrics.distance_correlation`; Table 1 of Sec. 5.3) and Spearman rank
    correlation over the contexts with a finite tau below :data:`TAU_INFINITE` and a finite
    error (NaN when fewer than 3, or either is constant); ``regret`` = the error of the
    tau-chosen context minus the smallest error of the table (``>= 0``).
    """
    err = table["err_star"].to_numpy(float)
    out: dict[str, float | int] = dict(tau_error_agreement(table["tau"], err))
    nan = float("nan")
    best = recommended_row(table)
    finite = err[np.isfinite(err)]
    out["err_best"] = float(finite.min()) if finite.size else nan
    out["err_chosen"] = float(best["err_star"]) if best is not None else nan
    out["regret"] = out["err_chosen"] - out["err_best"]
    return out


def plot_tau(table: pd.DataFrame, path: str | os.PathLike[str], *, probe: bool) -> None:
    r"""``tau.png``: :math:`\tau` against the neighbourhood K/n of each level, per context type.

    The recommended setting (the :math:`\tau` minimiser) is circled; with a target a second
    panel shows :math:`\mathrm{err}_{d^*}` on the same axis. Levels with an infinite tau are
    left out. Sec. 5.3 (Fig. 6 shows the same pairing on the book's datasets).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from contexture.runtime.plotting import FULL_WIDTH, ROW_HEIGHT, use_style

    use_style()
    ncols = 2 if probe else 1
    fig, axes = plt.subplots(1, ncols, figsize=(FULL_WIDTH if probe else FULL_WIDTH / 1.6,
                                                 ROW_HEIGHT + 0.4), squeeze=False)
    ok = np.isfinite(table["tau"]) & (table["tau"] < TAU_INFINITE)
    best = recommended_row(table)
    panels = [("tau", r"$\tau$ (Eq. 4)")] + ([("err_star", r"err$_{d^*}$ (test MSE)")]
                                             if probe else [])
    for ax, (col, label) in zip(axes[0], panels, strict=True):
        for ctx, g in table[ok].groupby("context", sort=False):
            ax.plot(g["neighbourhood"], g[col], marker="o", ms=3.5, label=ctx)
        if best is not None:
            ax.scatter([best["neighbourhood"]], [best[col]], s=140, facecolors="none",
                       edgecolors="black", linewidths=1.5, zorder=5, label="recommended")
        ax.set_xscale("log")
        ax.set_xlabel("neighbourhood K/n (weaker ->)")
        ax.set_ylabel(label)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.4g}"


def _setting(row: pd.Series) -> str:
    what = (f"K = {row['K']}" if row["context"].startswith("knn")
            else f"gamma = {row['gamma']:.4g} (K ~ {row['K']})")
    return (f"{row['context']} at level {row['level']} ({what}, K/n = "
            f"{row['neighbourhood']:.3g})")


def summary_text(s: ChooseSettings, prep: PreparedFile, table: pd.DataFrame,
                 result: SweepResult, d0: int, out: Path, stats: dict[str, Any] | None) -> str:
    """The printed summary (also written to ``summary.txt``)."""
    lines = [f"contexture.choose: {s.path} (sha256 {prep.sha256[:12]})"]
    rows = f"rows: {prep.n_file} in the file"
    if prep.n_missing_target:
        rows += f", {prep.n_missing_target} without a target value dropped"
    rows += (f", {prep.n_used} used" + (f" (random subsample, --max-rows {s.max_rows}, seed "
                                          f"{s.seed})" if prep.notes else " (all)"))
    lines.append(rows)
    lines.append(f"split (seed {s.seed}): {prep.n_pre} pretrain / {prep.n_train} downstream / "
                 f"{prep.n_test} test")
    lines.append(f"features: {len(prep.numeric)} numeric, {len(prep.categorical)} categorical "
                 f"-> {prep.n_model_columns} columns ({prep.n_groups} mask groups)")
    if prep.dropped:
        lines.append("dropped: " + "; ".join(f"{k} ({v})" for k, v in prep.dropped.items()))
    lines.append("preprocessing: the book's rule (contexture.data.preprocess), fitted on the "
                 "pretrain rows")
    if s.target is not None:
        tgt = f"target: {s.target} ({prep.task}"
        tgt += f", {prep.n_classes} classes)" if prep.classes else ")"
        lines.append(tgt)
    else:
        lines.append("target: none (tau only; give --target COL for the probe check)")
    lines.append(f"contexts: {', '.join(s.contexts)} x {s.n_levels} levels; d0 = {d0}")
    lines.append(f"sweep: {len(result.records)} cells ({result.n_computed} computed, "
                 f"{result.n_cached} cached) in {result.store}")
    best = recommended_row(table)
    if best is None:
        lines.append("recommended: none (every tau is infinite or undefined)")
    else:
        lines.append(f"recommended: {_setting(best)}")
        lines.append(f"  tau = {_fmt(best['tau'])}, predicted d* = argmin tau_d = "
                     f"{best['tau_d_star']}")
    if stats is not None and best is not None:
        lines.append(f"  err_d* = {_fmt(stats['err_chosen'])} (d* = {best['d_star']}); best "
                     f"err_d* = {_fmt(stats['err_best'])}; regret = {_fmt(stats['regret'])}")
        b = table.loc[table["err_star"].idxmin()] if table["err_star"].notna().any() else None
        if b is not None:
            lines.append(f"  lowest error: {_setting(b)}")
        lines.append(f"agreement of tau with err_d* over {stats['n_contexts']} contexts: "
                     f"Pearson {_fmt(stats['pearson'])}, distance corr {_fmt(stats['dcor'])}, "
                     f"Spearman {_fmt(stats['spearman'])}")
    if int(np.sum(table["tau"] >= TAU_INFINITE)):
        lines.append(f"{int(np.sum(table['tau'] >= TAU_INFINITE))} settings have an infinite "
                     f"tau (never recommended)")
    top = table.dropna(subset=["tau_rank"]).sort_values("tau_rank").head(5)
    cols = ["context", "level", "K", "neighbourhood", "tau", "tau_d_star"] + (
        ["err_star", "d_star"] if s.target is not None else [])
    lines.append("lowest tau:")
    lines.extend("  " + ln for ln in top[cols].to_string(index=False, float_format=_fmt)
                 .splitlines())
    lines.append(f"wrote: {out / 'ranking.csv'}, {out / 'tau.png'}, {out / 'spectra.npz'}, "
                 f"{out / 'summary.txt'}")
    return "\n".join(lines)


def write_outputs(out: Path, table: pd.DataFrame, result: SweepResult, summary: str,
                  *, probe: bool) -> None:
    """Write ``ranking.csv``, ``spectra.npz``, ``tau.png`` and ``summary.txt`` atomically."""
    with atomic_path(out / "ranking.csv") as tmp:
        table.to_csv(tmp, index=False)
    spectra: dict[str, np.ndarray] = {}
    for rec in result:
        ctx = rec["context"]
        for key in ("s", "level", "k", "value"):
            v = np.atleast_1d(np.asarray(rec[key]))
            prev = spectra.get(f"{key}_{ctx}")
            spectra[f"{key}_{ctx}"] = v if prev is None else np.concatenate([prev, v])
    with atomic_path(out / "spectra.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **spectra)
    plot_tau(table, out / "tau.png", probe=probe)
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text(summary + "\n")


def choose(s: ChooseSettings, out: str | os.PathLike[str], *, workers: int | None = None,
           scheduler: Any = None, progress: bool = True, prepared: PreparedFile | None = None
           ) -> tuple[str, pd.DataFrame, SweepResult]:
    r"""Run the command: prepare, sweep, rank by :math:`\tau` (Eq. (4)), report (Sec. 5.3).

    Every usage check (:func:`prepare_file`) runs before ``out`` is created or touched. The
    cells are stored in ``<out>/cells`` (resumable; an unchanged rerun computes nothing).
    ``prepared``: the result of :func:`prepare_file` for ``s`` when the caller already has it.
    Returns ``(summary, ranking table, sweep result)``.
    """
    prep = prepare_file(s) if prepared is None else prepared
    d0 = resolved_d0(s, prep)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ChooseError(f"--out {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    prepared = out / "prepared.npz"
    with atomic_path(prepared) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **prep.arrays)
    sweep = build_sweep(s, prep, prepared)
    result = run_sweep(sweep, store=out / "cells", workers=workers, scheduler=scheduler,
                       progress=progress)
    probe = s.target is not None
    table = ranking_table(result, probe=probe)
    stats = agreement(table) if probe else None
    summary = summary_text(s, prep, table, result, d0, out, stats)
    write_outputs(out, table, result, summary, probe=probe)
    return summary, table, result
