"""Build the ``executed-notebooks`` branch that the book's Binder and Colab buttons open.

Jupyter Book 1.x builds the launch links from ``repository`` in ``book/_config.yml``: Binder opens
``<url>/<branch>`` at ``<path_to_book>/<page>.ipynb`` and Colab opens
``github/<org>/<repo>/blob/<branch>/<path_to_book>/<page>.ipynb``. :func:`publish` makes that
branch *locally*, as one new commit holding

- the sources needed to run the notebooks (``contexture/``, ``data_scripts/``, ``pyproject.toml``,
  ``requirements.lock``, ...) exactly as they are at ``HEAD``;
- ``book/``: the staged source tree of one built profile (``build/<profile>/src``), i.e. the
  executed notebooks as ``book/chapters/<name>.ipynb`` next to ``_config.yml``, ``_toc.yml``, ...;
- ``binder/``: ``requirements.txt`` (the pins of ``requirements.lock``), ``runtime.txt`` and
  ``postBuild`` (installs the package, then tries to fetch the datasets).

It uses git plumbing with a temporary index (``hash-object``, ``update-index``, ``write-tree``,
``commit-tree``, ``update-ref``), so the working tree, the index and the current branch are never
touched, and it never pushes: ``git push origin <branch>`` is left to the maintainer.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from bookbuild.execute import discover_chapters, relative_paths
from bookbuild.stage import staged_build_info

__all__ = ["DEFAULT_BRANCH", "SOURCE_PATHS", "PYTORCH_CPU_INDEX", "PublishError", "Published",
           "book_repository", "binder_requirements", "binder_runtime", "binder_postbuild",
           "publish"]

#: Used when ``book/_config.yml`` names no ``repository.branch``.
DEFAULT_BRANCH = "executed-notebooks"
#: Tracked paths copied from ``HEAD`` into the branch (those that do not exist are skipped).
SOURCE_PATHS = ("contexture", "bookbuild", "data_scripts", "pyproject.toml", "requirements.lock",
                "environment.yml", "LICENSE", "CITATION.cff", ".gitignore")
#: PyTorch's index of CPU-only wheels (see :func:`binder_requirements`).
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_SKIP_DIRS = {"_build", "__pycache__", ".ipynb_checkpoints"}
_PROFILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_LOCAL_LABEL_RE = re.compile(r"^([A-Za-z0-9_.\-\[\],]+==[^+;\s]+)\+[A-Za-z0-9.]+(.*)$")


class PublishError(RuntimeError):
    """Publishing was refused before anything was written; the message says why."""


@dataclass(frozen=True)
class Published:
    """The outcome of :func:`publish`."""

    branch: str
    tip: str  #: full sha of the branch tip after publishing
    parent: str | None  #: the previous tip (None: the branch was created as an orphan)
    source_commit: str  #: full sha of the ``HEAD`` the notebooks were built from
    profile: str
    files: int  #: number of files in the published tree
    created: bool  #: False when the branch already held exactly this content


def _git(root: Path, *args: str, stdin: str | bytes | None = None,
         env: Mapping[str, str] | None = None, check: bool = True) -> str:
    """Run ``git -C root args...`` and return its stdout (text), raising PublishError on failure."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(["git", "-C", str(root), *args], input=data, capture_output=True,
                          env=dict(env) if env is not None else None)
    if check and proc.returncode != 0:
        raise PublishError(f"git {' '.join(args[:2])} failed: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace")


def _read_config(root: Path) -> dict:
    path = root / "book" / "_config.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def book_repository(root: Path) -> tuple[str | None, str]:
    """``(url, branch)`` of ``repository`` in ``book/_config.yml``: the single source of both.

    ``branch`` falls back to :data:`DEFAULT_BRANCH` when the configuration names none.
    """
    repo = _read_config(root).get("repository") or {}
    return repo.get("url"), str(repo.get("branch") or DEFAULT_BRANCH)


def binder_requirements(lock_text: str, source: str) -> str:
    """``binder/requirements.txt``: every pin of ``requirements.lock``, installable on Binder.

    ``source`` (e.g. ``"requirements.lock at <sha>"``) is named in the header. The pins are kept
    exactly, with three adjustments, each listed in the file's header when it applies:

    - a local version label (``torch==2.13.0+cpu``) is dropped: ``==2.13.0`` also matches the
      ``+cpu`` build, and the label is not on PyPI;
    - editable/``file:`` lines and local ``--find-links`` are dropped: they name paths of the
      machine that froze the lock (``binder/postBuild`` installs the package itself);
    - when torch is pinned, PyTorch's CPU index is added as an extra index (reason in the header).
    """
    pins: list[str] = []
    notes: list[str] = []
    has_cpu_index = False
    has_torch = False
    for raw in lock_text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e ", "--editable")) or " @ file:" in line or line.startswith(
                "file:"):
            notes.append(f"dropped {line!r} (a local path; postBuild installs the package)")
            continue
        if line.startswith(("--find-links", "-f ")) and "://" not in line.replace("file://", ""):
            notes.append(f"dropped {line!r} (a folder of the machine that froze the lock)")
            continue
        if line.startswith(("--extra-index-url", "--index-url", "-i ")):
            has_cpu_index = has_cpu_index or PYTORCH_CPU_INDEX in line
            pins.append(line)
            continue
        match = _LOCAL_LABEL_RE.match(line)
        if match:
            notes.append(f"{line!r} -> {match.group(1) + match.group(2)!r} (local label dropped)")
            line = match.group(1) + match.group(2)
        if re.match(r"torch\s*==", line, flags=re.IGNORECASE):
            has_torch = True
        pins.append(line)
    header = [
        "# Generated by `python -m bookbuild publish` from " + source + ".",
        "# Binder (repo2docker) reads only binder/ when it exists, so environment.yml at the root",
        "# is ignored there; these are the exact pins of requirements.lock.",
    ]
    if has_torch and not has_cpu_index:
        header += [
            "#",
            "# requirements.lock was frozen on a CPU-only machine: it pins torch without the CUDA",
            "# runtime (nvidia-*, triton) that the default Linux torch wheel on PyPI depends on.",
            "# PyTorch's CPU index below serves the CPU build of the same release; its version",
            "# carries the local label +cpu, which satisfies the torch pin and sorts above the",
            "# PyPI build, so pip takes it: the image stays small (Binder has no GPU) and every",
            "# installed package is one the lock names. All other packages come from PyPI.",
        ]
        pins.insert(0, f"--extra-index-url {PYTORCH_CPU_INDEX}")
    if notes:
        header += ["#", "# Changed from the lock:"] + [f"#   {n}" for n in notes]
    return "\n".join(header + pins) + "\n"


def binder_runtime(pyproject_text: str) -> str | None:
    """``binder/runtime.txt`` (``python-3.11``) from ``requires-python``, or None if unstated."""
    match = re.search(r'requires-python\s*=\s*"[^"]*>=\s*(\d+)\.(\d+)', pyproject_text)
    return f"python-{match.group(1)}.{match.group(2)}\n" if match else None


def binder_postbuild() -> str:
    """``binder/postBuild``: install the package without dependencies, then fetch the data."""
    return (
        "#!/usr/bin/env bash\n"
        "# Generated by `python -m bookbuild publish`. Binder runs this after\n"
        "# installing binder/requirements.txt, which holds every dependency at its locked\n"
        "# version.\n"
        "set -euo pipefail\n"
        'cd "$(dirname "$0")/.."\n'
        "python -m pip install --no-deps -e .\n"
        "# The datasets come from OpenML. If that fails the image is still built; the chapters\n"
        "# that need data then say how to fetch it (python -m data_scripts.prepare).\n"
        "python -m data_scripts.prepare || echo 'postBuild: dataset preparation failed' >&2\n"
    )


def _check_branch(root: Path, branch: str) -> None:
    ref = f"refs/heads/{branch}"
    if (not branch or branch.startswith("-") or branch == "HEAD" or subprocess.run(
            ["git", "-C", str(root), "check-ref-format", ref], capture_output=True).returncode):
        raise PublishError(f"invalid branch name {branch!r} (see `git check-ref-format`)")
    worktrees = _git(root, "worktree", "list", "--porcelain")
    if f"branch {ref}" in worktrees.splitlines():
        raise PublishError(f"branch {branch!r} is checked out in a work tree; publishing moves "
                           "its tip, so switch that work tree to another branch first")


def _check_clean(root: Path) -> None:
    # --no-optional-locks: do not even refresh the index's stat cache.
    changes = _git(root, "--no-optional-locks", "status", "--porcelain",
                   "--untracked-files=no").splitlines()
    if changes:
        shown = ", ".join(line[3:] for line in changes[:5]) + (", ..." if len(changes) > 5 else "")
        raise PublishError(f"the working tree has uncommitted changes to tracked files ({shown}); "
                           "commit or stash them and rebuild, so that the published notebooks "
                           "match the commit named on the branch")


def _check_build(root: Path, src: Path, profile: str, head: str) -> list[str]:
    """Refuse unless ``src`` is a complete staged build of ``profile`` at ``head``."""
    rebuild = "make book" if profile == "default" else (
        f"python -m bookbuild build --profile {profile}")
    notebooks = sorted((src / "chapters").glob("*.ipynb")) if src.is_dir() else []
    if not notebooks:
        raise PublishError(f"profile {profile!r} has not been built: no executed notebooks in "
                           f"build/{profile}/src/chapters; run `{rebuild}` first")
    present = {nb.stem for nb in notebooks}
    missing = sorted(set(discover_chapters(root / "book")) - present)
    if missing:
        raise PublishError(f"the build of profile {profile!r} lacks the executed notebook(s) of "
                           f"{missing} (a partial build?); run `{rebuild}` first")
    info = staged_build_info(src)
    if info is None:
        raise PublishError(f"build/{profile}/src/_config.yml does not say which commit it was "
                           f"built from; run `{rebuild}` again")
    commit, staged_profile = info
    if staged_profile != profile:
        raise PublishError(f"build/{profile}/src was staged for profile {staged_profile!r}")
    if commit.endswith("+dirty") or len(commit) < 7 or not head.startswith(commit):
        raise PublishError(f"the build of profile {profile!r} was made at commit {commit}, but "
                           f"HEAD is {head[:12]}; run `{rebuild}` again")
    return sorted(present)


def _scrub_notebook(data: bytes, root: Path) -> bytes:
    """Notebook bytes with papermill's absolute paths made project-relative (older builds)."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    return nbformat.writes(nb).encode("utf-8") if relative_paths(nb, root) else data


def _staged_files(src: Path, root: Path) -> list[tuple[str, str, bytes]]:
    """``(mode, path in the branch, content)`` for every file of the staged tree, under book/."""
    out = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if not path.is_file() or path.is_symlink() or _SKIP_DIRS & set(rel.parts):
            continue
        data = path.read_bytes()
        if path.suffix == ".ipynb":
            data = _scrub_notebook(data, root)
        mode = "100755" if os.access(path, os.X_OK) else "100644"
        out.append((mode, f"book/{rel.as_posix()}", data))
    return out


def _binder_files(root: Path, head: str) -> list[tuple[str, str, bytes]]:
    lock = _git(root, "show", f"{head}:requirements.lock", check=False)
    pyproject = _git(root, "show", f"{head}:pyproject.toml", check=False)
    files = [("100644", "binder/requirements.txt",
              binder_requirements(lock, f"requirements.lock at {head}").encode()),
             ("100755", "binder/postBuild", binder_postbuild().encode())]
    runtime = binder_runtime(pyproject)
    if runtime:
        files.append(("100644", "binder/runtime.txt", runtime.encode()))
    return files


def _message(head: str, subject: str, profile: str, chapters: list[str], branch: str) -> str:
    return (
        f"Executed notebooks, profile {profile}, of {head[:12]}\n\n"
        f"Source commit: {head}\n"
        f"Source subject: {subject}\n"
        f"Profile: {profile}\n"
        f"Chapters: {', '.join(chapters)}\n\n"
        "Made locally by `python -m bookbuild publish` (nothing was pushed):\n"
        "the sources at the source commit, the staged executed book under book/ and the\n"
        f"Binder configuration under binder/. Publish with: git push origin {branch}\n"
    )


def _branch_readme(root: Path, head: str, profile: str) -> bytes:
    """The main README, after a note saying what this branch is and what it lacks."""
    main = _git(root, "show", f"{head}:README.md", check=False)
    note = (
        "> **This branch is generated.** It holds the executed notebooks of commit "
        f"`{head[:12]}` (profile `{profile}`) under `book/`, the `contexture` package they "
        "import, and a Binder configuration under `binder/`: it is what the book's Binder and "
        "Colab buttons open. The chapter sources, parameter profiles, tests and the Makefile "
        "live on the main branch, where `make publish` builds this one; the commands below "
        "apply there.\n\n"
    )
    return (note + main).encode("utf-8")


def publish(root: Path, profile: str = "default", branch: str | None = None, *,
            log: Callable[[str], object] = print) -> Published:
    """Commit the executed book of ``profile`` on the local ``branch`` (never pushed).

    ``branch`` defaults to ``repository.branch`` of ``book/_config.yml``. The branch is created as
    an orphan when missing, otherwise the new commit goes on top of its tip; when the tip already
    holds the same tree and message, nothing is committed. Raises PublishError, before writing
    anything, when the branch name is invalid or checked out, the working tree has uncommitted
    changes to tracked files, or ``build/<profile>/src`` is not a complete build made at ``HEAD``.
    """
    root = Path(root).resolve()
    top = _git(root, "rev-parse", "--show-toplevel", check=False).strip()
    if not top or Path(top).resolve() != root:
        raise PublishError("the project root must be the top folder of a git repository")
    if not _PROFILE_RE.fullmatch(profile):
        raise PublishError(f"invalid profile name {profile!r}")
    branch = branch if branch is not None else book_repository(root)[1]
    _check_branch(root, branch)
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    if not head:
        raise PublishError("the repository has no commit yet")
    _check_clean(root)
    src = root / "build" / profile / "src"
    chapters = _check_build(root, src, profile, head)
    ref = f"refs/heads/{branch}"
    parent = _git(root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False).strip()

    files = (_staged_files(src, root) + _binder_files(root, head)
             + [("100644", "README.md", _branch_readme(root, head, profile))])
    sources = _git(root, "ls-tree", "-r", "-z", "--full-tree", head, "--", *SOURCE_PATHS)
    subject = _git(root, "log", "-1", "--format=%s", head).strip()
    message = _message(head, subject, profile, chapters, branch)
    with tempfile.TemporaryDirectory(prefix="contexture-publish-") as tmp:
        blobs = []
        for i, (_, _, data) in enumerate(files):
            blob = Path(tmp) / f"blob{i}"
            blob.write_bytes(data)
            blobs.append(str(blob))
        shas = _git(root, "hash-object", "-w", "--no-filters", "--stdin-paths",
                    stdin="\n".join(blobs) + "\n").split()
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(root, "read-tree", "--empty", env=env)
        entries = sources + "".join(f"{mode} {sha}\t{path}\0"
                                    for (mode, path, _), sha in zip(files, shas, strict=True))
        _git(root, "update-index", "-z", "--index-info", stdin=entries, env=env)
        tree = _git(root, "write-tree", env=env).strip()
        count = len(_git(root, "ls-files", "-z", env=env).split("\0")) - 1
    if parent:
        old_tree = _git(root, "rev-parse", f"{parent}^{{tree}}").strip()
        old_message = _git(root, "log", "-1", "--format=%B", parent)
        if old_tree == tree and old_message.strip() == message.strip():
            log(f"{branch}: already holds the executed notebooks of {head[:12]} "
                f"(profile {profile}); nothing committed")
            return Published(branch, parent, parent, head, profile, count, created=False)
    tip = _git(root, "commit-tree", tree, *(["-p", parent] if parent else []), "-F", "-",
               stdin=message).strip()
    _git(root, "update-ref", "-m", f"publish: profile {profile} of {head[:12]}", ref, tip,
         parent or "")
    how = f"on top of {parent[:12]}" if parent else "as a new orphan branch"
    log(f"{branch}: commit {tip[:12]} {how}: {count} files, executed notebooks of profile "
        f"{profile} at {head[:12]}")
    return Published(branch, tip, parent or None, head, profile, count, created=True)
