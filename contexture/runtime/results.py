"""The registry of reproduced numbers.

Every number the book states is recorded here under a stable key, with the paper's value beside
it where there is one, and written to a machine-readable JSON file per chapter together with its
provenance (commit, profile, parameters, seed, package versions, time). Recording also *glues*
the value (myst-nb), so the prose shows it with ``{glue:text}`key:.4f``` and never types it.

Typical use in a chapter (the bookkeeping cells are hidden in the book, ``remove-input``)::

    from contexture import results
    results.start("ch01_contexts", profile=profile, seed=seed)
    results.record("chi2_gap", gap, tol=1e-12, note="Σ s_i² − χ²")
    results.verify("lemma4_reconstruction", lhs, rhs, tol=1e-12,
                   note="Lemma 4: J = Σ s_i μ_i ν_i P_X P_A")   # asserts and records
    results.checks_table()      # one compact table of the checks made since the last table

Every recorded number is glued twice: ``key`` (the raw value, for ``{glue:text}`key:.3f```)
and ``key_h`` (formatted for people by :func:`contexture.runtime.formatting.fmt`: ``0.0093``,
``3.1 × 10⁻⁸``, ``below 10⁻¹⁵``).
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contexture.runtime.formatting import fmt, fmt_tol
from contexture.runtime.provenance import compute_device, environment_summary, git_commit

__all__ = ["KINDS", "Check", "Recorded", "Run", "Table", "start", "record", "verify", "verify_le",
           "current", "load", "checks_table", "paper_table"]

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
#: What a recorded entry is. ``result``: a number (or finding) the chapter computes; ``check``:
#: the discrepancy of a :func:`verify`/:func:`verify_le` check, ``side``: one side of a check;
#: ``setting``: a parameter, grid size or other input copied in for the prose (provenance, not a
#: result); ``text``: a phrase glued into the prose.
KINDS = ("result", "check", "side", "setting", "text")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


@dataclass
class Run:
    """The results of one chapter execution, written to ``<dir>/<chapter>.json``."""

    chapter: str
    profile: str
    seed: int | None
    params: dict[str, Any] | None
    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_checks: list[dict[str, Any]] = field(default_factory=list, repr=False)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()))

    def to_json(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "provenance": {
                "commit": git_commit(),
                "profile": self.profile,
                "seed": self.seed,
                "parameters": self.params,
                "started": self.started,
                **environment_summary(),
                **compute_device(),
            },
            "results": self.entries,
        }

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, default=_plain))
        os.replace(tmp, self.path)


_current: Run | None = None


def start(chapter: str, *, profile: str, seed: int | None = None,
          out_dir: str | Path | None = None) -> Run:
    """Begin recording the results of ``chapter``.

    Parameters come from the pipeline (``CONTEXTURE_PARAMS``) when the chapter runs under it;
    an interactive session records ``parameters: null``. The file goes to ``out_dir``, else
    ``$CONTEXTURE_RESULTS_DIR``, else ``./results``.
    """
    global _current
    if not _KEY.match(chapter):
        raise ValueError(f"chapter must match {_KEY.pattern}, got {chapter!r}")
    params = json.loads(os.environ["CONTEXTURE_PARAMS"]) if "CONTEXTURE_PARAMS" in os.environ \
        else None
    base = Path(out_dir or os.environ.get("CONTEXTURE_RESULTS_DIR", "results"))
    _current = Run(chapter=chapter, profile=profile, seed=seed, params=params,
                   path=base / f"{chapter}.json")
    _current.save()
    return _current


def current() -> Run:
    """The run started by :func:`start` (raises if none)."""
    if _current is None:
        raise RuntimeError("results.start(chapter, profile=...) must be called before recording")
    return _current


def _glue(name: str, value: Any) -> None:
    try:
        from myst_nb import glue
    except ImportError:  # recording still works outside the book toolchain
        return
    glue(name, value, display=False)


def record(key: str, value: Any, *, paper: Any = None, tol: float | None = None,
           note: str | None = None, glue: bool = True, kind: str = "result",
           interval: tuple[float, float] | None = None, n_seeds: int | None = None) -> Any:
    """Record ``value`` under ``key`` (and the paper's value, if any) and glue it for the prose.

    ``kind`` says what the entry is (:data:`KINDS`): only ``result`` and ``check`` entries are
    reproduced numbers; a ``setting`` (a parameter or grid size copied in for the prose) and a
    ``text`` (a glued phrase) stay out of the book's results table. ``interval`` is the
    ``(low, high)`` interval of a mean over ``n_seeds`` seeds.

    The glued names are ``key`` and, when ``paper`` is given, ``key + "_paper"``. Returns
    ``value`` so that it can be used inline (a float comes back as a :class:`Recorded` float,
    which displays as ``key = value``).
    """
    if not _KEY.match(key):
        raise ValueError(f"key must match {_KEY.pattern} (lower-case, digits, underscores), "
                         f"got {key!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if interval is not None and len(interval) != 2:
        raise ValueError(f"interval must be (low, high), got {interval!r}")
    run = current()
    entry = {"value": _plain(value), "paper": _plain(paper), "tol": tol, "note": note,
             "kind": kind}
    if interval is not None:
        entry["interval"] = [float(interval[0]), float(interval[1])]
        entry["n_seeds"] = n_seeds
    run.entries[key] = entry
    run.save()
    if glue:
        _glue(key, _plain(value))
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                value, bool):
            _glue(f"{key}_h", fmt(value))
        if paper is not None:
            _glue(f"{key}_paper", _plain(paper))
    if isinstance(value, float | np.floating) and not isinstance(value, Check | Recorded):
        return Recorded(float(value), key, paper)
    return value


class Recorded(float):
    """A recorded scalar; behaves as a float and displays as ``key = value (paper: …)``."""

    key: str
    paper: Any

    def __new__(cls, value: float, key: str, paper: Any) -> Recorded:
        obj = super().__new__(cls, value)
        obj.key, obj.paper = key, paper
        return obj

    def __repr__(self) -> str:
        paper = f" (paper: {self.paper})" if self.paper is not None else ""
        return f"{self.key} = {float(self):.6g}{paper}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


class Check(float):
    """The discrepancy of a passed check; displays as a one-line verdict in a notebook."""

    key: str
    tol: float
    note: str | None

    def __new__(cls, value: float, key: str, tol: float, note: str | None) -> Check:
        obj = super().__new__(cls, value)
        obj.key, obj.tol, obj.note = key, tol, note
        return obj

    def __repr__(self) -> str:
        what = self.note or self.key
        return f"✓ {what}: gap {fmt(float(self))} (tolerance {fmt_tol(self.tol)})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def verify(key: str, lhs: Any, rhs: Any, *, tol: float, note: str | None = None,
           relative: bool = False) -> Check:
    """Assert ``|lhs − rhs| ≤ tol`` (max over entries; relative to ``|rhs|`` if asked).

    Records the discrepancy under ``key`` (glued, e.g. ``{glue:text}`key:.1e```) plus both sides
    as ``key_lhs`` / ``key_rhs`` when they are scalars, and raises ``AssertionError`` naming
    the check when it fails, so that a failing derivation fails the build.
    """
    a = np.asarray(lhs, dtype=np.float64)
    b = np.asarray(rhs, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{key}: shapes differ, {a.shape} vs {b.shape}")
    gap = np.abs(a - b)
    if relative:
        gap = gap / np.maximum(np.abs(b), np.finfo(float).tiny)
    err = float(gap.max()) if gap.size else 0.0
    record(key, err, tol=tol, note=note, kind="check")
    if a.ndim == 0:
        record(f"{key}_lhs", float(a), note=note, kind="side")
        record(f"{key}_rhs", float(b), note=note, kind="side")
    current().pending_checks.append({
        "key": key, "note": note, "gap": err, "tol": tol, "relative": relative,
        "lhs": float(a) if a.ndim == 0 else None, "rhs": float(b) if b.ndim == 0 else None,
        "passed": err <= tol})
    if not err <= tol:
        raise AssertionError(f"check {key!r} failed: discrepancy {err:.3e} exceeds tolerance "
                             f"{tol:.1e}" + (f" ({note})" if note else ""))
    return Check(err, key, tol, note)



def verify_le(key: str, lhs: Any, rhs: Any, *, slack: float = 0.0,
              note: str | None = None) -> Check:
    """Assert ``lhs ≤ rhs + slack`` entrywise (the two sides broadcast against each other).

    Records the largest excess ``max(lhs − rhs)`` under ``key`` (negative: room to spare; glued,
    e.g. ``{glue:text}`key_h```), plus both sides as ``key_lhs`` / ``key_rhs`` when they are
    scalars, and adds a row to the pending checks table. Raises ``AssertionError`` naming the
    check when the inequality fails (or an excess is NaN), so that a failing claim fails the build.
    """
    a = np.asarray(lhs, dtype=np.float64)
    b = np.asarray(rhs, dtype=np.float64)
    try:
        diff = a - b
    except ValueError as exc:
        raise AssertionError(f"{key}: shapes do not broadcast, {a.shape} vs {b.shape}") from exc
    if diff.size == 0:
        raise ValueError(f"{key}: lhs and rhs must not be empty")
    if not slack >= 0:
        raise ValueError(f"slack must be >= 0, got {slack!r}")
    excess = float(np.max(diff))
    record(key, excess, tol=slack, note=note, kind="check")
    if a.ndim == 0:
        record(f"{key}_lhs", float(a), note=note, kind="side")
    if b.ndim == 0:
        record(f"{key}_rhs", float(b), note=note, kind="side")
    if a.ndim == 0:
        expected = "≤ " + (fmt(float(b), 4) if b.ndim == 0 else "min " + fmt(float(b.min()), 4))
        computed = fmt(float(a), 4)
    elif b.ndim == 0:
        expected, computed = "≤ " + fmt(float(b), 4), "max " + fmt(float(a.max()), 4)
    else:
        expected, computed = "≤ entrywise", ""
    passed = excess <= slack
    current().pending_checks.append({
        "key": key, "note": note, "gap": excess, "tol": slack, "relative": False,
        "lhs": None, "rhs": None, "passed": passed, "kind": "le",
        "expected": expected, "computed": computed})
    if not passed:
        raise AssertionError(f"check {key!r} failed: lhs exceeds rhs by {excess:.3e}, more than "
                             f"the slack {slack:.1e}" + (f" ({note})" if note else ""))
    return Check(excess, key, slack, note)

class Table:
    """A small table for the book: HTML in a notebook, aligned text elsewhere."""

    def __init__(self, header: list[str], rows: list[list[str]], caption: str | None = None,
                 css_class: str = "results-table") -> None:
        self.header, self.rows, self.caption, self.css_class = header, rows, caption, css_class

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        cap = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        return (f'<div class="table-wrapper"><table class="{self.css_class}">{cap}'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")

    def __repr__(self) -> str:
        widths = [max(len(str(c)) for c in col) for col in zip(self.header, *self.rows,
                                                                  strict=True)]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [self.header, *self.rows]]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def checks_table(caption: str | None = None) -> Table:
    """The checks verified since the previous table, one row each: what is checked, the two
    sides when they are numbers, the gap and the tolerance. Ends a hidden bookkeeping cell.

    A row of :func:`verify_le` shows the bound (``≤ rhs``), the computed side and, as its gap,
    the largest excess ``lhs − rhs`` (negative when the inequality holds with room)."""
    run = current()
    checks, run.pending_checks = run.pending_checks, []
    if not checks:
        raise RuntimeError("no checks were verified since the previous checks_table()")
    rows = []
    for c in checks:
        what = c["note"] or c["key"].replace("_", " ")
        if c.get("kind") == "le":
            sides, gap = [c["expected"], c["computed"]], "excess " + fmt(c["gap"])
        else:
            sides = ([fmt(c["rhs"], 4), fmt(c["lhs"], 4)] if c["lhs"] is not None
                     else ["", ""])
            gap = fmt(c["gap"]) + (" (relative)" if c["relative"] else "")
        rows.append([what, *sides, gap, fmt_tol(c["tol"]), "✓" if c["passed"] else "✗"])
    return Table(["Check", "Expected", "Computed", "Gap", "Tolerance", ""], rows, caption,
                 css_class="results-table checks-table")


def frame_table(df: Any, columns: dict[str, str] | None = None, digits: int = 4,
                caption: str | None = None) -> Table:
    """A pandas data frame as a page table: no index column, numbers formatted for people.

    ``columns`` maps column names to headers (and selects them, in that order); ``None`` keeps
    every column under its own name. Whole floats show as integers, NaN as an en dash.
    """
    columns = columns or {c: str(c) for c in df.columns}

    def cell(v: Any) -> str:
        v = v.item() if isinstance(v, np.generic) else v
        if isinstance(v, float) and np.isnan(v):
            return "–"
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e4:
            v = int(v)
        return fmt(v, digits) if isinstance(v, int | float) else str(v)

    return Table(list(columns.values()),
                 [[cell(r[c]) for c in columns] for _, r in df.iterrows()], caption)


def paper_table(keys: list[str], labels: list[str] | None = None, *, digits: int = 3,
                caption: str | None = None) -> Table:
    """Paper versus ours for recorded keys that carry a paper value: one row per key with the
    paper's value, ours, their difference and the tolerance recorded with it (if any)."""
    run = current()
    labels = labels or [run.entries[k].get("note") or k.replace("_", " ") for k in keys]
    if len(labels) != len(keys):
        raise ValueError(f"labels must have one entry per key ({len(keys)}), got {len(labels)}")
    rows = []
    for key, label in zip(keys, labels, strict=True):
        if key not in run.entries:
            raise KeyError(f"{key!r} has not been recorded in {run.chapter}")
        e = run.entries[key]
        ours, paper = e["value"], e["paper"]
        both = isinstance(ours, int | float) and isinstance(paper, int | float)
        rows.append([label,
                     fmt(paper, digits) if isinstance(paper, int | float) else str(paper or ""),
                     fmt(ours, digits) if isinstance(ours, int | float) else str(ours),
                     fmt(ours - paper, digits) if both else "",
                     fmt_tol(e["tol"]) if e.get("tol") else ""])
    return Table(["Quantity", "Paper", "Ours", "Difference", "Tolerance"], rows, caption)


def load(path: str | Path) -> dict[str, Any]:
    """Read a results file written by :class:`Run`."""
    return json.loads(Path(path).read_text())
