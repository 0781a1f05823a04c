"""Companion of a chapter that is not in the fixture book (its edits must not matter)."""

from __future__ import annotations

from contexture.other import VALUE


def farewell() -> str:
    """A farewell."""
    return f"goodbye {VALUE}"
