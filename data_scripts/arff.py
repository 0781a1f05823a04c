"""A small ARFF reader for OpenML exports (dense and sparse data sections).

Handles what OpenML writes: ``%`` comments, quoted attribute names (``'Wifes_now_working%3F'``),
nominal sets with single- or double-quoted values, ``numeric``/``real``/``integer``/``string``/
``date`` types, ``?`` for missing values and single-quoted data values. Relational attributes are
not supported (none of the paper's datasets uses them).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ArffAttribute", "ArffData", "parse_arff", "read_arff"]


@dataclass(frozen=True)
class ArffAttribute:
    """One ``@attribute`` line: its name, its type and (nominal only) its declared values."""

    name: str
    type: str  # "numeric", "nominal", "string" or "date"
    values: tuple[str, ...] = ()


@dataclass
class ArffData:
    """A parsed ARFF file: relation name, attributes in order, and the data as a DataFrame.

    Numeric columns are float64 (NaN = missing); nominal, string and date columns are strings
    (``pd.NA`` = missing).
    """

    relation: str
    attributes: list[ArffAttribute]
    frame: pd.DataFrame


_NUMERIC = {"numeric", "real", "integer"}


def _split_csv_line(text: str) -> list[str]:
    """Split one comma-separated line honouring single and double quotes."""
    out, buf, quote, i = [], [], "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
            else:
                buf.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf).strip())
    return out


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    return token


_ATTR = re.compile(r"""^@attribute\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)\s+(.*)$""",
                   re.IGNORECASE)


def _parse_attribute(line: str) -> ArffAttribute:
    m = _ATTR.match(line.strip())
    if not m:
        raise ValueError(f"cannot parse ARFF attribute line: {line.strip()!r}")
    name, spec = _unquote(m.group(1)), m.group(2).strip()
    if spec.startswith("{"):
        if not spec.endswith("}"):
            raise ValueError(f"unterminated nominal set in ARFF line: {line.strip()!r}")
        values = tuple(v for v in _split_csv_line(spec[1:-1]))
        return ArffAttribute(name, "nominal", values)
    kind = spec.split()[0].lower()
    if kind in _NUMERIC:
        return ArffAttribute(name, "numeric")
    if kind in ("string", "date"):
        return ArffAttribute(name, kind)
    raise ValueError(f"unsupported ARFF attribute type {spec!r} for {name!r}")


def _read_dense(body: str, attrs: list[ArffAttribute]) -> pd.DataFrame:
    names = [f"c{i}" for i in range(len(attrs))]
    dtypes = {n: (float if a.type == "numeric" else str) for n, a in zip(names, attrs, strict=True)}
    try:
        if '"' in body:  # pandas handles one quote character only: use the careful reader
            raise ValueError("double quotes present")
        frame = pd.read_csv(io.StringIO(body), header=None, names=names, dtype=dtypes,
                            na_values=["?"], keep_default_na=False, quotechar="'",
                            skipinitialspace=True, escapechar="\\", quoting=csv.QUOTE_MINIMAL,
                            comment=None, skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError):
        # slow path: double-quoted values or unusual quoting
        rows = [_split_csv_line(line) for line in body.splitlines() if line.strip()]
        frame = pd.DataFrame(rows, columns=names, dtype=object).replace({"?": None})
        for n, a in zip(names, attrs, strict=True):
            frame[n] = (pd.to_numeric(frame[n]) if a.type == "numeric"
                        else frame[n].astype("string"))
    return frame


def _read_sparse(lines: list[str], attrs: list[ArffAttribute]) -> pd.DataFrame:
    cols: list[list[object]] = [[] for _ in attrs]
    defaults = [0.0 if a.type == "numeric" else (a.values[0] if a.values else "")
                for a in attrs]
    for line in lines:
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            raise ValueError(f"bad sparse ARFF row: {line[:80]!r}")
        row = list(defaults)
        inner = line[1:-1].strip()
        if inner:
            for item in _split_csv_line(inner):
                idx, _, val = item.strip().partition(" ")
                row[int(idx)] = _unquote(val)
        for j, v in enumerate(row):
            cols[j].append(v)
    data = {}
    for j, a in enumerate(attrs):
        s = pd.Series(cols[j], dtype=object).replace({"?": None})
        data[f"c{j}"] = (pd.to_numeric(s).astype(float) if a.type == "numeric"
                         else s.astype("string"))
    return pd.DataFrame(data)


def parse_arff(text: str) -> ArffData:
    """Parse ARFF text into an :class:`ArffData` (the module docstring says what is supported)."""
    relation, attrs = "", []
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        low = line.lower()
        if low.startswith("@relation"):
            relation = _unquote(line[len("@relation"):])
        elif low.startswith("@attribute"):
            attrs.append(_parse_attribute(line))
        elif low.startswith("@data"):
            data_lines = [ln for ln in lines[i + 1:] if ln.strip() and not ln.lstrip()
                          .startswith("%")]
            break
        else:
            raise ValueError(f"unexpected line {i + 1} in ARFF header: {line[:80]!r}")
    else:
        raise ValueError("no @data section found: not an ARFF file")
    if not attrs:
        raise ValueError("ARFF file declares no attributes")
    if data_lines and data_lines[0].lstrip().startswith("{"):
        frame = _read_sparse(data_lines, attrs)
    else:
        frame = _read_dense("\n".join(data_lines), attrs)
    frame.columns = [a.name for a in attrs]
    for a in attrs:
        if a.type != "numeric":
            frame[a.name] = frame[a.name].astype("string").str.strip()
        else:
            frame[a.name] = frame[a.name].astype(np.float64)
        if a.type == "nominal":
            bad = set(frame[a.name].dropna().unique()) - set(a.values)
            if bad:
                raise ValueError(f"ARFF column {a.name!r} has values {sorted(bad)[:5]} not in "
                                 f"its declared set {list(a.values)[:10]}")
    return ArffData(relation, attrs, frame)


def read_arff(path: str, encoding: str = "utf-8") -> ArffData:
    """Read and parse an ARFF file (see :func:`parse_arff`)."""
    with open(path, encoding=encoding) as fh:
        return parse_arff(fh.read())
