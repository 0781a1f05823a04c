"""Golden values: the smoke build reproduces every reviewed number, and `verify` catches a change.

When a change of a number is intended, regenerate the file and review its diff:
``python -m bookbuild golden --profile smoke`` (``make golden PROFILE=smoke``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bookbuild.golden import compare, format_differences, load_golden
from bookbuild.registry import gather

pytestmark = pytest.mark.book


def test_smoke_build_matches_the_golden_values(smoke_html, root):
    golden = load_golden(root / "tests" / "golden" / "smoke.json")
    assert golden["profile"] == "smoke"
    fresh = gather(root / "build" / "smoke" / "results", root / "book")
    assert {c.chapter for c in fresh if c.rows} == set(golden["values"]), (
        "the chapters with results differ from the golden file's")
    diffs = compare(golden["values"], fresh)
    assert not diffs, (
        f"{len(diffs)} reproduced numbers differ from tests/golden/smoke.json:\n"
        + format_differences(diffs, limit=30)
        + "\nIf the change is intended: python -m bookbuild golden --profile smoke, review the "
          "diff and commit it.")


def test_golden_files_hold_only_results_with_tolerances(root):
    for path in sorted((root / "tests" / "golden").glob("*.json")):
        data = load_golden(path)
        assert data["profile"] == path.stem
        for chapter, keys in data["values"].items():
            assert keys, f"{path.name}: {chapter} has no values"
            for key, spec in keys.items():
                assert set(spec) == {"value", "tol"}, f"{path.name}: {chapter}/{key}"
                if isinstance(spec["value"], float):
                    assert spec["tol"] is not None and spec["tol"] > 0, f"{chapter}/{key}"
                assert not key.endswith(("_lhs", "_rhs")), f"{chapter}/{key} is a check's side"


def test_verify_reports_a_planted_change_and_nothing_else(root, tmp_path):
    golden = load_golden(root / "tests" / "golden" / "smoke.json")
    values = {"ch01_contexts": golden["values"]["ch01_contexts"]}
    key = next(k for k, v in values["ch01_contexts"].items()
               if isinstance(v["value"], float) and abs(v["value"]) > 1e-3)
    planted = values["ch01_contexts"][key]["value"] * 1.01
    values["ch01_contexts"][key]["value"] = planted
    path = tmp_path / "planted.json"
    path.write_text(json.dumps({**golden, "values": values}))
    proc = subprocess.run(
        [sys.executable, "-m", "bookbuild", "verify", "--profile", "smoke", "--chapters",
         "ch01_contexts", "--golden", str(path)], cwd=root, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert f"ch01_contexts/{key}: {planted:.10g} ->" in out, out[-3000:]
    assert "1 changed:" in out and "missing:" not in out and "new:" not in out, out[-3000:]
