"""Companion of the ``hello`` chapter."""

from __future__ import annotations

from contexture import shout


def greeting(n: int) -> str:
    """The chapter's greeting for ``n``."""
    return shout(f"hello {n}")
