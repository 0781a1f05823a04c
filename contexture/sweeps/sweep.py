"""A sweep: a named pure cell function evaluated on every point of a grid."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pickle
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from contexture.sweeps.codehash import code_hash
from contexture.sweeps.grid import Grid, canonical_json, check_identifier, plain_value
from contexture.sweeps.store import check_sweep_name

__all__ = ["Sweep"]


def _check_cell(cell: Any) -> Callable[..., Any]:
    module = getattr(cell, "__module__", None)
    qualname = getattr(cell, "__qualname__", None)
    if not callable(cell) or not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"cell must be a function defined at the top level of an importable "
                        f"module, got {cell!r}")
    where = f"{module}.{qualname}"
    if module == "__main__":
        raise ValueError(f"cell {where} is defined in __main__ (a script or notebook), which "
                         f"worker processes cannot import; define it in a module, e.g. the "
                         f"chapter's companion")
    if "<" in qualname:
        raise ValueError(f"cell {where} is a lambda or a nested function; define it at the top "
                         f"level of a module so that workers can import it")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cell {where} cannot be imported by name: {exc}") from None
    if found is not cell:
        raise ValueError(f"cell {where} is not the object importable under that name (was it "
                         f"redefined or decorated?)")
    try:
        pickle.dumps(cell)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing
        raise ValueError(f"cell {where} cannot be pickled for worker processes: {exc}") from None
    return cell


def _module_names(code: Any) -> tuple[str, ...]:
    if code is None:
        return ()
    items = [code] if isinstance(code, str | ModuleType) else list(code)
    names = []
    for item in items:
        if isinstance(item, ModuleType):
            names.append(item.__name__)
        elif isinstance(item, str) and item:
            names.append(item)
        else:
            raise TypeError(f"code must list modules or dotted module names, got {item!r}")
    return tuple(names)


class Sweep:
    """A named grid of calls ``cell(**fixed, **point)``, one per point of ``grid``.

    Infrastructure (no equation of the paper); the real-data chapters declare their experiment
    tables as sweeps (see :func:`contexture.sweeps.run_sweep`).

    Parameters
    ----------
    name
        Names the sweep's folder in the store (letters, digits, ``_``, ``.``, ``-``).
    cell
        A pure function defined at the top level of an importable module (so that worker
        processes can import it), returning a small record: a dict of numbers, strings, short
        lists or numpy arrays.
    grid
        The points; their axis names are keyword arguments of ``cell``.
    fixed
        Keyword arguments shared by every call (JSON data; they enter every cell's key).
    code
        Extra modules (objects or dotted names) whose source enters the code hash, for code the
        cell depends on outside the ``contexture`` package.

    Notes
    -----
    The key of a cell is the sha256 of the canonical JSON of ``(name, cell, fixed, point)``
    and the code hash: the source of the module defining ``cell``, of the ``contexture`` modules
    it imports (transitively, see :mod:`contexture.sweeps.codehash`) and of ``code``. Editing
    any of these recomputes every cell; editing an unrelated module recomputes none.
    """

    def __init__(self, name: str, cell: Callable[..., dict[str, Any]], grid: Grid,
                 fixed: Mapping[str, Any] | None = None,
                 code: Iterable[str | ModuleType] | str | ModuleType | None = None) -> None:
        self.name = check_sweep_name(name)
        self.cell = _check_cell(cell)
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a Grid, got {type(grid).__name__}")
        self.grid = grid
        if fixed is not None and not isinstance(fixed, Mapping):
            raise TypeError(f"fixed must be a dict of keyword arguments, got {fixed!r}")
        self.fixed = {check_identifier("fixed argument name", k):
                      plain_value(f"fixed argument {k!r}", v, hashable=False)
                      for k, v in (fixed or {}).items()}
        clash = sorted(set(self.fixed) & set(grid.axes))
        if clash:
            raise ValueError(f"{clash} are both grid axes and fixed arguments of sweep {name!r}")
        canonical_json(self.fixed)
        self.code = _module_names(code)
        for module in self.code:
            if importlib.util.find_spec(module) is None:
                raise ValueError(f"code module {module!r} cannot be found")

    @property
    def cell_name(self) -> str:
        """``module:qualname`` of the cell."""
        return f"{self.cell.__module__}:{self.cell.__qualname__}"

    def code_hash(self) -> str:
        """The hash of the source the cells run (read from disk now)."""
        return code_hash((self.cell.__module__, *self.code))

    def key(self, point: Mapping[str, Any], code: str | None = None) -> str:
        """The store key of the cell at ``point`` (``code``: a precomputed :meth:`code_hash`)."""
        text = canonical_json({"sweep": self.name, "cell": self.cell_name, "fixed": self.fixed,
                               "point": dict(point)})
        code = self.code_hash() if code is None else code
        return hashlib.sha256(f"{text}\n{code}".encode()).hexdigest()

    def __len__(self) -> int:
        return len(self.grid)

    def __repr__(self) -> str:
        return (f"Sweep({self.name!r}, {self.cell_name}, {len(self.grid)} points, "
                f"fixed={self.fixed!r})")
