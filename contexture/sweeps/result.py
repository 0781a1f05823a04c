"""What a sweep run returns: the records, the failed cells and counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contexture.sweeps.grid import canonical_json

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CellFailure", "SweepFailed", "SweepResult"]

_SCALARS = (type(None), bool, int, float, str)


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except (TypeError, ValueError):
        return a == b


@dataclass(frozen=True)
class CellFailure:
    """A cell that raised: its parameters, a one-line error and the full traceback."""

    params: dict[str, Any]
    error: str
    traceback: str
    key: str

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"({args}): {self.error}"


class SweepFailed(RuntimeError):
    """Some cells of a sweep raised; the others are stored. ``failures`` lists every one."""

    def __init__(self, name: str, failures: list[CellFailure], result: SweepResult) -> None:
        self.failures = failures
        self.result = result
        total = len(result.records) + len(failures)
        lines = "\n".join(f"  {f}" for f in failures)
        super().__init__(f"{len(failures)} of {total} cells of sweep {name!r} failed "
                         f"(the other cells are stored; a rerun computes only the missing "
                         f"ones):\n{lines}")


@dataclass
class SweepResult:
    """The records of a sweep run in grid order, its failed cells and what was computed.

    Attributes
    ----------
    name
        The sweep name.
    store
        The folder holding this sweep's cells.
    records
        One dict per finished cell: the point's parameters followed by the cell's record.
    failed
        The cells that raised (empty unless ``raise_on_failure=False`` was passed or the
        result is read from :class:`SweepFailed`).
    n_computed, n_cached
        Cells computed by this run and cells read from the store.
    """

    name: str
    store: Path
    records: list[dict[str, Any]]
    failed: list[CellFailure]
    n_computed: int
    n_cached: int
    axes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Any:
        return iter(self.records)

    def get(self, **point: Any) -> dict[str, Any]:
        """The one record whose parameters match ``point`` (a partial point if unambiguous).

        Raises
        ------
        KeyError
            If no record matches (naming a failed cell when it is one) or several do.
        """
        hits = [r for r in self.records
                if all(k in r and _same(r[k], v) for k, v in point.items())]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            failed = [f for f in self.failed
                      if all(k in f.params and _same(f.params[k], v) for k, v in point.items())]
            why = f"; that cell failed: {failed[0].error}" if failed else ""
            raise KeyError(f"sweep {self.name!r} has no record with {point}{why}")
        raise KeyError(f"{len(hits)} records of sweep {self.name!r} match {point}; give more of "
                       f"the axes {list(self.axes)}")

    def table(self) -> pd.DataFrame:
        """A pandas DataFrame of the scalar fields (parameters first; arrays and lists left out)."""
        import pandas as pd

        columns: dict[str, bool] = {name: True for name in self.axes}
        for r in self.records:
            for k, v in r.items():
                columns[k] = columns.get(k, True) and isinstance(v, _SCALARS)
        keep = [k for k, scalar in columns.items() if scalar]
        return pd.DataFrame([{k: r[k] for k in keep if k in r} for r in self.records],
                            columns=keep)

    def __repr__(self) -> str:
        return (f"SweepResult({self.name!r}: {len(self.records)} records, "
                f"{self.n_computed} computed, {self.n_cached} cached, "
                f"{len(self.failed)} failed)")
