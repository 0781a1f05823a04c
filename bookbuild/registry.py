"""The book's reproduced results, gathered from the per-chapter results files of one build.

Each chapter writes ``build/<profile>/results/<chapter>.json`` (:mod:`contexture.runtime.results`).
:func:`gather` reads them all and returns one :class:`Row` per reproduced number: the entries of
kind ``result`` and ``check``. Settings (parameters, grid sizes, and any entry whose key is a
parameter of the chapter with the same value), glued phrases and the two sides of a check are
provenance, not results: a check's sides are folded into its row.

Status of a row:

- ``reproduced``: the paper states a value and ours is within the tolerance recorded with it (or,
  when none was recorded, within half a unit of the paper's last printed digit);
- ``differs``: the paper states a value and ours is not within that tolerance;
- ``verified``: a check of a stated identity or inequality (``results.verify``), which passed;
- ``not in the paper``: a number the book computes that the paper does not state.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bookbuild.anchors import anchor_for, key_anchors

__all__ = ["Row", "ChapterResults", "STATUSES", "gather", "load_chapter", "params_hash",
           "rows_json", "rows_csv", "row_id", "is_setting"]

STATUSES = ("reproduced", "differs", "verified", "not in the paper")
_RESULT_KINDS = ("result", "check")


def params_hash(params: dict[str, Any] | None) -> str:
    """A short, stable hash of a chapter's parameters (sorted JSON, sha256, 12 hex digits)."""
    text = json.dumps(params or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def row_id(chapter: str, key: str) -> str:
    """The stable anchor of a result: ``<chapter>-<key>`` (both are ``[a-z0-9_]``)."""
    return f"{chapter}-{key}"


@dataclass
class Row:
    """One reproduced number."""

    chapter: str
    key: str
    kind: str
    value: Any
    paper: Any
    difference: float | None
    tol: float | None
    status: str
    note: str
    section: str  #: ``<chapter>#<anchor>`` (``<chapter>`` alone: the top of the page)
    interval: list[float] | None = None
    n_seeds: int | None = None
    lhs: float | None = None
    rhs: float | None = None

    @property
    def id(self) -> str:
        return row_id(self.chapter, self.key)

    @property
    def cite_key(self) -> str:
        return f"{self.chapter}/{self.key}"


@dataclass
class ChapterResults:
    """The rows of one chapter and the provenance of the run that computed them."""

    chapter: str
    provenance: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_setting(key: str, entry: dict[str, Any], params: dict[str, Any] | None) -> bool:
    """Whether an entry is provenance rather than a result (see the module docstring)."""
    kind = entry.get("kind", "result")
    if kind not in _RESULT_KINDS:
        return True
    return kind == "result" and bool(params) and key in params and params[key] == entry["value"]


def _printed_half_unit(paper: float) -> float:
    """Half a unit of the last digit of ``paper`` as printed (0.453 -> 0.0005)."""
    exponent = Decimal(repr(float(paper))).normalize().as_tuple().exponent
    return 0.5 * 10.0 ** min(int(exponent), 0) if isinstance(exponent, int) else 0.0


def _status(entry: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """``(status, difference, tolerance used)`` of one result or check entry."""
    value, paper, tol = entry["value"], entry.get("paper"), entry.get("tol")
    if entry.get("kind") == "check":
        return "verified", None, tol
    if paper is None:
        return "not in the paper", None, tol
    if _number(value) and _number(paper):
        diff = float(value) - float(paper)
        used = tol if tol is not None else _printed_half_unit(paper)
        ok = math.isfinite(diff) and abs(diff) <= used * (1 + 1e-12)
        return ("reproduced" if ok else "differs"), diff, used
    return ("reproduced" if value == paper else "differs"), None, tol


def load_chapter(path: Path, book_dir: Path) -> ChapterResults:
    """The rows of one chapter's results file, with the section that computes each."""
    data = json.loads(path.read_text())
    chapter = data["chapter"]
    prov = data.get("provenance") or {}
    params = prov.get("parameters")
    source = book_dir / "chapters" / f"{chapter}.md"
    patterns = key_anchors(source) if source.exists() else []
    entries = data.get("results") or {}
    out = ChapterResults(chapter, prov, entries=entries)
    for key, entry in entries.items():
        if is_setting(key, entry, params):
            continue
        status, diff, tol = _status(entry)
        anchor = anchor_for(key, patterns)
        lhs, rhs = entries.get(f"{key}_lhs"), entries.get(f"{key}_rhs")
        out.rows.append(Row(
            chapter=chapter, key=key, kind=entry.get("kind", "result"), value=entry["value"],
            paper=entry.get("paper"), difference=diff, tol=tol, status=status,
            note=entry.get("note") or "", section=f"{chapter}#{anchor}" if anchor else chapter,
            interval=entry.get("interval"), n_seeds=entry.get("n_seeds"),
            lhs=lhs["value"] if lhs and entry.get("kind") == "check" else None,
            rhs=rhs["value"] if rhs and entry.get("kind") == "check" else None))
    return out


def gather(results_dir: Path, book_dir: Path, chapters: list[str] | None = None
           ) -> list[ChapterResults]:
    """Every chapter's results in ``results_dir`` (or only ``chapters``), by chapter name."""
    paths = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    if chapters is not None:
        paths = [p for p in paths if p.stem in set(chapters)]
    return [load_chapter(p, book_dir) for p in paths]


def _flat(row: Row, prov: dict[str, Any]) -> dict[str, Any]:
    out = asdict(row)
    out = {"id": row.id, "cite": row.cite_key, **out}
    out.update(commit=prov.get("commit"), profile=prov.get("profile"), seed=prov.get("seed"),
               params_hash=params_hash(prov.get("parameters")))
    return out


def rows_json(chapters: list[ChapterResults]) -> str:
    """All rows as JSON: ``{"results": [...], "chapters": {chapter: provenance}}``."""
    rows = [_flat(r, c.provenance) for c in chapters for r in c.rows]
    provenance = {c.chapter: {**c.provenance, "params_hash": params_hash(
        c.provenance.get("parameters"))} for c in chapters}
    return json.dumps({"results": rows, "chapters": provenance}, indent=1, default=str) + "\n"


def rows_csv(chapters: list[ChapterResults]) -> str:
    """All rows as CSV, one line per result (lists and intervals as JSON text)."""
    rows = [_flat(r, c.provenance) for c in chapters for r in c.rows]
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v
                             for k, v in row.items()})
    return buf.getvalue()
