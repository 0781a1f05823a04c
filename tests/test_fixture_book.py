"""The pipeline end to end on a two-page fixture book: cache, failures, parameter rejection.

The fixture root has its own miniature ``contexture`` package (``fixture_book/_library``), which
the chapter kernel imports (it is first on ``PYTHONPATH``) and the cache key analyses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bookbuild.deps import LibraryIndex, chapter_modules
from bookbuild.execute import Layout, discover_chapters, prepare_run
from bookbuild.params import load_profile

FIXTURE = Path(__file__).parent / "fixture_book"
ROOT = Path(__file__).resolve().parents[1]


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    # cwd=ROOT: the pipeline itself imports the project's package; the chapter kernel (cwd in
    # the build folder) finds the fixture package first on PYTHONPATH.
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "bookbuild", "--root", str(root), *args],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
    )


@pytest.fixture
def book(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "book", ignore=shutil.ignore_patterns("_library"))
    (tmp_path / "book" / "_ext").mkdir()
    shutil.copy(ROOT / "book" / "_ext" / "api_reference.py", tmp_path / "book" / "_ext")
    shutil.copytree(FIXTURE / "_library" / "contexture", tmp_path / "contexture",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "requirements.lock").write_text("numpy==2.4.6\n")
    return tmp_path


def _touch(path: Path) -> None:
    path.write_text(path.read_text() + "# edited\n")


def _outputs(book: Path) -> list[str]:
    executed = nbformat.read(book / "build" / "smoke" / "executed" / "hello.ipynb", as_version=4)
    return [o.get("text", "") for c in executed.cells if c.cell_type == "code"
            for o in c.outputs]


def test_build_cache_and_invalidation(book: Path):
    first = _run(book, "build", "--profile", "smoke")
    assert first.returncode == 0, first.stderr
    assert "[hello] executing" in first.stdout
    html = book / "build" / "smoke" / "_build" / "html"
    assert (html / "chapters" / "hello.html").exists()
    page = (html / "chapters" / "hello.html").read_text()
    assert "Parameters used" in page and "Traceback" not in page
    assert "hello" in (html / "status.html").read_text()
    # The API page documents the fixture package (not the installed one) from its docstrings:
    # ``shout`` once, in its own module's section, linked from the root package's table.
    api = (html / "api.html").read_text()
    assert 'id="contexture.words.shout"' in api and 'href="#contexture.words.shout"' in api
    assert "in capitals, with an exclamation mark" in api
    assert "This module has no public names yet" in api  # contexture.util

    outputs = _outputs(book)
    assert "6\n" in outputs  # n = 4 from the smoke profile: 0 + 1 + 2 + 3
    assert "HELLO 4!\n" in outputs  # the fixture package's companion, lazy map and helper
    executed = nbformat.read(book / "build" / "smoke" / "executed" / "hello.ipynb", as_version=4)
    tags = [t for c in executed.cells for t in c.metadata.get("tags", [])]
    assert {"parameters", "injected-parameters", "parameters-used", "remove-cell"} <= set(tags)

    again = _run(book, "build", "--profile", "smoke", "--no-html")
    assert again.returncode == 0
    assert "executing" not in again.stdout and "unchanged, not re-executed" in again.stdout

    chapter = book / "book" / "chapters" / "hello.md"
    chapter.write_text(chapter.read_text() + "\n```{code-cell} ipython3\nprint('edited')\n```\n")
    edited = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "[hello] executing" in edited.stdout

    record = json.loads((book / "build" / "smoke" / "runs" / "hello.json").read_text())
    assert record["status"] == "executed" and record["params"]["n"] == 4
    # every execution leaves a provenance receipt beside its results
    receipt = json.loads((book / "build" / "smoke" / "receipts" / "hello.json").read_text())
    assert receipt["chapter"] == "hello" and receipt["parameters"]["n"] == 4
    assert receipt["params_hash"] and receipt["library_hash"] and receipt["lock_hash"]
    assert receipt["library_modules"] and receipt["runtime_s"] > 0


def test_key_covers_exactly_the_library_modules_the_chapter_uses(book: Path):
    first = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "[hello] executing" in first.stdout, first.stderr

    # Modules the chapter does not import: another chapter's companion, an unrelated module,
    # and files outside the package (a test, the build tool's folder) leave the key unchanged.
    lib = book / "contexture"
    _touch(lib / "chapters" / "goodbye.py")
    _touch(lib / "other.py")
    (book / "tests").mkdir()
    (book / "tests" / "test_x.py").write_text("X = 1\n")
    (book / "bookbuild").mkdir()
    (book / "bookbuild" / "stage.py").write_text("X = 1\n")
    unrelated = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "executing" not in unrelated.stdout
    assert "[hello] unchanged, not re-executed" in unrelated.stdout

    # A module reached only through the lazy map and a function-level import does count, and the
    # re-executed chapter shows the edit.
    case = lib / "util" / "case.py"
    case.write_text(case.read_text().replace("text.upper()", "text.upper() + '?'"))
    indirect = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "[hello] executing" in indirect.stdout, indirect.stderr
    assert "HELLO 4?!\n" in _outputs(book)

    # So does every package __init__ on the way (here, the one that holds the lazy map).
    _touch(lib / "__init__.py")
    init = _run(book, "build", "--profile", "smoke", "--no-html")
    assert "[hello] executing" in init.stdout, init.stderr


def test_fixture_chapter_module_closure(book: Path):
    index = LibraryIndex(book / "contexture")
    [chapter] = discover_chapters(book / "book").values()
    assert chapter_modules(chapter.code_cells(), index) == {
        "contexture", "contexture.chapters", "contexture.chapters.hello", "contexture.words",
        "contexture.util", "contexture.util.case",
    }
    # attribute access on a bare ``import contexture`` follows the lazy maps too
    assert chapter_modules(["import contexture\ncontexture.tools.case.upper('a')"], index) == {
        "contexture", "contexture.util", "contexture.util.case"}
    assert chapter_modules(["from contexture import shout"], index) == {
        "contexture", "contexture.words", "contexture.util", "contexture.util.case"}
    # magics are understood; a cell that does not parse makes the whole package a dependency
    assert chapter_modules(["%matplotlib inline\nimport contexture.other"], index) == {
        "contexture", "contexture.other"}
    assert chapter_modules(["import contexture.other\nif"], index) == set(index.files)


def test_real_chapter_key_ignores_other_companions(tmp_path: Path):
    """On the real book: a chapter's key follows its companion and the core, nothing else."""
    lib = tmp_path / "contexture"
    shutil.copytree(ROOT / "contexture", lib, ignore=shutil.ignore_patterns("__pycache__"))
    layout = Layout(book_dir=ROOT / "book", build_dir=tmp_path / "build", library_dir=lib,
                    lock_file=ROOT / "requirements.lock", data_dir=ROOT / "data")
    chapter = discover_chapters(layout.book_dir)["ch07_association_tau"]
    values = load_profile(layout.params_dir / "smoke.yaml").get(chapter.name, {})

    def run():
        return prepare_run(chapter, "smoke", values, {}, layout)

    base = run()
    assert {"contexture", "contexture.chapters", "contexture.chapters.ch07_association_tau",
            "contexture.runtime.results", "contexture.metrics.tau"} <= set(base.modules)
    companions = [m for m in base.modules if m.startswith("contexture.chapters.")]
    assert companions == ["contexture.chapters.ch07_association_tau"]
    _touch(lib / "chapters" / "ch01_contexts.py")
    assert run().key == base.key
    _touch(lib / "runtime" / "results.py")  # ``from contexture import results`` (lazy map)
    edited = run()
    assert edited.key != base.key
    _touch(lib / "base" / "checks.py")  # used indirectly, through the metrics and contexts
    assert run().key != edited.key


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


def test_api_page_fails_on_a_broken_docstring_reference(book: Path):
    words = book / "contexture" / "words.py"
    words.write_text(words.read_text().replace(":func:`contexture.util.case.upper`",
                                               ":func:`contexture.util.case.lower`"))
    proc = _run(book, "build", "--profile", "smoke")
    assert proc.returncode != 0
    assert "reference target not found: contexture.util.case.lower" in proc.stdout + proc.stderr
