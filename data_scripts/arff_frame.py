"""ARFF files (OpenML exports) as pandas frames, parsed by liac-arff.

liac-arff (``import arff``, the parser OpenML's own Python client uses) reads the file: comments,
single- or double-quoted names and values with escapes, ``?`` for missing values, nominal sets and
sparse rows (``{index value, ...}``; an omitted entry is 0, or a nominal's first declared value).
It supports the types ``numeric``, ``real``, ``integer``, ``string`` and nominal; ``date`` and
relational attributes are rejected (none of the paper's datasets uses them). This module only turns
its output into a typed DataFrame and liac-arff's exceptions into :class:`ValueError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import arff
import numpy as np
import pandas as pd

__all__ = ["ArffAttribute", "ArffData", "parse_arff", "read_arff"]


@dataclass(frozen=True)
class ArffAttribute:
    """One ``@attribute`` line: its name, its type and (nominal only) its declared values."""

    name: str
    type: str  # "numeric", "nominal" or "string"
    values: tuple[str, ...] = ()


@dataclass
class ArffData:
    """A parsed ARFF file: relation name, attributes in order, and the data as a DataFrame.

    Numeric columns are float64 (NaN = missing); nominal and string columns have the pandas
    ``string`` dtype (``pd.NA`` = missing), with surrounding whitespace stripped.
    """

    relation: str
    attributes: list[ArffAttribute]
    frame: pd.DataFrame


def _attribute(name: str, spec: str | list[str]) -> ArffAttribute:
    """Map liac-arff's ``(name, type)`` pair: a list is a nominal set, else a type name."""
    if isinstance(spec, list):
        return ArffAttribute(name, "nominal", tuple(str(v).strip() for v in spec))
    return ArffAttribute(name, "string" if spec == "STRING" else "numeric")


def parse_arff(source: str | Iterable[str]) -> ArffData:
    """Parse ARFF text (or an iterable of lines) into an :class:`ArffData`.

    Malformed input (bad layout, unknown type, a value outside its nominal set, a row of the
    wrong length) raises :class:`ValueError` with liac-arff's message, which names the line.
    """
    try:
        obj = arff.load(source) if not isinstance(source, str) else arff.loads(source)
    except arff.ArffException as exc:
        raise ValueError(f"invalid ARFF: {exc}") from exc
    attrs = [_attribute(name, spec) for name, spec in obj["attributes"]]
    columns = list(zip(*obj["data"], strict=True)) or [()] * len(attrs)
    frame = pd.DataFrame({
        a.name: (pd.Series(col, dtype=object).astype(np.float64) if a.type == "numeric"
                 else pd.Series(col, dtype=object).astype("string").str.strip())
        for a, col in zip(attrs, columns, strict=True)})
    return ArffData(str(obj["relation"]), attrs, frame)


def read_arff(path: str | os.PathLike[str], encoding: str = "utf-8") -> ArffData:
    """Read and parse an ARFF file (see :func:`parse_arff`)."""
    with open(path, encoding=encoding) as fh:
        return parse_arff(fh)
