"""Reached from the ``hello`` chapter only through a function-level import in ``words``."""

from __future__ import annotations


def upper(text: str) -> str:
    """``text`` in capitals."""
    return text.upper()
