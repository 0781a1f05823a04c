"""A miniature library package for the pipeline tests, laid out like the real one.

``shout`` is served lazily by ``__getattr__`` through ``_LAZY``, as in the real package.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"tools": "util"}
_LAZY = {"shout": "words"}

__all__ = ["shout"]


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in _SUBMODULES:
        module = importlib.import_module(f".{_LAZY.get(name) or _SUBMODULES[name]}", __name__)
        value = getattr(module, name) if name in _LAZY else module
        globals()[name] = value
        return value
    raise AttributeError(f"module 'contexture' has no attribute {name!r}")
