"""Used by the ``hello`` chapter through its companion and the lazy map."""

from __future__ import annotations

__all__ = ["shout"]


def shout(text: str) -> str:
    """``text`` in capitals, with an exclamation mark.

    Capitals come from :func:`contexture.util.case.upper`.
    """
    from contexture.util.case import upper  # a lazy import: still a dependency

    return upper(text) + "!"
