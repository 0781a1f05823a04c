"""Golden values: the reviewed expected value of every reproduced number, per profile.

``tests/golden/<profile>.json`` holds, for each chapter and key of the results page
(:mod:`bookbuild.registry`), the value and the tolerance within which a fresh build must agree.
A change of a reproduced number therefore shows up as a reviewed diff of that file, never
silently: ``python -m bookbuild golden --profile smoke`` rewrites it from the last build and
prints the diff; ``tests/test_golden.py`` compares the smoke build of ``make test`` with it;
``make verify`` re-executes chapters and compares them with it.

Tolerances: a check (``results.verify``) agrees when the new gap is within the check's own
tolerance of the golden one (its gap is round-off below that tolerance); any other number agrees
within ``ATOL + RTOL * |golden|``; text and booleans must be equal. A reviewer may loosen one key
by editing its ``tol`` in the file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bookbuild.registry import ChapterResults

__all__ = ["RTOL", "ATOL", "Difference", "golden_values", "compare", "load_golden",
           "write_golden", "format_differences"]

RTOL = 1e-6
ATOL = 1e-9


@dataclass(frozen=True)
class Difference:
    """One key whose fresh value is not its golden value."""

    chapter: str
    key: str
    what: str  # "changed", "missing" (in the golden file, not computed), "new" (not in the file)
    golden: Any = None
    fresh: Any = None
    tol: float | None = None

    def line(self) -> str:
        name = f"{self.chapter}/{self.key}"
        if self.what == "missing":
            return f"{name}: no longer computed (golden value {_show(self.golden)})"
        if self.what == "new":
            return f"{name}: new, not in the golden file (value {_show(self.fresh)})"
        return (f"{name}: {_show(self.golden)} -> {_show(self.fresh)} "
                f"(beyond tolerance {self.tol:.1e})" if self.tol is not None else
                f"{name}: {_show(self.golden)} -> {_show(self.fresh)}")


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list) and len(value) > 4:
        return f"[{', '.join(_show(v) for v in value[:4])}, ... ({len(value)} values)]"
    return json.dumps(value, default=str)


def _tolerance(kind: str, value: Any, check_tol: float | None) -> float | None:
    if isinstance(value, bool) or isinstance(value, str):
        return None
    numbers = value if isinstance(value, list) else [value]
    finite = [abs(float(v)) for v in _flatten(numbers) if _is_number(v) and math.isfinite(v)]
    scale = max(finite, default=0.0)
    if kind == "check" and check_tol:
        return float(check_tol)
    return ATOL + RTOL * scale


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def golden_values(chapters: list[ChapterResults]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{chapter: {key: {"value", "tol"}}}`` for every row of the results page."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for c in chapters:
        if not c.rows:  # a chapter that records only settings has nothing to keep
            continue
        out[c.chapter] = {r.key: {"value": r.value, "tol": _tolerance(r.kind, r.value, r.tol)}
                          for r in c.rows}
    return out


def _agrees(golden: Any, fresh: Any, tol: float | None) -> bool:
    if isinstance(golden, list) or isinstance(fresh, list):
        if not (isinstance(golden, list) and isinstance(fresh, list)) or len(golden) != len(fresh):
            return False
        return all(_agrees(g, f, tol) for g, f in zip(golden, fresh, strict=True))
    if _is_number(golden) and _is_number(fresh):
        g, f = float(golden), float(fresh)
        if math.isnan(g) or math.isnan(f):
            return math.isnan(g) and math.isnan(f)
        if math.isinf(g) or math.isinf(f):
            return g == f
        return abs(f - g) <= (tol if tol is not None else ATOL + RTOL * abs(g))
    return golden == fresh


def compare(golden: dict[str, dict[str, dict[str, Any]]], fresh: list[ChapterResults]
            ) -> list[Difference]:
    """The differences between a golden file's values and a fresh build's, chapter by chapter.

    Only the chapters present in ``fresh`` are compared (a partial re-run checks its chapters).
    """
    out: list[Difference] = []
    for c in fresh:
        expected = golden.get(c.chapter)
        if expected is None:
            out += [Difference(c.chapter, r.key, "new", fresh=r.value) for r in c.rows]
            continue
        got = {r.key: r.value for r in c.rows}
        for key, spec in expected.items():
            if key not in got:
                out.append(Difference(c.chapter, key, "missing", golden=spec["value"]))
            elif not _agrees(spec["value"], got[key], spec.get("tol")):
                out.append(Difference(c.chapter, key, "changed", spec["value"], got[key],
                                      spec.get("tol")))
        out += [Difference(c.chapter, key, "new", fresh=got[key])
                for key in got if key not in expected]
    return out


def load_golden(path: Path) -> dict[str, Any]:
    """Read a golden file; a clear error if it is missing or not one."""
    if not path.is_file():
        raise FileNotFoundError(f"no golden file {path}; make one with "
                                f"`python -m bookbuild golden --profile <profile>`")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        raise ValueError(f"{path} is not a golden-values file (no 'values' mapping)")
    return data


def write_golden(path: Path, profile: str, commit: str,
                 values: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Write a golden file atomically, keys sorted so that its diffs are small."""
    data = {
        "profile": profile,
        "commit": commit,
        "rule": f"a check agrees within its own tolerance; any other number within "
                f"{ATOL:g} + {RTOL:g} * |golden|; text must be equal",
        "values": {ch: dict(sorted(keys.items())) for ch, keys in sorted(values.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def format_differences(diffs: list[Difference], limit: int = 200) -> str:
    """One line per difference, grouped by what happened."""
    lines = []
    for what in ("changed", "missing", "new"):
        group = [d for d in diffs if d.what == what]
        if group:
            lines.append(f"{len(group)} {what}:")
            lines += ["  " + d.line() for d in group[:limit]]
            if len(group) > limit:
                lines.append(f"  ... and {len(group) - limit} more")
    return "\n".join(lines)
