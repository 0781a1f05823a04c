"""The on-disk store of finished cells: one JSON file per cell, written atomically.

Layout: ``<store>/<sweep name>/<key[:2]>/<key>.json``. A file holds the cell's parameters, its
record (numpy arrays encoded with dtype and shape), metadata (duration, finish time, code hash)
and a sha256 checksum of all of it. It is written to a temporary file in the same folder,
flushed and fsynced, then renamed over the final name, so a killed run never leaves a readable
half-written cell. A file that cannot be parsed or fails its checksum is reported with a
:class:`CorruptCellWarning` and treated as missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CellStore", "CorruptCellWarning", "check_sweep_name", "decode_record",
           "default_store", "encode_record", "project_root"]

FORMAT = 1
STORE_ENV = "CONTEXTURE_SWEEP_DIR"
_ARRAY = "__ndarray__"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CorruptCellWarning(RuntimeWarning):
    """A stored cell file could not be read back; the cell is computed again."""


def check_sweep_name(name: Any) -> str:
    """Return ``name`` if it can name a sweep's folder, else raise ``ValueError``."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise ValueError(f"sweep name must match {_NAME_RE.pattern} (it names a folder), "
                         f"got {name!r}")
    return name


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the cwd) holding ``pyproject.toml``.

    Falls back to ``start`` itself when there is none.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def default_store(start: str | os.PathLike[str] | None = None) -> Path:
    """The default store: ``$CONTEXTURE_SWEEP_DIR`` if set, else ``build/sweeps`` under
    :func:`project_root`.

    A relative ``$CONTEXTURE_SWEEP_DIR`` is taken from the cwd, which differs between the command
    line and an executing chapter; set it to an absolute path.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).resolve()
    return project_root(start) / "build" / "sweeps"


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError


def encode_record(record: Any, what: str = "record") -> dict[str, Any]:
    """``record`` as JSON data; raise ``TypeError`` naming the first field that is not allowed.

    A record is a ``dict`` with string keys whose values are numbers, strings, booleans,
    ``None``, lists/tuples/dicts of these, or numpy arrays of bool, integer, float or string
    dtype.
    """
    if not isinstance(record, dict):
        raise TypeError(f"a cell must return a dict (its record), got {type(record).__name__}")
    return _encode(record, what)


def _encode(value: Any, what: str) -> Any:
    try:
        return _scalar(value)
    except TypeError:
        pass
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"{what} is a numpy array of dtype {value.dtype}; allowed dtypes are "
                            f"bool, integer, float and str")
        return {_ARRAY: {"dtype": value.dtype.str, "shape": list(value.shape),
                         "data": value.ravel().tolist()}}
    if isinstance(value, list | tuple):
        return [_encode(v, f"{what}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k == _ARRAY:
                raise TypeError(f"{what} has the key {k!r}; keys must be strings other than "
                                f"{_ARRAY!r}")
            out[k] = _encode(v, f"{what}[{k!r}]")
        return out
    raise TypeError(f"{what} = {value!r} has type {type(value).__name__}; a record holds "
                    f"numbers, strings, booleans, None, lists/dicts of these and numpy arrays")


def decode_record(data: Any) -> Any:
    """Inverse of :func:`encode_record` (lists stay lists, arrays come back as arrays)."""
    if isinstance(data, dict):
        if set(data) == {_ARRAY}:
            spec = data[_ARRAY]
            return np.array(spec["data"], dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])
        return {k: decode_record(v) for k, v in data.items()}
    if isinstance(data, list):
        return [decode_record(v) for v in data]
    return data


def _checksum(payload: dict[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


class CellStore:
    """The finished cells of one sweep under ``<root>/<name>/``.

    Parameters
    ----------
    root
        The store folder (shared by all sweeps).
    name
        The sweep name: letters, digits, ``_``, ``.`` and ``-``, starting with a letter or digit.
    """

    def __init__(self, root: str | os.PathLike[str], name: str) -> None:
        check_sweep_name(name)
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise ValueError(f"store must be a folder, got the file {root}")
        self.root = root
        self.folder = root / name

    def path(self, key: str) -> Path:
        """Where the cell with ``key`` is stored."""
        return self.folder / key[:2] / f"{key}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        """The stored payload of ``key``, or ``None`` if it is missing or unreadable (warned)."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._corrupt(path, f"cannot be read: {exc}")
        try:
            payload = json.loads(text)
        except ValueError as exc:
            return self._corrupt(path, f"is not valid JSON ({exc})")
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            return self._corrupt(path, "has an unknown format")
        if payload.get("key") != key:
            return self._corrupt(path, f"holds key {payload.get('key')!r}, expected {key!r}")
        if payload.get("checksum") != _checksum(payload):
            return self._corrupt(path, "fails its checksum")
        return payload

    def _corrupt(self, path: Path, why: str) -> None:
        warnings.warn(f"cell file {path} {why}; the cell is computed again",
                      CorruptCellWarning, stacklevel=3)
        return None

    def write(self, key: str, payload: dict[str, Any]) -> Path:
        """Write ``payload`` (with ``format``, ``key`` and ``checksum`` added) atomically."""
        payload = {**payload, "format": FORMAT, "key": key}
        payload["checksum"] = _checksum(payload)
        text = json.dumps(payload, indent=1, allow_nan=True)  # keeps the record's field order
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:  # make the rename itself durable
            fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return path
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
        return path

    def keys(self) -> list[str]:
        """Keys of all cell files present (readable or not)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*/*.json"))
