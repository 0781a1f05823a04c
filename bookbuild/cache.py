"""Cache keys for chapter runs.

A chapter is re-executed only when its key changes. The key hashes: the chapter source, its
resolved parameters, the content of the ``contexture`` modules the chapter imports, transitively
(found by :mod:`bookbuild.deps`), the lock file, and the provenance records of the prepared
datasets.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["tree_hash", "chapter_key"]


def tree_hash(root: Path, pattern: str = "*.py") -> str:
    """sha256 over the relative paths and bytes of the files under ``root`` matching ``pattern``."""
    h = hashlib.sha256()
    if root.exists():
        for path in sorted(root.rglob(pattern)):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            h.update(path.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def chapter_key(
    source: bytes,
    params: dict[str, Any],
    *,
    library_hash: str,
    lock_hash: str,
    data_hash: str,
) -> str:
    """The cache key of one chapter run (a hexadecimal sha256 hash)."""
    payload = {
        "source": hashlib.sha256(source).hexdigest(),
        "params": params,
        "library": library_hash,
        "lock": lock_hash,
        "data": data_hash,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()
