"""Parameter grids: named axes, their product in a stable order, and unions of products."""

from __future__ import annotations

import json
import keyword
import math
from collections.abc import Iterable, Iterator, Mapping
from itertools import product
from typing import Any

import numpy as np

__all__ = ["Grid", "canonical_json", "check_identifier", "plain_value"]


def canonical_json(obj: Any) -> str:
    """The one JSON text of ``obj`` that keys are hashed from (sorted keys, no spaces, no NaN)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def check_identifier(what: str, name: Any) -> str:
    """Return ``name`` if it can be a keyword argument of a cell, else raise ``ValueError``."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{what} must be a Python identifier (it is passed to the cell as a "
                         f"keyword argument), got {name!r}")
    return name


def plain_value(what: str, value: Any, *, hashable: bool) -> Any:
    """``value`` with numpy scalars made Python scalars; raise unless it is plain JSON data.

    Allowed: ``None``, ``bool``, ``int``, finite ``float``, ``str`` and tuples of these; with
    ``hashable=False`` also lists and string-keyed dicts (values of ``fixed``).
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, got {value!r}")
        return value
    if isinstance(value, tuple):
        return tuple(plain_value(what, v, hashable=hashable) for v in value)
    if not hashable and isinstance(value, list):
        return [plain_value(what, v, hashable=False) for v in value]
    if not hashable and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{what} has a non-string key {k!r}; keys must be strings")
            out[k] = plain_value(f"{what}[{k!r}]", v, hashable=False)
        return out
    if hashable and isinstance(value, list | dict | set | np.ndarray):
        raise TypeError(f"{what} = {value!r} is not hashable; grid values must be None, bool, "
                        f"int, float, str or tuples of these (use a tuple instead of a list)")
    raise TypeError(f"{what} = {value!r} of type {type(value).__name__} cannot be stored as "
                    f"JSON; allowed: None, bool, int, float, str"
                    + (", tuples of these" if hashable else ", lists, tuples and dicts of these"))


def _axis_values(name: str, values: Any) -> tuple[Any, ...]:
    if isinstance(values, str | bytes | int | float | bool | np.generic) or values is None:
        values = [values]  # a single value is a one-point axis
    elif isinstance(values, Mapping | set | frozenset):
        raise TypeError(f"axis {name!r} must be an ordered sequence (list, tuple, range, 1-D "
                        f"array), got a {type(values).__name__}")
    elif not isinstance(values, Iterable):
        raise TypeError(f"axis {name!r} must be a sequence of values, got {values!r}")
    out = tuple(plain_value(f"axis {name!r} value", v, hashable=True) for v in values)
    if not out:
        raise ValueError(f"axis {name!r} is empty; every axis needs at least one value")
    seen: set[str] = set()
    for v in out:
        text = canonical_json(v)
        if text in seen:
            raise ValueError(f"axis {name!r} lists the value {v!r} twice")
        seen.add(text)
    return out


class Grid:
    """A set of parameter points: the product of named axes, or a union of such products.

    ``Grid(dataset=["abalone", "splice"], context=["rbf", "knn"], level=range(35))`` has
    2 x 2 x 35 points, ordered like nested loops in the order the axes are given (the last axis
    varies fastest). Iterating yields one ``dict`` per point. ``Grid.union(g1, g2)`` or
    ``g1 + g2`` joins grids that are not one product (points may differ in their axes); a point
    that appears twice is kept once, at its first position.

    Axis values must be hashable JSON data: ``None``, ``bool``, ``int``, finite ``float``,
    ``str`` or tuples of these (numpy scalars are converted). A single ``str`` or number is a
    one-value axis. Infrastructure (no equation of the paper); the real-data chapters build
    their experiment grids with it.

    Parameters
    ----------
    **axes
        Axis name -> sequence of values. Names must be Python identifiers.
    """

    def __init__(self, **axes: Any) -> None:
        if not axes:
            raise ValueError("Grid needs at least one axis, e.g. Grid(seed=range(3))")
        block = {check_identifier("axis name", name): _axis_values(name, values)
                 for name, values in axes.items()}
        self._blocks: tuple[dict[str, tuple[Any, ...]], ...] = (block,)
        self._points = self._expand()

    def _expand(self) -> tuple[dict[str, Any], ...]:
        points, seen = [], set()
        for block in self._blocks:
            names = list(block)
            for values in product(*block.values()):
                point = dict(zip(names, values, strict=True))
                text = canonical_json(point)
                if text not in seen:
                    seen.add(text)
                    points.append(point)
        return tuple(points)

    def union(self, *others: Grid) -> Grid:
        """The points of this grid followed by those of ``others`` not seen before.

        Callable as ``Grid.union(g1, g2, ...)`` or ``g1.union(g2)``.
        """
        for i, g in enumerate(others):
            if not isinstance(g, Grid):
                raise TypeError(f"Grid.union takes grids, argument {i + 1} is a "
                                f"{type(g).__name__}")
        out = object.__new__(Grid)
        out._blocks = self._blocks + tuple(b for g in others for b in g._blocks)
        out._points = out._expand()
        return out

    def __add__(self, other: Grid) -> Grid:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.union(other)

    @property
    def axes(self) -> dict[str, tuple[Any, ...]]:
        """Every axis name with its distinct values, in first-seen order."""
        out: dict[str, dict[str, Any]] = {}
        for block in self._blocks:
            for name, values in block.items():
                have = out.setdefault(name, {})
                for v in values:
                    have.setdefault(canonical_json(v), v)
        return {name: tuple(values.values()) for name, values in out.items()}

    @property
    def points(self) -> tuple[dict[str, Any], ...]:
        """All points, in order (copies, so callers cannot alter the grid)."""
        return tuple(dict(p) for p in self._points)

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(p) for p in self._points)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return [canonical_json(p) for p in self._points] == [
            canonical_json(p) for p in other._points]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for block in self._blocks:
            axes = ", ".join(f"{k}=[{len(v)} values]" if len(v) > 4 else f"{k}={list(v)!r}"
                             for k, v in block.items())
            parts.append(f"Grid({axes})")
        return " + ".join(parts) + f"  # {len(self)} points"
