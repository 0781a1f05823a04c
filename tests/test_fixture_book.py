"""The pipeline end to end on a two-page fixture book: cache, failures, parameter rejection."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

FIXTURE = Path(__file__).parent / "fixture_book"


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bookbuild", "--root", str(root), *args],
        capture_output=True, text=True,
    )


@pytest.fixture
def book(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "book")
    (tmp_path / "contexture").mkdir()
    (tmp_path / "contexture" / "lib.py").write_text("X = 1\n")
    (tmp_path / "requirements.lock").write_text("numpy==2.4.6\n")
    return tmp_path


def test_build_cache_and_invalidation(book: Path):
    first = _run(book, "build", "--profile", "smoke")
    assert first.returncode == 0, first.stderr
    assert "[hello] executing" in first.stdout
    html = book / "build" / "smoke" / "_build" / "html"
    assert (html / "chapters" / "hello.html").exists()
    page = (html / "chapters" / "hello.html").read_text()
    assert "Parameters used" in page and "Traceback" not in page
    assert "hello" in (html / "status.html").read_text()

    executed = nbformat.read(book / "build" / "smoke" / "executed" / "hello.ipynb", as_version=4)
    outputs = [o.get("text", "") for c in executed.cells if c.cell_type == "code"
               for o in c.outputs]
    assert "6\n" in outputs  # n = 4 from the smoke profile: 0 + 1 + 2 + 3
    tags = [t for c in executed.cells for t in c.metadata.get("tags", [])]
    assert {"parameters", "injected-parameters", "parameters-used", "remove-cell"} <= set(tags)

    again = _run(book, "build", "--profile", "smoke", "--no-html")
    assert again.returncode == 0
    assert "executing" not in again.stdout and "unchanged, not re-executed" in again.stdout

    chapter = book / "book" / "chapters" / "hello.md"
    chapter.write_text(chapter.read_text() + "\n```{code-cell} ipython3\nprint('edited')\n```\n")
    edited = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "[hello] executing" in edited.stdout

    (book / "contexture" / "lib.py").write_text("X = 2\n")
    lib = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "[hello] executing" in lib.stdout

    record = json.loads((book / "build" / "smoke" / "runs" / "hello.json").read_text())
    assert record["status"] == "executed" and record["params"]["n"] == 4


def test_planted_failing_cell_fails_the_build(book: Path):
    proc = _run(book, "build", "--profile", "smoke", "-p", "fail", "true")
    assert proc.returncode == 1
    assert "chapter 'hello' failed in cell" in proc.stderr
    assert "RuntimeError: planted failure" in proc.stderr
    assert "the book was not built" in proc.stderr
    assert not (book / "build" / "custom" / "smoke" / "_build").exists()
    assert not (book / "build" / "custom" / "smoke" / "executed" / "hello.ipynb").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nn", "3"], "unknown parameter 'nn'"),
        (["-p", "n", "1000"], "parameter 'n' = 1000 is invalid (out of range)"),
        (["-p", "n", "abc"], "expected an int"),
    ],
)
def test_bad_parameters_stop_before_execution(book: Path, args, message):
    proc = _run(book, "build", "--profile", "smoke", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "executing" not in proc.stdout


def test_unknown_profile_and_chapter(book: Path):
    proc = _run(book, "build", "--profile", "huge")
    assert proc.returncode == 2 and "unknown profile 'huge'" in proc.stderr
    proc = _run(book, "chapter", "nope", "--profile", "smoke")
    assert proc.returncode == 2 and "unknown chapter(s) ['nope']" in proc.stderr
