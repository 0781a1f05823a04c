"""Shared fixtures: the project root and a smoke-profile build of the real book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def smoke_html() -> Path:
    """Build the whole book with the smoke profile (cached chapters are not re-executed).

    ``CONTEXTURE_SMOKE_HTML=<dir>`` tests an HTML tree built beforehand instead (for example
    ``build/check/_build/html`` from ``python -m bookbuild build --profile smoke --path-output
    build/check``); the build itself is then not run.
    """
    prebuilt = os.environ.get("CONTEXTURE_SMOKE_HTML")
    if prebuilt:
        html = (ROOT / prebuilt).resolve()
        assert (html / "index.html").exists(), f"CONTEXTURE_SMOKE_HTML: no index.html in {html}"
        return html
    proc = subprocess.run(
        [sys.executable, "-m", "bookbuild", "build", "--profile", "smoke"],
        cwd=ROOT, capture_output=True, text=True,
    )
    tail = f"{proc.stdout[-8000:]}\n{proc.stderr[-8000:]}"
    assert proc.returncode == 0, f"smoke build failed:\n{tail}"
    html = ROOT / "build" / "smoke" / "_build" / "html"
    assert (html / "index.html").exists()
    return html
