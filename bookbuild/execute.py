"""Execute one chapter with papermill, with parameter validation and caching."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from bookbuild.cache import chapter_key, tree_hash
from bookbuild.deps import LibraryIndex, chapter_modules
from bookbuild.params import ParameterError, ParamSpec, parse_parameters_cell, resolve_parameters
from bookbuild.receipts import receipt, write_receipt
from contexture.runtime.provenance import git_commit

__all__ = ["Chapter", "Layout", "RunRecord", "ChapterFailed", "discover_chapters",
           "prepare_run", "execute_chapter", "relative_paths", "scoped_environ"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ChapterFailed(RuntimeError):
    """A chapter cell raised; the message names the chapter, the cell and its traceback."""


@dataclass(frozen=True)
class Layout:
    """Where a book's sources live and where one profile's build goes."""

    book_dir: Path
    build_dir: Path
    library_dir: Path
    lock_file: Path
    data_dir: Path

    @property
    def params_dir(self) -> Path:
        return self.book_dir / "params"

    def sub(self, name: str) -> Path:
        path = self.build_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Chapter:
    """A MyST-markdown notebook under ``book/chapters`` with a ``parameters`` cell."""

    name: str
    path: Path

    def notebook(self) -> nbformat.NotebookNode:
        return jupytext.read(self.path)

    def specs(self) -> dict[str, ParamSpec]:
        cells = [c for c in self.notebook().cells
                 if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
        if len(cells) != 1:
            raise ParameterError(f"chapter {self.name!r}: expected exactly one code cell tagged "
                                 f"'parameters', found {len(cells)}")
        return parse_parameters_cell(cells[0].source, chapter=self.name)

    def code_cells(self) -> list[str]:
        """The sources of the chapter's code cells."""
        return [c.source for c in self.notebook().cells if c.cell_type == "code"]


@dataclass
class RunRecord:
    """What happened to one chapter in one build (shown on the status page)."""

    chapter: str
    profile: str
    status: str  # "executed", "cached" or "failed"
    runtime_s: float
    key: str
    notebook: str
    params: dict[str, Any] = field(default_factory=dict)
    executed_at: str = ""
    commit: str = ""
    error: str = ""


def discover_chapters(book_dir: Path) -> dict[str, Chapter]:
    """All executable chapters (MyST notebooks with a jupytext header), by name."""
    out: dict[str, Chapter] = {}
    for path in sorted((book_dir / "chapters").glob("*.md")):
        head = path.read_text(encoding="utf-8")[:2000]
        if head.startswith("---") and "jupytext:" in head.split("\n---", 1)[0]:
            out[path.stem] = Chapter(path.stem, path)
    return out


@dataclass(frozen=True)
class PreparedRun:
    chapter: Chapter
    params: dict[str, Any]
    key: str
    modules: tuple[str, ...] = ()  # the library modules the chapter uses (in its key)
    hashes: dict[str, str] = field(default_factory=dict)  # library, lock and data hashes


def prepare_run(chapter: Chapter, profile: str, profile_values: dict[str, Any],
                overrides: dict[str, Any], layout: Layout) -> PreparedRun:
    """Validate the parameters of one chapter and compute its cache key (no execution).

    The key covers only the library modules the chapter imports, transitively
    (:mod:`bookbuild.deps`): editing the build tool, the tests or another chapter's companion
    leaves it unchanged.
    """
    params = resolve_parameters(chapter.specs(), profile, profile_values, overrides,
                                chapter=chapter.name)
    index = LibraryIndex(layout.library_dir)
    modules = chapter_modules(chapter.code_cells(), index)
    hashes = {"library_hash": index.content_hash(modules),
              "lock_hash": tree_hash(layout.lock_file.parent, layout.lock_file.name),
              "data_hash": tree_hash(layout.data_dir, "meta.json")}
    key = chapter_key(chapter.path.read_bytes(), params, **hashes)
    return PreparedRun(chapter, params, key, tuple(sorted(modules)), hashes)


@contextlib.contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a ``with`` block."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _parameters_box(params: dict[str, Any], profile: str, chapter: str) -> str:
    rows = "\n".join(f"| `{k}` | `{json.dumps(v)}` |" for k, v in params.items())
    return (
        f":::{{admonition}} Parameters used (profile {profile}, commit {git_commit()})\n"
        ":class: dropdown\n\n"
        "| parameter | value |\n|---|---|\n"
        f"{rows}\n\n"
        f"Re-run this chapter: `make chapter CH={chapter} PROFILE={profile} "
        'PARAMS="-p name value"`.\n:::'
    )


def relative_paths(nb: nbformat.NotebookNode, root: Path) -> bool:
    """Make papermill's ``input_path``/``output_path`` metadata relative to ``root`` (in place).

    Paths outside ``root`` keep only their file name, so no machine's directory layout reaches a
    published notebook. Returns whether anything changed.
    """
    pm = nb.metadata.get("papermill", {})
    changed = False
    for key in ("input_path", "output_path"):
        value = pm.get(key)
        if isinstance(value, str) and os.path.isabs(value):
            path = Path(value)
            pm[key] = (path.relative_to(root).as_posix() if path.is_relative_to(root)
                       else path.name)
            changed = True
    return changed


def _decorate(nb: nbformat.NotebookNode, params: dict[str, Any], profile: str,
              chapter: str) -> None:
    """Hide the parameter code cells and put a collapsed "Parameters used" box in their place."""
    where = None
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            where = i
    box = nbformat.v4.new_markdown_cell(_parameters_box(params, profile, chapter))
    box.metadata["tags"] = ["parameters-used"]
    nb.cells.insert((where if where is not None else 0) + 1, box)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def execute_chapter(run: PreparedRun, layout: Layout, *, force: bool = False,
                    log: Any = print) -> RunRecord:
    """Execute one prepared chapter with papermill unless its cache key is unchanged."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name, profile = run.chapter.name, run.params["profile"]
    executed = layout.sub("executed") / f"{name}.ipynb"
    key_file = layout.sub("cache") / f"{name}.key"
    record_file = layout.sub("runs") / f"{name}.json"
    if (not force and executed.exists() and key_file.exists()
            and key_file.read_text().strip() == run.key and record_file.exists()):
        record = RunRecord(**json.loads(record_file.read_text()))
        record.status = "cached"
        log(f"[{name}] unchanged, not re-executed (ran in {record.runtime_s:.1f} s)")
        return record

    source_nb = run.chapter.notebook()
    source_nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                 "language": "python"})
    input_nb = layout.sub("input") / f"{name}.ipynb"
    nbformat.write(source_nb, input_nb)
    output_nb = layout.sub("failed") / f"{name}.ipynb"
    workdir = layout.sub("work") / name
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "CONTEXTURE_CHAPTER": name,
        "CONTEXTURE_PROFILE": profile,
        "CONTEXTURE_PARAMS": json.dumps(run.params),
        "CONTEXTURE_RESULTS_DIR": str(layout.sub("results").resolve()),
        "CONTEXTURE_FIGURES_DIR": str((layout.sub("figures") / name).resolve()),
        "CONTEXTURE_COMMIT": git_commit(),
        "CONTEXTURE_DATA_DIR": str(layout.data_dir.resolve()),
        "PYTHONHASHSEED": "0",
        # Chapters do many small dense solves: one BLAS thread is faster and reproducible.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    log(f"[{name}] executing with profile {profile!r} ...")
    start = time.perf_counter()
    error = ""
    with scoped_environ(env):
        try:
            papermill.execute_notebook(
                str(input_nb), str(output_nb), parameters=run.params, kernel_name="python3",
                cwd=str(workdir), progress_bar=False, log_output=False,
            )
        except PapermillExecutionError as exc:
            tb = _ANSI.sub("", "\n".join(exc.traceback))
            error = (f"chapter {name!r} failed in cell {exc.cell_index} "
                     f"(execution count {exc.exec_count}):\n{exc.source}\n\n{tb}")
    runtime = time.perf_counter() - start
    record = RunRecord(
        chapter=name, profile=profile, status="failed" if error else "executed",
        runtime_s=round(runtime, 2), key=run.key, notebook=str(executed), params=run.params,
        executed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit=git_commit(),
        error=error,
    )
    if error:
        key_file.unlink(missing_ok=True)
        log(f"[{name}] FAILED after {runtime:.1f} s; partial notebook: {output_nb}")
        raise ChapterFailed(error)
    nb = nbformat.read(output_nb, as_version=4)
    _decorate(nb, run.params, profile, name)
    relative_paths(nb, layout.book_dir.resolve().parent)
    _atomic_write(executed, nbformat.writes(nb))
    output_nb.unlink(missing_ok=True)
    _atomic_write(record_file, json.dumps(asdict(record), indent=2, default=str))
    write_receipt(layout.sub("receipts") / f"{name}.json", receipt(
        chapter=name, params=run.params, commit=record.commit, runtime_s=record.runtime_s,
        executed_at=record.executed_at, library_modules=list(run.modules),
        library_hash=run.hashes.get("library_hash", ""), lock_hash=run.hashes.get(
            "lock_hash", ""), data_hash=run.hashes.get("data_hash", ""),
        results_file=layout.sub("results") / f"{name}.json",
        figures_dir=layout.build_dir / "figures" / name, notebook=nb))
    _atomic_write(key_file, run.key)
    log(f"[{name}] executed in {runtime:.1f} s")
    return record
