"""The one canonical on-disk format of a prepared dataset, and safe (atomic) file writing.

A prepared dataset lives in ``<data_dir>/<name>/``:

* ``canonical.npz`` — arrays, written deterministically (fixed zip timestamps, no pickles):
  ``X`` (n × p; float64 for tables, with categorical features stored as integer codes
  0..k-1 and missing values as NaN; uint8 pixels for images), ``y`` (int64 class codes or float64
  regression targets; never missing) and optional extra arrays (MNIST subsets).
* ``meta.json`` — feature names, feature types, category labels, target name, classes, task,
  shapes and the full provenance (source, ids, sha256 of the raw and canonical files, match level,
  differences from the paper's Table 1, creation date). ``meta["canonical"]["sha256"]`` is the
  checksum of ``canonical.npz``; :func:`read_canonical` refuses a file that does not match it.

Writes go to a temporary file in the same folder followed by :func:`os.replace`, so an interrupted
write never leaves a partial file under the final name. ``canonical.npz`` is replaced before
``meta.json``: a crash between the two leaves a checksum mismatch that is detected on load and
repaired by re-running ``data_scripts.prepare``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contexture.data.errors import ChecksumError, DataError

__all__ = [
    "CANONICAL_FILE",
    "FORMAT_VERSION",
    "META_FILE",
    "CanonicalTable",
    "atomic_path",
    "canonical_status",
    "file_digest",
    "read_canonical",
    "read_meta",
    "write_canonical",
]

FORMAT_VERSION = 1
CANONICAL_FILE = "canonical.npz"
META_FILE = "meta.json"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class CanonicalTable:
    """A dataset in canonical form (before preprocessing).

    ``X`` holds numeric features as floats (NaN = missing) and categorical features as codes into
    ``categories[name]`` (NaN = missing). ``y`` holds class codes into ``classes`` or regression
    targets. ``provenance`` is a JSON-able dict; :func:`write_canonical` adds the checksums.
    """

    name: str
    task: str
    kind: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    categorical: list[bool]
    categories: dict[str, list[str]]
    target_name: str
    classes: list[str] | None
    provenance: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def validate(self) -> None:
        """Raise :class:`DataError` if the arrays and the metadata disagree."""
        n, p = self.X.shape if self.X.ndim == 2 else (-1, -1)
        problems = []
        if self.X.ndim != 2:
            problems.append(f"X must be 2-D, got shape {self.X.shape}")
        if self.y.shape != (n,):
            problems.append(f"y must have shape ({n},), got {self.y.shape}")
        if len(self.feature_names) != p or len(self.categorical) != p:
            problems.append(f"{len(self.feature_names)} feature names and "
                            f"{len(self.categorical)} type flags for {p} columns")
        if len(set(self.feature_names)) != len(self.feature_names):
            problems.append("feature names are not unique")
        if self.task not in ("classification", "regression"):
            problems.append(f"task must be 'classification' or 'regression', got {self.task!r}")
        if self.task == "classification":
            if not self.classes or not np.issubdtype(self.y.dtype, np.integer):
                problems.append("a classification target needs integer codes and class names")
            elif self.y.size and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
                problems.append("class codes out of range")
        elif self.y.size and not np.all(np.isfinite(self.y)):
            problems.append("regression target has missing or infinite values")
        if problems:
            raise DataError(f"invalid canonical table {self.name!r}: " + "; ".join(problems))
        for j, (name, cat) in enumerate(zip(self.feature_names, self.categorical, strict=True)):
            if cat:
                if name not in self.categories:
                    problems.append(f"categorical feature {name!r} has no category list")
                    continue
                col = self.X[:, j]
                ok = col[~np.isnan(col)]
                if ok.size and (ok.min() < 0 or ok.max() >= len(self.categories[name])
                                or np.any(ok != np.round(ok))):
                    problems.append(f"categorical feature {name!r} has invalid codes")
        if problems:
            raise DataError(f"invalid canonical table {self.name!r}: " + "; ".join(problems))

    def meta(self) -> dict[str, Any]:
        """The JSON metadata (without the ``canonical`` checksum block)."""
        n_missing = (np.isnan(self.X).sum(axis=0) if self.X.dtype.kind == "f"
                     else np.zeros(self.n_features, dtype=int))
        features = []
        for j, (name, cat) in enumerate(zip(self.feature_names, self.categorical, strict=True)):
            entry: dict[str, Any] = {"name": name, "type": "categorical" if cat else "numeric",
                                     "n_missing": int(n_missing[j])}
            if cat:
                entry["categories"] = list(self.categories[name])
            features.append(entry)
        arrays = {"X": self.X, "y": self.y, **self.extras}
        return {
            "format": "contexture-canonical",
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "task": self.task,
            "kind": self.kind,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "n_categorical": int(sum(self.categorical)),
            "n_missing_cells": int(n_missing.sum()),
            "features": features,
            "target": {"name": self.target_name, "classes": self.classes},
            "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                       for k, v in arrays.items()},
            "provenance": self.provenance,
        }


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Return the hexadecimal hash (``sha256`` by default) of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; on success move it onto ``final`` atomically.

    If the body raises (or the process dies), ``final`` is untouched: either absent or the
    previous good copy. The temporary file is removed on error; a killed process can leave a
    hidden ``.<name>.tmp-*`` file, which ``data_scripts.prepare`` removes on its next run.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``.npz`` whose bytes depend only on the arrays (fixed timestamps, sorted names)."""
    with zipfile.ZipFile(path, "w") as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(arrays[key]),
                                          allow_pickle=False)


def _dump_json(obj: Any, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, ensure_ascii=False, allow_nan=False)
        fh.write("\n")


def write_canonical(table: CanonicalTable, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Validate ``table`` and write ``canonical.npz`` + ``meta.json`` into ``out_dir`` atomically.

    Returns the metadata written. Both files are first written to temporary names; only when both
    are complete are they moved into place (the npz first, then ``meta.json``).
    """
    table.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = table.meta()
    arrays = {"X": table.X, "y": table.y, **table.extras}
    tmp_npz, tmp_meta = _tmp_name(out / CANONICAL_FILE), _tmp_name(out / META_FILE)
    try:
        _write_npz(tmp_npz, arrays)
        _fsync(tmp_npz)
        meta["canonical"] = {"file": CANONICAL_FILE, "sha256": file_digest(tmp_npz),
                             "bytes": tmp_npz.stat().st_size}
        _dump_json(meta, tmp_meta)
        _fsync(tmp_meta)
        os.replace(tmp_npz, out / CANONICAL_FILE)
        os.replace(tmp_meta, out / META_FILE)
    finally:
        for tmp in (tmp_npz, tmp_meta):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return meta


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``meta.json`` of a prepared dataset folder (no checksum check)."""
    path = Path(folder) / META_FILE
    with open(path, encoding="utf-8") as fh:
        meta = json.load(fh)
    if meta.get("format") != "contexture-canonical":
        raise DataError(f"{path} is not a contexture canonical metadata file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path} has format_version {meta.get('format_version')!r}, this code "
                        f"reads {FORMAT_VERSION}; re-run `python -m data_scripts.prepare --force`")
    return meta


def canonical_status(folder: str | os.PathLike[str]) -> tuple[str, str]:
    """Return ``(status, detail)`` for a dataset folder without loading the arrays.

    ``status`` is ``"ok"`` (files present, checksum matches), ``"missing"`` or ``"corrupt"``.
    """
    folder = Path(folder)
    npz, meta_path = folder / CANONICAL_FILE, folder / META_FILE
    if not npz.exists() or not meta_path.exists():
        return "missing", f"{npz if not npz.exists() else meta_path} does not exist"
    try:
        meta = read_meta(folder)
    except (DataError, ValueError, OSError) as exc:
        return "corrupt", str(exc)
    expected = meta.get("canonical", {}).get("sha256")
    actual = file_digest(npz)
    if actual != expected:
        return "corrupt", f"{npz}: sha256 {actual} differs from {expected} recorded in {META_FILE}"
    return "ok", "checksum verified"


def read_canonical(folder: str | os.PathLike[str], *, verify: bool = True) -> CanonicalTable:
    """Read a prepared dataset folder into a :class:`CanonicalTable`.

    With ``verify=True`` (default) the sha256 of ``canonical.npz`` must match ``meta.json``;
    otherwise :class:`ChecksumError` is raised and nothing is returned.
    """
    folder = Path(folder)
    meta = read_meta(folder)
    npz = folder / CANONICAL_FILE
    if verify:
        expected = meta["canonical"]["sha256"]
        actual = file_digest(npz)
        if actual != expected:
            raise ChecksumError(
                f"{npz}: sha256 {actual} differs from {expected} recorded in {META_FILE}; the "
                f"file is refused. Re-create it with `python -m data_scripts.prepare --only "
                f"{meta['name']} --force`")
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    feats = meta["features"]
    return CanonicalTable(
        name=meta["name"], task=meta["task"], kind=meta["kind"],
        X=arrays.pop("X"), y=arrays.pop("y"),
        feature_names=[f["name"] for f in feats],
        categorical=[f["type"] == "categorical" for f in feats],
        categories={f["name"]: f["categories"] for f in feats if f["type"] == "categorical"},
        target_name=meta["target"]["name"], classes=meta["target"]["classes"],
        provenance=meta["provenance"], extras=arrays,
    )
