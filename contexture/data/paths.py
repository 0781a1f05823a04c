"""Where the data live: the data directory (canonical files) and the optional mirror directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "MIRROR_ENV", "REPO_ROOT", "data_dir", "mirror_dir"]

#: Environment variable that overrides the data directory (default: ``<repo>/data``).
DATA_DIR_ENV = "CONTEXTURE_DATA_DIR"
#: Environment variable naming a local mirror of the raw files (see ``data_scripts``).
MIRROR_ENV = "CONTEXTURE_DATA_MIRROR"

#: The repository root, i.e. the folder that holds the ``contexture`` package.
REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory: ``path`` if given, else ``$CONTEXTURE_DATA_DIR``, else ``data/``.

    The default ``data/`` sits at the repository root (git-ignored). Canonical files are stored as
    ``<data_dir>/<name>/canonical.npz`` plus ``meta.json`` (used by every chapter through
    :func:`contexture.data.load`).
    """
    if path is not None:
        return Path(path)
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else REPO_ROOT / "data"


def mirror_dir(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the mirror directory: ``path`` if given, else ``$CONTEXTURE_DATA_MIRROR``, else None.

    Relative paths are resolved against the current working directory.
    """
    if path is not None:
        return Path(path)
    env = os.environ.get(MIRROR_ENV)
    return Path(env) if env else None
