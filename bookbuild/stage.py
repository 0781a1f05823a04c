"""Assemble executed notebooks into a Jupyter Book source tree and build the HTML."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

from bookbuild.execute import Layout, RunRecord, discover_chapters
from bookbuild.pages import fill_pages
from contexture.runtime.provenance import environment_summary, git_commit

__all__ = ["STATUS_MARKER", "stage_book", "build_html", "status_markdown", "staged_build_info"]

STATUS_MARKER = "<!-- status-table -->"
_SITE_PACKAGES = ("sphinx", "sphinx-book-theme", "pydata-sphinx-theme")
# The footer of every page; ``staged_build_info`` reads it back (the publish step checks it).
_BUILD_INFO = ('<p class="build-info">Built from commit <code>{commit}</code> '
               "with profile <code>{profile}</code>.</p>")
_BUILD_INFO_RE = re.compile(
    r"Built from commit <code>([^<]*)</code> with profile <code>([^<]*)</code>")


def _cell(value: object) -> str:
    """A value as inline code in a Markdown table cell (``|`` escaped, backticks fenced)."""
    text = json.dumps(value, ensure_ascii=False).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def status_markdown(records: list[RunRecord], profile: str) -> str:
    """The status page's tables: one row per chapter (title, profile, cache status, runtime),
    the parameters each chapter ran with, then the environment."""
    lines = [
        f"Built with profile **`{profile}`** at commit **`{git_commit()}`**.",
        "",
        "| chapter | status | runtime (s) | executed at (UTC) | commit |",
        "|---|---|---:|---|---|",
    ]
    ordered = sorted(records, key=lambda r: r.chapter)
    for r in ordered:
        status = "executed" if r.status == "executed" else "cached (unchanged)"
        if r.profile != profile:
            status += f", profile `{r.profile}`"
        lines.append(f"| {{doc}}`chapters/{r.chapter}` (`{r.chapter}`) | {status} | "
                     f"{r.runtime_s:.1f} | {r.executed_at.replace('T', ' ')} | `{r.commit}` |")
    total = sum(r.runtime_s for r in records)
    lines += ["", f"Total execution time of the chapters: **{total:.1f} s**.", "",
              "## Parameters of each chapter", "",
              "The values each chapter ran with in this build (the profile's values, and any "
              "override given on the command line). Re-run one chapter with other values: "
              "`make chapter CH=<file> PROFILE=<profile> PARAMS=\"-p name value\"`; "
              "`python -m bookbuild list` prints every parameter with its allowed range.", ""]
    for r in ordered:
        params = {k: v for k, v in r.params.items() if k != "profile"}
        lines += [f":::{{dropdown}} {{doc}}`chapters/{r.chapter}` (`{r.chapter}`, "
                  f"{len(params)} parameter{'' if len(params) == 1 else 's'})", ""]
        if params:
            lines += ["| parameter | value |", "|---|---|"]
            lines += [f"| `{k}` | {_cell(v)} |" for k, v in params.items()]
        else:
            lines.append("This chapter has no parameters besides the profile.")
        lines += [":::", ""]
    env = environment_summary()
    lines += ["## Software", "", "| software | version |", "|---|---|",
              f"| Python | {env['python']} |", f"| platform | {env['platform']} |"]
    packages = dict(env["packages"])  # type: ignore[call-overload]
    for name in _SITE_PACKAGES:  # what renders the site (not in the chapters' provenance)
        if name not in packages:
            try:
                packages[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    lines += [f"| {k} | {v} |" for k, v in packages.items()]
    return "\n".join(lines) + "\n"


def _filter_toc(toc_path: Path, src: Path) -> None:
    """Drop table-of-contents entries whose page is absent (e.g. a build of a few chapters)."""
    toc = yaml.safe_load(toc_path.read_text())

    def present(entry: dict) -> bool:
        return "file" not in entry or any(
            (src / f"{entry['file']}{ext}").exists() for ext in (".md", ".ipynb"))

    def prune(entries: list[dict]) -> list[dict]:
        kept = []
        for entry in entries:
            if not present(entry):
                continue
            for key in ("sections", "chapters"):
                if key in entry:
                    entry[key] = prune(entry[key])
            kept.append(entry)
        return kept

    for key in ("chapters", "sections"):
        if key in toc:
            toc[key] = prune(toc[key])
    if "parts" in toc:
        parts = []
        for part in toc["parts"]:
            part["chapters"] = prune(part.get("chapters", []))
            if part["chapters"]:
                parts.append(part)
        toc["parts"] = parts
    toc_path.write_text(yaml.safe_dump(toc, sort_keys=False))


def stage_book(layout: Layout, records: list[RunRecord], profile: str,
               src: Path | None = None, *, partial: bool = False) -> Path:
    """Copy the book sources into ``src`` (default ``<build>/src``), chapters executed."""
    src = src or layout.build_dir / "src"
    if src.exists():
        shutil.rmtree(src)
    executed = {r.chapter: Path(r.notebook) for r in records}

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {"_build", "params", "__pycache__", ".ipynb_checkpoints"}
        if Path(directory).resolve() == (layout.book_dir / "chapters").resolve():
            # every executable chapter source is replaced by its executed notebook, or left out
            skip |= {f"{stem}.md" for stem in discover_chapters(layout.book_dir)}
        return skip & set(names)

    shutil.copytree(layout.book_dir, src, ignore=ignore)
    for name, nb in executed.items():
        shutil.copyfile(nb, src / "chapters" / f"{name}.ipynb")

    _filter_toc(src / "_toc.yml", src)

    config_path = src / "_config.yml"
    config = yaml.safe_load(config_path.read_text())
    html = config.setdefault("html", {})
    html["extra_footer"] = _BUILD_INFO.format(commit=git_commit(), profile=profile)
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    if partial:  # a build of a few chapters: links to the pages left out cannot resolve
        sphinx_config.setdefault("suppress_warnings", []).append("myst.xref_missing")
    if "api_reference" in (config["sphinx"].get("local_extensions") or {}):
        # the API pages document the library beside the book sources, not an installed copy
        sphinx_config["api_source_root"] = os.path.relpath(layout.library_dir.parent, src)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))

    status = src / "status.md"
    if status.exists():
        text = status.read_text()
        status.write_text(text.replace(STATUS_MARKER, status_markdown(records, profile)))
    fill_pages(src, layout.book_dir, layout.book_dir.parent, layout.build_dir / "results",
               layout.build_dir / "receipts", profile, [r.chapter for r in records])
    return src


def staged_build_info(src: Path) -> tuple[str, str] | None:
    """``(commit, profile)`` that the staged tree ``src`` was built from, or None if unknown.

    Read back from the page footer that :func:`stage_book` writes into ``src/_config.yml``; the
    commit is ``git_commit()`` at staging time (short, ``+dirty`` for a modified work tree).
    """
    config_path = src / "_config.yml"
    if not config_path.is_file():
        return None
    config = yaml.safe_load(config_path.read_text()) or {}
    footer = str((config.get("html") or {}).get("extra_footer", ""))
    match = _BUILD_INFO_RE.search(footer)
    return (match.group(1), match.group(2)) if match else None


def build_html(src: Path, path_output: Path, *, log=print) -> Path:
    """Run ``jupyter-book build -W -n --keep-going`` (execution off); return the HTML dir."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(src),
           "--path-output", str(path_output), "-W", "-n", "--keep-going", "--all"]
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-20000:] + proc.stderr[-20000:])
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}); "
                           "warnings are errors in this book, see the output above")
    html = path_output / "_build" / "html"
    log(f"HTML: {html / 'index.html'}")
    return html
