"""The registry of reproduced numbers.

Every number the book states is recorded here under a stable key, with the paper's value beside
it where there is one, and written to a machine-readable JSON file per chapter together with its
provenance (commit, profile, parameters, seed, package versions, time). Recording also *glues*
the value (myst-nb), so the prose shows it with ``{glue:text}`key:.4f``` and never types it.

Typical use in a chapter::

    from contexture import results
    results.start("ch01_contexts", profile=profile, seed=seed)
    results.record("chi2_gap", gap, tol=1e-12, note="Σ s_i² − χ²")
    results.verify("lemma4_reconstruction", lhs, rhs, tol=1e-12)   # asserts and records
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contexture.runtime.provenance import environment_summary, git_commit

__all__ = ["Check", "Recorded", "Run", "start", "record", "verify", "current", "load"]

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


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
           note: str | None = None, glue: bool = True) -> Any:
    """Record ``value`` under ``key`` (and the paper's value, if any) and glue it for the prose.

    The glued names are ``key`` and, when ``paper`` is given, ``key + "_paper"``. Returns
    ``value`` so that it can be used inline (a float comes back as a :class:`Recorded` float,
    which displays as ``key = value``).
    """
    if not _KEY.match(key):
        raise ValueError(f"key must match {_KEY.pattern} (lower-case, digits, underscores), "
                         f"got {key!r}")
    run = current()
    run.entries[key] = {"value": _plain(value), "paper": _plain(paper), "tol": tol,
                        "note": note}
    run.save()
    if glue:
        _glue(key, _plain(value))
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
        what = f" ({self.note})" if self.note else ""
        return f"✔ {self.key}: discrepancy {float(self):.2e} ≤ tolerance {self.tol:.0e}{what}"

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
    record(key, err, tol=tol, note=note)
    if a.ndim == 0:
        record(f"{key}_lhs", float(a), note=note)
        record(f"{key}_rhs", float(b), note=note)
    if not err <= tol:
        raise AssertionError(f"check {key!r} failed: discrepancy {err:.3e} exceeds tolerance "
                             f"{tol:.1e}" + (f" ({note})" if note else ""))
    return Check(err, key, tol, note)


def load(path: str | Path) -> dict[str, Any]:
    """Read a results file written by :class:`Run`."""
    return json.loads(Path(path).read_text())
