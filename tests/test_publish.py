"""The publish step on a throwaway git repository with a fake staged build (no real book)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from bookbuild.publish import (
    PYTORCH_CPU_INDEX,
    PublishError,
    binder_requirements,
    binder_runtime,
    publish,
)

FIXTURE = Path(__file__).parent / "fixture_book"
BRANCH = "executed-notebooks"
LOCK = "# frozen\nnumpy==2.4.6\ntorch==2.13.0\n"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def stage(repo: Path, profile: str = "default", *, commit: str | None = None,
          chapters: tuple[str, ...] = ("hello",), output: str = "6\n") -> Path:
    """A fake ``build/<profile>/src`` as ``stage_book`` leaves it, made at ``commit``."""
    src = repo / "build" / profile / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "chapters").mkdir(parents=True)
    commit = commit or git(repo, "rev-parse", "--short=12", "HEAD").strip()
    config = yaml.safe_load((repo / "book" / "_config.yml").read_text())
    config.setdefault("html", {})["extra_footer"] = (
        f'<p class="build-info">Built from commit <code>{commit}</code> '
        f"with profile <code>{profile}</code>.</p>")
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (src / "_toc.yml").write_text((repo / "book" / "_toc.yml").read_text())
    (src / "intro.md").write_text("# Intro\n")
    (src / "status.md").write_text(f"Built at {commit}\n")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    for name in chapters:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("print(sum(range(4)))")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
        nb.cells.append(cell)
        nb.metadata["papermill"] = {"input_path": str(repo / "build" / profile / "input" / name),
                                    "output_path": "/elsewhere/failed.ipynb"}
        nbformat.write(nb, src / "chapters" / f"{name}.ipynb")
    return src


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small project: the fixture book, a package, the lock files, tests; one commit on main."""
    repo = tmp_path / "project"
    shutil.copytree(FIXTURE, repo / "book", ignore=shutil.ignore_patterns("params", "_library"))
    (repo / "book" / "params").mkdir()
    (repo / "book" / "params" / "default.yaml").write_text("hello: {}\n")
    config = yaml.safe_load((repo / "book" / "_config.yml").read_text())
    config["repository"] = {"url": "https://example.invalid/placeholder", "path_to_book": "book",
                            "branch": BRANCH}
    (repo / "book" / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (repo / "contexture").mkdir()
    (repo / "contexture" / "__init__.py").write_text("X = 1\n")
    (repo / "data_scripts").mkdir()
    (repo / "data_scripts" / "prepare.py").write_text("print('prepare')\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "contexture"\n'
                                         'requires-python = ">=3.11,<3.12"\n')
    (repo / "requirements.lock").write_text(LOCK)
    (repo / "environment.yml").write_text("name: x\n")
    (repo / "README.md").write_text("# readme\n")
    (repo / "CITATION.cff").write_text("cff-version: 1.2.0\n")
    (repo / ".gitignore").write_text("/build/\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    for key, value in (("user.name", "Test"), ("user.email", "test@example.invalid"),
                       ("commit.gpgsign", "false")):
        git(repo, "config", key, value)
    commit_all(repo, "initial")
    return repo


def snapshot(repo: Path) -> dict:
    """HEAD, the index (file bytes and entries) and every working-tree file's content."""
    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted(repo.rglob("*"))
             if p.is_file() and ".git" not in p.relative_to(repo).parts}
    return {"head": git(repo, "rev-parse", "HEAD"), "ref": git(repo, "symbolic-ref", "HEAD"),
            "index": (repo / ".git" / "index").read_bytes(), "entries": git(repo, "ls-files", "-s"),
            "files": files}


def branch_files(repo: Path, ref: str = BRANCH) -> dict[str, str]:
    """path -> mode of every file on ``ref``."""
    out = {}
    for line in git(repo, "ls-tree", "-r", ref).splitlines():
        meta, path = line.split("\t", 1)
        out[path] = meta.split()[0]
    return out


def show(repo: Path, spec: str) -> str:
    return git(repo, "show", spec)


def test_publish_creates_orphan_branch_with_the_launch_layout(repo: Path):
    stage(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    before = snapshot(repo)
    result = publish(repo, log=lambda _: None)
    assert snapshot(repo) == before  # HEAD, current branch, index and working tree untouched

    assert result.created and result.parent is None and result.branch == BRANCH
    assert result.source_commit == head
    assert git(repo, "rev-parse", BRANCH).strip() == result.tip
    assert git(repo, "rev-list", "--count", BRANCH).strip() == "1"  # an orphan: no parent
    files = branch_files(repo)
    assert set(files) == {
        ".gitignore", "CITATION.cff", "README.md", "environment.yml", "pyproject.toml",
        "requirements.lock", "contexture/__init__.py", "data_scripts/prepare.py",
        "book/_config.yml", "book/_toc.yml", "book/intro.md", "book/status.md",
        "book/chapters/hello.ipynb",
        "binder/requirements.txt", "binder/runtime.txt", "binder/postBuild",
    }
    assert result.files == len(files)
    assert files["binder/postBuild"] == "100755" and files["book/_toc.yml"] == "100644"

    nb = nbformat.reads(show(repo, f"{BRANCH}:book/chapters/hello.ipynb"), as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "6\n"
    assert nb.metadata.papermill["input_path"] == "build/default/input/hello"
    assert nb.metadata.papermill["output_path"] == "failed.ipynb"  # outside the project
    config = yaml.safe_load(show(repo, f"{BRANCH}:book/_config.yml"))
    assert config["repository"]["branch"] == BRANCH
    assert show(repo, f"{BRANCH}:contexture/__init__.py") == "X = 1\n"
    readme = show(repo, f"{BRANCH}:README.md")
    assert readme.startswith("> **This branch is generated.**") and f"`{head[:12]}`" in readme
    assert readme.endswith("# readme\n")  # the main README follows the note

    requirements = show(repo, f"{BRANCH}:binder/requirements.txt").splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert pins == [f"--extra-index-url {PYTORCH_CPU_INDEX}", "numpy==2.4.6", "torch==2.13.0"]
    assert show(repo, f"{BRANCH}:binder/runtime.txt") == "python-3.11\n"
    postbuild = show(repo, f"{BRANCH}:binder/postBuild")
    assert postbuild.startswith("#!/usr/bin/env bash\n")
    assert "pip install --no-deps -e ." in postbuild

    message = git(repo, "log", "-1", "--format=%B", BRANCH)
    assert f"Source commit: {head}" in message and "Profile: default" in message
    assert f"git push origin {BRANCH}" in message


def test_second_publish_adds_a_commit_on_top(repo: Path):
    stage(repo)
    first = publish(repo, log=lambda _: None)
    again = publish(repo, log=lambda _: None)  # same build, same commit: nothing new
    assert not again.created and again.tip == first.tip

    (repo / "contexture" / "__init__.py").write_text("X = 2\n")
    head = commit_all(repo, "library change")
    stage(repo, output="7\n")
    before = snapshot(repo)
    second = publish(repo, log=lambda _: None)
    assert snapshot(repo) == before
    assert second.created and second.parent == first.tip
    assert git(repo, "rev-parse", f"{BRANCH}^").strip() == first.tip
    assert git(repo, "rev-list", "--count", BRANCH).strip() == "2"
    assert show(repo, f"{BRANCH}:contexture/__init__.py") == "X = 2\n"
    nb = nbformat.reads(show(repo, f"{BRANCH}:book/chapters/hello.ipynb"), as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "7\n"
    assert f"Source commit: {head}" in git(repo, "log", "-1", "--format=%B", BRANCH)


def test_other_branch_and_profile(repo: Path):
    stage(repo, "smoke")
    result = publish(repo, "smoke", "preview/smoke", log=lambda _: None)
    assert result.created
    assert "Profile: smoke" in git(repo, "log", "-1", "--format=%B", "preview/smoke")
    assert git(repo, "branch", "--list", BRANCH).strip() == ""


def _refused(repo: Path, match: str, **kwargs) -> None:
    before = snapshot(repo)
    refs = git(repo, "for-each-ref")
    with pytest.raises(PublishError, match=match):
        publish(repo, log=lambda _: None, **kwargs)
    assert git(repo, "for-each-ref") == refs  # no branch created or moved
    assert snapshot(repo) == before


def test_refuses_an_unbuilt_profile(repo: Path):
    _refused(repo, r"profile 'default' has not been built.*make book")
    stage(repo, "default")
    _refused(repo, r"profile 'paper' has not been built", profile="paper")


def test_refuses_a_partial_build(repo: Path):
    (repo / "book" / "chapters" / "second.md").write_text(
        (repo / "book" / "chapters" / "hello.md").read_text())
    commit_all(repo, "second chapter")
    stage(repo, chapters=("hello",))
    _refused(repo, r"lacks the executed notebook\(s\) of \['second'\]")


def test_refuses_a_build_of_another_commit(repo: Path):
    stage(repo)
    (repo / "README.md").write_text("# readme, edited\n")
    commit_all(repo, "edit")
    _refused(repo, r"was made at commit [0-9a-f]{12}, but HEAD is")
    stage(repo, commit=git(repo, "rev-parse", "--short=12", "HEAD").strip() + "+dirty")
    _refused(repo, r"\+dirty")


def test_refuses_uncommitted_changes(repo: Path):
    stage(repo)
    (repo / "contexture" / "__init__.py").write_text("X = 3\n")
    _refused(repo, r"uncommitted changes to tracked files \(contexture/__init__.py\)")
    git(repo, "add", "contexture/__init__.py")  # staged but not committed: refused as well
    _refused(repo, r"uncommitted changes")
    git(repo, "reset", "-q", "--hard")
    (repo / "untracked.txt").write_text("scratch\n")  # untracked files do not matter
    assert publish(repo, log=lambda _: None).created


@pytest.mark.parametrize("name", ["bad..name", "-x", "with space", "end.lock", "HEAD", "a~1", ""])
def test_refuses_invalid_branch_names(repo: Path, name: str):
    stage(repo)
    _refused(repo, "invalid branch name", branch=name)


def test_refuses_the_checked_out_branch(repo: Path):
    stage(repo)
    _refused(repo, "checked out", branch="main")


def test_binder_requirements_keeps_exact_pins():
    text = binder_requirements("# header\n-e .\ntorch==2.13.0+cpu\nscipy==1.17.1  # direct\n"
                               "--find-links /some/wheels\n", "a lock")
    pins = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert pins == [f"--extra-index-url {PYTORCH_CPU_INDEX}", "torch==2.13.0", "scipy==1.17.1"]
    assert "local label dropped" in text and "dropped '-e .'" in text
    already = binder_requirements(f"--extra-index-url {PYTORCH_CPU_INDEX}\ntorch==2.13.0\n", "x")
    assert already.count(PYTORCH_CPU_INDEX) == 1
    assert PYTORCH_CPU_INDEX not in binder_requirements("numpy==2.4.6\n", "x")
    assert binder_runtime('requires-python = ">=3.11,<3.12"') == "python-3.11\n"
    assert binder_runtime("[project]\n") is None


def test_the_real_lock_gives_torch_exactly(root: Path):
    text = binder_requirements((root / "requirements.lock").read_text(), "requirements.lock")
    assert "torch==2.13.0" in text.splitlines()
    assert binder_runtime((root / "pyproject.toml").read_text()) == "python-3.11\n"


def test_command_line(repo: Path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bookbuild", "--root", str(repo),
                               "publish", *args], capture_output=True, text=True)

    refused = run()
    assert refused.returncode == 1
    assert "error: profile 'default' has not been built" in refused.stderr
    stage(repo)
    done = run()
    assert done.returncode == 0, done.stderr
    assert f"{BRANCH}: commit" in done.stdout and "orphan" in done.stdout
    assert f"git push origin {BRANCH}" in done.stdout
    assert "https://example.invalid/placeholder" in done.stdout
    other = run("--branch", "tmp-branch")
    assert other.returncode == 0 and "not 'tmp-branch'" in other.stdout
