"""Docstrings and comments name chapters that exist, and nothing cites the team's private notes.

Chapters are named by file id (``ch05_optimality``); a title in quotes or asterisks after the
word "chapter" must be the ``# Title`` of a chapter under ``book/chapters/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CODE_DIRS = ("contexture", "bookbuild")
TEXT_DIRS = ("contexture", "bookbuild", "data_scripts", "tests", "benchmarks")

CHAPTER_ID = re.compile(r"(?<![A-Za-z0-9_])(ch\d\d_[a-z0-9_]*[a-z0-9])")
# "chapter *Title*", 'Chapters: "Title"', "chapter “Title”" (a title starts with a capital)
CHAPTER_TITLE = re.compile(r"\b[Cc]hapters?:?\s+[\"*“]([A-Z][^\"*”]{2,80}?)[\"*”]")
# "Chapter: supervised" -- a bare word after "Chapter:" instead of an id (a lower-case
# "chapter: str" is a type annotation)
BARE_NAME = re.compile(r"\bChapters?:\s+(?![`\"*“])([A-Za-z][\w-]*)")
# the team's notes are private: built so that this file does not contain the word itself
NOTES_WORD = re.compile(r"(?<![A-Za-z0-9_])" + "dig" + "est" + r"(?![A-Za-z0-9_])",
                        re.IGNORECASE)


def _files(root: Path, dirs: tuple[str, ...], pattern: str) -> list[Path]:
    return sorted(p for d in dirs for p in (root / d).rglob(pattern)
                  if p.is_file() and "__pycache__" not in p.parts)


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary files (images, notebooks' attachments, archives)


def _chapters(root: Path) -> tuple[set[str], set[str]]:
    ids, titles = set(), set()
    for md in (root / "book" / "chapters").glob("*.md"):
        ids.add(md.stem)
        heading = re.search(r"^# (.+)$", md.read_text(encoding="utf-8"), re.MULTILINE)
        if heading:
            titles.add(heading.group(1).strip())
    return ids, titles


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def test_the_chapters_are_found(root: Path) -> None:
    ids, titles = _chapters(root)
    assert {"ch01_contexts", "datasets"} <= ids
    assert "Optimality of the contexture" in titles


def test_named_chapters_exist(root: Path) -> None:
    ids, titles = _chapters(root)
    bad = []
    for path in _files(root, CODE_DIRS, "*.py"):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(root)
        for m in CHAPTER_ID.finditer(text):
            if m.group(1) not in ids:
                bad.append(f"{where}:{_line(text, m.start())}: no chapter {m.group(1)!r}")
        for m in CHAPTER_TITLE.finditer(text):
            title = " ".join(m.group(1).split())
            if title not in titles:
                bad.append(f"{where}:{_line(text, m.start())}: no chapter titled {title!r}")
        for m in BARE_NAME.finditer(text):
            if m.group(1) not in ids:
                bad.append(f"{where}:{_line(text, m.start())}: name the chapter by its id, "
                           f"not {m.group(1)!r}")
    assert not bad, "\n".join(bad)


def test_no_file_cites_the_private_notes(root: Path) -> None:
    bad = []
    for path in _files(root, TEXT_DIRS, "*"):
        text = _text(path)
        if text is None:
            continue
        for m in NOTES_WORD.finditer(text):
            bad.append(f"{path.relative_to(root)}:{_line(text, m.start())}")
    assert not bad, "state the fact or cite the paper instead:\n" + "\n".join(bad)


@pytest.mark.parametrize(("text", "hits"), [
    ("Chapter ``ch05_optimality``.", {"ids": ["ch05_optimality"], "titles": [], "bare": []}),
    ('Chapters: "Contexts and the\n    expectation operator".',
     {"ids": [], "titles": ["Contexts and the\n    expectation operator"], "bare": []}),
    ("Chapter *The metric tau*; test_ch01_contexts", {"ids": [], "titles": ["The metric tau"],
                                                      "bare": []}),
    ("Chapter: supervised.", {"ids": [], "titles": [], "bare": ["supervised"]}),
    ('part.get("chapters", []) and "chapters").glob("x")', {"ids": [], "titles": [], "bare": []}),
    ("def run(chapter: str) -> None:", {"ids": [], "titles": [], "bare": []}),
])
def test_the_patterns_find_what_they_should(text: str, hits: dict[str, list[str]]) -> None:
    assert [m.group(1) for m in CHAPTER_ID.finditer(text)] == hits["ids"]
    assert [m.group(1) for m in CHAPTER_TITLE.finditer(text)] == hits["titles"]
    assert [m.group(1) for m in BARE_NAME.finditer(text)] == hits["bare"]
    assert NOTES_WORD.search("as the " + "Dig" + "est says")
    word = "dig" + "est"
    assert not NOTES_WORD.search(f"hashlib.sha256(b).hex{word}() and file_{word}(path)")
