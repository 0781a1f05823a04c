"""The library's layering (``[tool.importlinter]`` in pyproject.toml) holds and covers it all."""

from __future__ import annotations

import subprocess
import sys
import tomllib


def _config(root):
    return tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_import_contracts_are_kept(root):
    code = ("import sys; from importlinter.cli import lint_imports_command; "
            "sys.argv = ['lint-imports', '--no-cache']; sys.exit(lint_imports_command())")
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_every_subpackage_has_a_layer(root):
    contract = next(c for c in _config(root)["contracts"] if c["type"] == "layers")
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    package = root / "contexture"
    children = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    children |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert children <= layered, f"modules outside every layer: {sorted(children - layered)}"


def test_chapter_companions_match_chapters(root):
    companions = {p.stem for p in (root / "contexture" / "chapters").glob("ch*.py")}
    chapters = {p.stem for p in (root / "book" / "chapters").glob("ch*.md")}
    assert companions <= chapters, f"companions without a chapter: {sorted(companions - chapters)}"
