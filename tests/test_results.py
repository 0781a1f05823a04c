"""The results registry: provenance, atomic JSON, verification."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contexture import results
from contexture.runtime.formatting import fmt


def test_record_writes_json_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEXTURE_PARAMS", json.dumps({"profile": "smoke", "n": 3}))
    run = results.start("ch99_demo", profile="smoke", seed=7, out_dir=tmp_path)
    assert results.record("s1", np.float64(0.5), paper=0.5, tol=1e-9, note="demo") == 0.5
    data = json.loads((tmp_path / "ch99_demo.json").read_text())
    assert data["results"]["s1"] == {"value": 0.5, "paper": 0.5, "tol": 1e-9, "note": "demo",
                                     "kind": "result"}
    prov = data["provenance"]
    assert prov["profile"] == "smoke" and prov["seed"] == 7
    assert prov["parameters"] == {"profile": "smoke", "n": 3}
    assert {"commit", "python", "packages", "started"} <= set(prov)
    assert "numpy" in prov["packages"]
    assert run.path == tmp_path / "ch99_demo.json"
    assert not list(tmp_path.glob("*.tmp"))


def test_verify_passes_and_fails(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    assert results.verify("same", [1.0, 2.0], [1.0, 2.0 + 1e-14], tol=1e-12) < 1e-12
    with pytest.raises(AssertionError, match="check 'off' failed: discrepancy 1.000e-03"):
        results.verify("off", 1.0, 1.001, tol=1e-6)
    data = results.load(tmp_path / "ch99_demo.json")["results"]
    assert data["off_lhs"]["value"] == 1.0 and data["off_rhs"]["value"] == 1.001


def test_keys_are_validated(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    with pytest.raises(ValueError, match="key must match"):
        results.record("Bad Key", 1.0)


def test_verify_returns_a_check_that_displays_a_verdict(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    check = results.verify("tiny", 1.0, 1.0 + 1e-15, tol=1e-12, note="both sides")
    assert isinstance(check, float) and check < 1e-12
    assert repr(check) == "✓ both sides: gap 1.1 × 10⁻¹⁵ (tolerance 10⁻¹²)"


def test_numbers_are_formatted_for_people():
    from contexture.runtime.formatting import fmt, fmt_tol

    assert fmt(0.0) == "0" and fmt(0) == "0"
    assert fmt(3e-17) == "below 10⁻¹⁵" and fmt(-3e-17) == "below 10⁻¹⁵"
    assert fmt(9.299e-3) == "0.0093"
    assert fmt(3.14e-8) == "3.1 × 10⁻⁸" and fmt(1e-12) == "10⁻¹²"
    assert fmt(4177) == "4,177" and fmt(1.7886, 3) == "1.79" and fmt(-0.0123) == "−0.012"
    assert fmt(2.5e6) == "2,500,000" and fmt(float("nan")) == "NaN"
    assert fmt_tol(1e-12) == "10⁻¹²" and fmt_tol(0.05) == "0.050"


def test_checks_table_lists_checks_since_the_last_table(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    results.verify("a", 1.0, 1.0 + 1e-13, tol=1e-12, note="scalar identity")
    results.verify("b", np.zeros(3), np.full(3, 2e-9), tol=1e-8)
    table = results.checks_table()
    assert [row[0] for row in table.rows] == ["scalar identity", "b"]
    assert table.rows[0][1:3] == ["1.000", "1.000"] and table.rows[1][1:3] == ["", ""]
    assert table.rows[1][3] == "2.0 × 10⁻⁹" and table.rows[1][4] == "10⁻⁸"
    assert "<table" in table._repr_html_() and "scalar identity" in repr(table)
    with pytest.raises(RuntimeError, match="no checks"):
        results.checks_table()


def test_paper_table_and_human_glue(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    results.record("tau_min", 1.78861, paper=1.79, tol=0.01, note="τ minimum")
    table = results.paper_table(["tau_min"])
    assert table.rows == [["τ minimum", "1.79", "1.79", "−0.00139", "10⁻²"]]
    with pytest.raises(KeyError, match="never_recorded"):
        results.paper_table(["never_recorded"])


def test_verify_le_asserts_an_inequality_and_records_the_excess(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    check = results.verify_le("below", [0.1, 0.4], 0.5, note="ratios ≤ 0.5")
    assert isinstance(check, float) and abs(check - (-0.1)) < 1e-15
    results.verify_le("scalar", 0.3, [0.5, 0.9], note="A* ≤ every error")
    results.verify_le("slack", 1.0 + 1e-13, 1.0, slack=1e-12)
    data = results.load(tmp_path / "ch99_demo.json")["results"]
    assert abs(data["below"]["value"] + 0.1) < 1e-15 and data["below"]["tol"] == 0.0
    assert data["scalar_lhs"]["value"] == 0.3 and "scalar_rhs" not in data
    table = results.checks_table()
    assert table.rows[0] == ["ratios ≤ 0.5", "≤ 0.5000", "max 0.4000", "excess −0.10", "0", "✓"]
    assert table.rows[1][1:3] == ["≤ min 0.5000", "0.3000"]
    assert table.rows[2][0] == "slack" and table.rows[2][-1] == "✓"
    with pytest.raises(AssertionError, match="check 'above' failed: lhs exceeds rhs by 2.000e-01"):
        results.verify_le("above", [0.1, 0.7], [0.5, 0.5])
    with pytest.raises(AssertionError, match="check 'nan' failed"):
        results.verify_le("nan", [0.1, float("nan")], 0.5)
    failed = results.checks_table()
    assert [row[-1] for row in failed.rows] == ["✗", "✗"]
    with pytest.raises(ValueError, match="slack must be >= 0"):
        results.verify_le("bad", 0.0, 1.0, slack=-1.0)


def test_frame_table_formats_a_data_frame_without_its_index():
    import pandas as pd

    df = pd.DataFrame({"name": ["a", "b"], "x": [2.0, float("nan")], "y": [0.123456, 1234.5]})
    table = results.frame_table(df, {"name": "Name", "y": "Y"}, digits=3)
    assert table.header == ["Name", "Y"]
    assert table.rows[0][0] == "a" and table.rows[1][1] == fmt(1234.5, 3)
    whole = results.frame_table(df)
    assert whole.header == ["name", "x", "y"]
    assert whole.rows[0][1] == "2" and whole.rows[1][1] == "–"


def test_record_kinds_and_intervals(tmp_path):
    results.start("ch99_demo", profile="smoke", out_dir=tmp_path)
    results.record("n_grid", 7, kind="setting")
    results.record("mean_cca", 0.9, interval=(0.85, 0.95), n_seeds=5)
    results.verify("gap", 1.0, 1.0 + 1e-12, tol=1e-9)
    results.verify_le("bound", 0.5, 1.0)
    entries = results.current().entries
    assert entries["n_grid"]["kind"] == "setting"
    assert entries["mean_cca"]["interval"] == [0.85, 0.95] and entries["mean_cca"]["n_seeds"] == 5
    assert entries["gap"]["kind"] == entries["bound"]["kind"] == "check"
    assert entries["gap_lhs"]["kind"] == entries["bound_rhs"]["kind"] == "side"
    with pytest.raises(ValueError, match="kind must be one of"):
        results.record("x", 1.0, kind="parameter")
    with pytest.raises(ValueError, match="interval must be"):
        results.record("x", 1.0, interval=(0.1, 0.2, 0.3))
