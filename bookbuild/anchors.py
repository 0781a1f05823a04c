"""Where in a chapter each recorded key is computed: the nearest label or heading above it.

A chapter records a key in a code cell (``results.record("key", ...)``, ``results.verify("key",
...)``); the section that computes it is the closest anchor above that cell in the rendered page:
an explicit target ``(label)=``, a proof box ``:label:``, a figure ``:name:`` or a heading (whose
HTML id docutils derives from its text). Keys built at run time (f-strings) are matched as
patterns. The browser test checks that every anchor found here exists in the built HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
from docutils.nodes import make_id

__all__ = ["anchor_for", "heading_id", "key_anchors"]

_RECORD = re.compile(r"""\b(?:record|verify|verify_le)\(\s*(f?)(["'])(.+?)\2""")
_TARGET = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$")
_OPTION = re.compile(r"^:(?:label|name):\s*(\S+)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MARKUP = re.compile(r"[`*$]|\{[a-z:]+\}")


def heading_id(title: str) -> str:
    """The HTML id docutils gives a section titled ``title`` (markup characters dropped)."""
    return make_id(_MARKUP.sub("", title))


def _key_pattern(literal: str, fstring: bool) -> re.Pattern[str]:
    if not fstring:
        return re.compile(re.escape(literal) + r"\Z")
    parts = re.split(r"\{[^{}]*\}", literal)
    return re.compile(r"[a-z0-9_]+?".join(re.escape(p) for p in parts) + r"\Z")


def _markdown_anchors(text: str, seen: dict[str, int]) -> list[str]:
    """Anchors defined in one markdown cell, in order (headings get their docutils id)."""
    out: list[str] = []
    fence = ""
    labelled = False  # the previous line was a target: the heading below carries its label
    for line in text.splitlines():
        stripped = line.strip()
        if fence:
            fence = "" if stripped == fence else fence
            continue
        if stripped.startswith("```") and not stripped.startswith("```{"):
            fence = "```"  # a code example: its '#' lines are not headings
        elif m := _TARGET.match(stripped):
            out.append(m.group(1))
            labelled = True
            continue
        elif m := _OPTION.match(stripped):
            out.append(m.group(1))
        elif (m := _HEADING.match(line)) and len(m.group(1)) >= 2:
            ident = heading_id(m.group(2))
            seen[ident] = seen.get(ident, 0) + 1
            # a repeated title gets a generated id; a labelled heading keeps its label
            if seen[ident] == 1 and ident and not labelled:
                out.append(ident)
        if stripped:
            labelled = False
    return out


def key_anchors(chapter_source: Path) -> list[tuple[re.Pattern[str], str]]:
    """``(key pattern, anchor)`` for every key recorded in the chapter, in document order.

    The anchor is ``""`` for keys recorded before the first anchor of the page (link to the top).
    """
    nb = jupytext.read(chapter_source)
    seen: dict[str, int] = {}
    current = ""
    out: list[tuple[re.Pattern[str], str]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            anchors = _markdown_anchors(cell.source, seen)
            if anchors:
                current = anchors[-1]
        elif cell.cell_type == "code":
            for fstring, _, literal in _RECORD.findall(cell.source):
                out.append((_key_pattern(literal, bool(fstring)), current))
    return out


def anchor_for(key: str, patterns: list[tuple[re.Pattern[str], str]]) -> str:
    """The anchor of the first record call whose key pattern matches ``key`` (else ``""``)."""
    base = key[:-4] if key.endswith(("_lhs", "_rhs")) else key
    for candidate in (key, base):
        for pattern, anchor in patterns:
            if pattern.match(candidate):
                return anchor
    return ""
