"""Turn a parsed pandas DataFrame into a :class:`contexture.data.CanonicalTable`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from contexture.data.canonical import CanonicalTable
from contexture.data.errors import DataError

__all__ = ["frame_to_table", "sorted_levels"]


def sorted_levels(values: Iterable[Any]) -> list[str]:
    """Distinct values as strings, in numeric order if all are numbers, else in string order."""
    uniq = sorted({str(v) for v in values})
    try:
        return sorted(uniq, key=float)
    except ValueError:
        return uniq


def _as_str(series: pd.Series) -> pd.Series:
    """String labels; integral floats lose their ``.0`` (``1.0`` → ``"1"``); NA stays NA."""
    if pd.api.types.is_numeric_dtype(series):
        vals = series.astype("Float64")
        if bool(((vals.dropna() % 1) == 0).all()):
            return vals.astype("Int64").astype("string")
        return vals.astype("string")
    return series.astype("string").str.strip()


def frame_to_table(
    frame: pd.DataFrame,
    *,
    name: str,
    task: str,
    target: str,
    categorical: Iterable[str] = (),
    levels: Mapping[str, list[str]] | None = None,
    classes: list[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> tuple[CanonicalTable, int]:
    """Convert ``frame`` (features + ``target``) to a canonical table.

    Rows whose target is missing are dropped (their count is returned). Categorical columns are
    coded against ``levels[col]`` (declared order; levels that never occur are dropped) or their
    sorted distinct values; every other column must be numeric. A classification target is coded
    against ``classes`` (or its sorted distinct values); a regression target must be numeric.
    """
    if target not in frame.columns:
        raise DataError(f"{name}: target column {target!r} not found in {list(frame.columns)}")
    levels = dict(levels or {})
    cat = set(categorical)
    unknown = cat - set(frame.columns)
    if unknown:
        raise DataError(f"{name}: categorical columns {sorted(unknown)} not in the data")
    y_raw = frame[target]
    keep = ~y_raw.isna().to_numpy()
    if task == "classification":
        y_str = _as_str(y_raw)
        keep &= ~y_str.isna().to_numpy()
    dropped = int((~keep).sum())
    frame = frame.loc[keep].reset_index(drop=True)
    feats = [c for c in frame.columns if c != target]
    X = np.empty((len(frame), len(feats)), dtype=np.float64)
    cats: dict[str, list[str]] = {}
    is_cat = []
    for j, col in enumerate(feats):
        s = frame[col]
        if col in cat:
            labels = _as_str(s)
            present = set(labels.dropna().unique())
            declared = levels.get(col)
            lv = ([v for v in declared if v in present] if declared is not None
                  else sorted_levels(present))
            missing_decl = present - set(lv)
            if missing_decl:
                raise DataError(f"{name}: column {col!r} has values {sorted(missing_decl)[:5]} "
                                f"outside its declared levels")
            codes = pd.Categorical(labels, categories=lv).codes.astype(np.float64)
            codes[codes < 0] = np.nan
            X[:, j] = codes
            cats[col] = lv
            is_cat.append(True)
        else:
            try:
                X[:, j] = pd.to_numeric(s, errors="raise").astype("Float64").to_numpy(
                    dtype=np.float64, na_value=np.nan)
            except (ValueError, TypeError) as exc:
                raise DataError(f"{name}: column {col!r} is not numeric and not declared "
                                f"categorical ({exc})") from exc
            is_cat.append(False)
    if task == "classification":
        y_lab = _as_str(frame[target])
        present = set(y_lab.unique())
        cl = [c for c in classes if c in present] if classes is not None else sorted_levels(present)
        extra = present - set(cl)
        if extra:
            raise DataError(f"{name}: target has values {sorted(extra)[:5]} outside {cl}")
        y = pd.Categorical(y_lab, categories=cl).codes.astype(np.int64)
        class_names: list[str] | None = cl
    else:
        try:
            y = pd.to_numeric(frame[target], errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{name}: regression target {target!r} is not numeric") from exc
        class_names = None
    table = CanonicalTable(
        name=name, task=task, kind="tabular", X=X, y=y, feature_names=[str(f) for f in feats],
        categorical=is_cat, categories=cats, target_name=str(target), classes=class_names,
        provenance=dict(provenance or {}))
    table.validate()
    return table, dropped
