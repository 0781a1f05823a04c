"""Provenance fields shared by the mirror and the OpenML paths."""

from __future__ import annotations

import datetime as _dt
import platform
from typing import Any

import numpy as np
import pandas as pd

from contexture.data.registry import DatasetInfo

__all__ = ["base_provenance", "differences_vs_paper"]


def base_provenance(info: DatasetInfo, *, source: str) -> dict[str, Any]:
    """Fields every ``meta.json`` provenance block has (the caller adds source-specific ones)."""
    return {
        "source": source,
        "source_summary": info.source if source == "mirror" else "OpenML",
        "paper": {"name": info.paper_name, "rows": info.paper_rows,
                  "features": info.paper_features, "type": info.task_short,
                  "openml_task_id": info.openml_task_id},
        "licence": info.licence,
        "created": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "software": {"python": platform.python_version(), "numpy": np.__version__,
                     "pandas": pd.__version__},
    }


def differences_vs_paper(info: DatasetInfo, rows: int, features: int) -> list[str]:
    """Row and feature-count differences from Table 1 (empty when both match)."""
    out = []
    if rows != info.paper_rows:
        out.append(f"rows: {rows} vs {info.paper_rows} in Table 1 ({rows - info.paper_rows:+d})")
    if features != info.paper_features:
        out.append(f"features: {features} vs {info.paper_features} in Table 1 "
                   f"({features - info.paper_features:+d})")
    return out
