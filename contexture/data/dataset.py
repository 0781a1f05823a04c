"""Loading prepared datasets: :func:`load` returns preprocessed arrays plus metadata."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from contexture.base.checks import check_choice, check_int
from contexture.data.canonical import CanonicalTable, canonical_status, read_canonical, read_meta
from contexture.data.errors import DataNotPreparedError, DataUnavailableError
from contexture.data.paths import data_dir
from contexture.data.preprocess import Preprocessor, fit_preprocessor, output_width
from contexture.data.registry import REGISTRY, DatasetInfo, info
from contexture.data.splits import Split, split_indices

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Dataset", "load", "load_canonical", "provenance_table", "summary_table"]

_HOW_TO = ("run `make data` (downloads from OpenML), or `make data DATA_MIRROR=../shared/data` "
           "(imports a local mirror), or directly `python -m data_scripts.prepare --only {name} "
           "[--mirror DIR]`; set CONTEXTURE_DATA_DIR to use another data directory")


@dataclass(frozen=True)
class Dataset:
    """A loaded, preprocessed dataset (see :mod:`contexture.data.preprocess` for the rule).

    ``X`` is float64 (n × p) and ``y`` holds int64 labels (classification) or float64 targets
    (regression; z-scored unless ``load(..., standardize_target=False)``). When loaded with a
    ``seed``, ``split`` holds the 70/15/15 pretrain / downstream-train / test indices (App. E) and
    the preprocessing statistics come from the pretrain rows only.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    task: str
    target_name: str
    classes: tuple[str, ...] | None
    info: DatasetInfo
    provenance: dict[str, Any]
    preprocessor: Preprocessor
    split: Split | None = None
    seed: int | None = None
    subset: str | None = None
    target_mean: float | None = None
    target_scale: float | None = None
    raw: CanonicalTable | None = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features after preprocessing."""
        return int(self.X.shape[1])

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X, y)`` of ``"pretrain"``, ``"train"`` (downstream) or ``"test"``."""
        check_choice("which", which, Split._fields)
        if self.split is None:
            raise ValueError(f"dataset {self.name!r} was loaded without a split; pass seed= to "
                             f"load() to get the 70/15/15 pretrain/train/test split")
        idx = getattr(self.split, which)
        return self.X[idx], self.y[idx]

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        """Map standardised regression targets back to the original units."""
        if self.target_mean is None or self.target_scale is None:
            return np.asarray(y)
        return np.asarray(y) * self.target_scale + self.target_mean


def _folder(name: str, root: str | os.PathLike[str] | None) -> Any:
    return data_dir(root) / name


def load_canonical(name: str, *, data_dir: str | os.PathLike[str] | None = None,
                   verify: bool = True) -> CanonicalTable:
    """Return the canonical (unpreprocessed) table of a prepared dataset.

    Raises :class:`UnknownDatasetError` for an unknown name, :class:`DataUnavailableError` /
    :class:`DataNotPreparedError` (saying how to prepare it) when the files are missing, and
    :class:`ChecksumError` when ``canonical.npz`` does not match ``meta.json``.
    """
    entry = info(name)
    folder = _folder(name, data_dir)
    absent = [f for f in ("canonical.npz", "meta.json") if not (folder / f).exists()]
    if absent:
        detail = f"{folder / absent[0]} does not exist"
        if not entry.offline:
            raise DataUnavailableError(
                f"dataset {name!r} is not prepared ({detail}); it is {entry.note}")
        raise DataNotPreparedError(
            f"dataset {name!r} is not prepared: {detail}. To prepare it, "
            + _HOW_TO.format(name=name))
    return read_canonical(folder, verify=verify)


def load(
    name: str,
    *,
    seed: int | None = None,
    subset: str | None = None,
    standardize_target: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a prepared dataset of Table 1 (Sec. 5.3) or MNIST, preprocessed.

    Args:
        name: a registry name (:func:`contexture.data.names`).
        seed: if given, draw the 70/15/15 split of App. E with this seed and fit the preprocessing
            on its pretrain rows; if None, fit on all rows and leave ``split`` as None.
        subset: MNIST only: ``"test"`` (default; the 10k test set) or ``"train5k"`` (a 5000-image
            training subset, 500 per class).
        standardize_target: z-score regression targets with the fit rows' statistics.
        data_dir: the data directory (default ``$CONTEXTURE_DATA_DIR`` or ``<repo>/data``).

    Used by every chapter that touches real data (``ch01_contexts``, ``datasets``).
    """
    entry = info(name)
    if entry.subsets:
        subset = entry.subsets[0] if subset is None else check_choice("subset", subset,
                                                                      entry.subsets)
    elif subset is not None:
        raise ValueError(f"subset must be None for dataset {name!r} (it has no subsets), "
                         f"got {subset!r}")
    if seed is not None:
        seed = check_int("seed", seed, lo=0)
    if not isinstance(standardize_target, bool):
        raise TypeError(f"standardize_target must be a bool, got {standardize_target!r}")
    table = load_canonical(name, data_dir=data_dir)
    if subset not in (None, entry.subsets[0] if entry.subsets else None):
        table = CanonicalTable(
            name=table.name, task=table.task, kind=table.kind, X=table.extras[f"X_{subset}"],
            y=table.extras[f"y_{subset}"], feature_names=table.feature_names,
            categorical=table.categorical, categories=table.categories,
            target_name=table.target_name, classes=table.classes, provenance=table.provenance)
    split = split_indices(table.n_rows, seed) if seed is not None else None
    fit_rows = split.pretrain if split is not None else None
    pre = fit_preprocessor(table, fit_rows)
    X = pre.transform(table.X)
    y = table.y
    mean = scale = None
    if table.task == "regression":
        y = y.astype(np.float64)
        if standardize_target:
            fy = y if fit_rows is None else y[fit_rows]
            mean, scale = float(fy.mean()), float(fy.std())
            scale = scale if scale > 0 else 1.0
            y = (y - mean) / scale
    else:
        y = y.astype(np.int64)
    return Dataset(
        name=name, X=X, y=y, feature_names=pre.feature_names_out, task=table.task,
        target_name=table.target_name,
        classes=tuple(table.classes) if table.classes is not None else None, info=entry,
        provenance=table.provenance, preprocessor=pre, split=split, seed=seed, subset=subset,
        target_mean=mean, target_scale=scale, raw=table)


def _width_from_meta(meta: dict[str, Any]) -> int:
    if meta["kind"] == "image":
        return int(meta["n_features"])
    width = 0
    for f in meta["features"]:
        if f["type"] == "numeric":
            width += 1
        else:
            width += output_width(len(f["categories"]) + (1 if f["n_missing"] else 0))
    return width


def summary_table(*, data_dir: str | os.PathLike[str] | None = None,
                  verify: bool = True) -> pd.DataFrame:
    """One row per registry entry: the paper's size and feature count beside the prepared data's.

    Columns: dataset, paper name, type, OpenML task, paper rows / features, our rows, raw columns
    (features before preprocessing), features after preprocessing, match level, source, licence,
    status and note. Reads only ``meta.json`` (plus the checksum if ``verify``), so it is fast.
    Used by the appendix chapter ``datasets`` (Table 1, Sec. 5.3).
    """
    import pandas as pd

    rows = []
    for name, entry in REGISTRY.items():
        folder = _folder(name, data_dir)
        status, _ = canonical_status(folder) if verify else (
            "ok" if (folder / "meta.json").exists() else "missing", "")
        row: dict[str, Any] = {
            "dataset": name, "paper name": entry.paper_name, "type": entry.task_short,
            "OpenML task": entry.openml_task_id, "paper rows": entry.paper_rows,
            "paper features": entry.paper_features, "rows": pd.NA, "raw columns": pd.NA,
            "features (preprocessed)": pd.NA, "match": "", "source": entry.source,
            "licence": entry.licence, "status": status, "note": entry.note,
        }
        if status != "missing":
            try:
                meta = read_meta(folder)
            except Exception as exc:  # a broken meta.json is reported, not fatal for the table
                row.update(status="corrupt", note=str(exc))
            else:
                prov = meta.get("provenance", {})
                row.update({
                    "rows": meta["n_rows"], "raw columns": meta["n_features"],
                    "features (preprocessed)": _width_from_meta(meta),
                    "match": prov.get("match_level", ""),
                    "source": prov.get("source_summary", entry.source),
                })
                row["note"] = "; ".join(prov.get("differences_vs_paper", []))
        elif not entry.offline:
            row["match"] = "none (offline)"
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in ("rows", "raw columns", "features (preprocessed)", "OpenML task"):
        df[col] = df[col].astype("Int64")
    return df


def provenance_table(*, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per prepared dataset: where its files came from and what was done to them.

    Columns: dataset, source (mirror / openml), raw files (origin of each), transformations,
    differences from Table 1 / the OpenML task, and the first 12 hex digits of the sha256 of
    ``canonical.npz``. Reads ``meta.json`` only. Used by the appendix chapter ``datasets``.
    """
    import pandas as pd

    rows = []
    for name in REGISTRY:
        folder = _folder(name, data_dir)
        if not (folder / "meta.json").exists():
            continue
        meta = read_meta(folder)
        prov = meta["provenance"]
        origins = [f.get("origin", f.get("path", "")) for f in prov.get("raw_files", [])]
        if prov.get("source") == "openml":
            o = prov["openml"]
            origins = [f"OpenML task {o['task_id']}, dataset {o['dataset_id']} "
                       f"v{o['dataset_version']}"]
        diffs = list(prov.get("differences_vs_paper", []))
        manifest_diff = prov.get("manifest", {}).get("differences")
        if manifest_diff and prov.get("match_level") != "exact":
            diffs.append(f"mirror notes: {manifest_diff}")
        rows.append({
            "dataset": name, "source": prov.get("source", ""),
            "raw files": "; ".join(origins),
            "transformations": "; ".join(prov.get("transformations", [])),
            "differences": "; ".join(diffs),
            "sha256": meta["canonical"]["sha256"][:12],
        })
    return pd.DataFrame(rows, columns=["dataset", "source", "raw files", "transformations",
                                       "differences", "sha256"])
