"""The results registry: provenance, atomic JSON, verification."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contexture import results


def test_record_writes_json_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEXTURE_PARAMS", json.dumps({"profile": "smoke", "n": 3}))
    run = results.start("ch99_demo", profile="smoke", seed=7, out_dir=tmp_path)
    assert results.record("s1", np.float64(0.5), paper=0.5, tol=1e-9, note="demo") == 0.5
    data = json.loads((tmp_path / "ch99_demo.json").read_text())
    assert data["results"]["s1"] == {"value": 0.5, "paper": 0.5, "tol": 1e-9, "note": "demo"}
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
    assert repr(check).startswith("✔ tiny: discrepancy") and "both sides" in repr(check)
