"""Importing from a mirror directory: every real dataset of the mirror, plus checksum handling.

The real mirror is found through $CONTEXTURE_DATA_MIRROR or ``../shared/data`` relative to the
repository root; tests that need it are skipped (with the reason) when it is absent. Converted
files go to pytest's tmp dirs. The checksum tests build a tiny fake mirror and always run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from contexture import data
from contexture.data import canonical as can
from data_scripts.mirror import load_manifest
from data_scripts.prepare import main, prepare
from data_scripts.recipes import RECIPES


def _find_mirror() -> Path | None:
    env = os.environ.get(data.paths.MIRROR_ENV)
    path = Path(env) if env else data.paths.REPO_ROOT.parent / "shared" / "data"
    return path if (path / "MANIFEST.json").exists() else None


MIRROR = _find_mirror()
needs_mirror = pytest.mark.skipif(
    MIRROR is None, reason="no dataset mirror: set CONTEXTURE_DATA_MIRROR to a folder holding "
    "MANIFEST.json (default ../shared/data relative to the repository root)")
OFFLINE = [n for n in data.names() if data.info(n).offline]
# recipes whose target is not the column the MANIFEST summarises
TARGET_DIFFERS = {"brazilian_houses": "MANIFEST summarises total (R$); the target is rent amount"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Prepare every registry dataset from the real mirror once, into a temporary data dir."""
    root = tmp_path_factory.mktemp("data")
    results = {r.name: r for r in prepare(mirror=MIRROR, data_dir=root)}
    manifest = json.loads((MIRROR / "MANIFEST.json").read_text())
    return root, results, {d["name"]: d for d in manifest["datasets"]}


@needs_mirror
def test_registry_and_recipes_match_the_manifest(prepared):
    _, _, manifest = prepared
    assert set(manifest) == set(data.names())
    for name, entry in manifest.items():
        e = data.info(name)
        assert (entry["paper"]["rows"], entry["paper"]["features"]) == (e.paper_rows,
                                                                       e.paper_features)
        assert entry["paper"]["openml_task_id"] == e.openml_task_id
        assert (entry["status"] == "found") == e.offline
        if e.offline:
            listed = {f["path"] for f in entry["files"]}
            assert set(RECIPES[e.recipe].files) <= listed


@needs_mirror
@pytest.mark.parametrize("name", [n for n in OFFLINE if n != "mnist"])
def test_mirror_dataset_converts_with_manifest_shape(prepared, name):
    root, results, manifest = prepared
    r = results[name]
    assert r.status == "built", r.message
    table = data.load_canonical(name, data_dir=root)
    prov = table.provenance
    parsed = manifest[name]["parsed"]
    # rows and columns as parsed in the MANIFEST, up to the documented drops and additions
    assert table.n_rows + prov["dropped_rows"] == parsed["rows"]
    n_cols = table.n_features + 1 - len(prov["added_columns"]) + len(prov["dropped_columns"])
    assert n_cols == parsed["cols"]
    assert prov["match_level"] == manifest[name]["match_level"]
    assert [f["sha256"] for f in prov["raw_files"]] == [
        next(f["sha256"] for f in manifest[name]["files"] if f["path"] == p)
        for p in RECIPES[name].files]
    # the target agrees with the MANIFEST's summary of it
    if "target_counts" in parsed:
        if table.classes is not None:
            labels = np.asarray(table.classes)[table.y]
        else:  # integer-valued regression target (solar_flare, wine_quality_red)
            labels = np.asarray([str(int(v)) for v in table.y])
        values, counts = np.unique(labels, return_counts=True)
        assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == parsed["target_counts"]
    if "target_summary" in parsed and name not in TARGET_DIFFERS:
        s = parsed["target_summary"]
        assert (table.y.min(), table.y.max()) == (s["min"], s["max"])
        assert abs(table.y.mean() - s["mean"]) <= 1e-3 * max(1.0, abs(s["mean"]))
    # differences from Table 1 are recorded whenever the counts differ
    diffs = " ".join(prov["differences_vs_paper"])
    assert (table.n_rows != data.info(name).paper_rows) == ("rows:" in diffs)
    assert (table.n_features != data.info(name).paper_features) == ("features:" in diffs)


@needs_mirror
def test_mnist_from_idx_files(prepared):
    root, results, manifest = prepared
    assert results["mnist"].status == "built", results["mnist"].message
    t = data.load_canonical("mnist", data_dir=root)
    parsed = manifest["mnist"]["parsed"]
    assert t.X.shape == (parsed["t10k_images"][0], 784) and t.X.dtype == np.uint8
    assert np.bincount(t.y).tolist() == parsed["t10k_label_counts"]
    assert np.bincount(t.extras["y_train"]).tolist() == parsed["train_label_counts"]
    assert t.extras["X_train5k"].shape == (5000, 784)
    assert np.bincount(t.extras["y_train5k"]).tolist() == [500] * 10
    ds = data.load("mnist", subset="train5k", data_dir=root)
    assert ds.X.shape == (5000, 784) and 0.0 <= ds.X.min() and ds.X.max() == 1.0


@needs_mirror
def test_datasets_without_offline_copy_are_reported(prepared):
    _, results, _ = prepared
    for name in ("colleges", "superconductivity"):
        assert results[name].status == "unavailable"
        assert "internet" in results[name].message
        assert str(data.info(name).openml_task_id) in results[name].message


@needs_mirror
def test_every_prepared_dataset_loads_finite_and_splits(prepared):
    root, results, _ = prepared
    table = data.summary_table(data_dir=root).set_index("dataset")
    for name in OFFLINE:
        ds = data.load(name, seed=0, data_dir=root)
        assert ds.X.dtype == np.float64 and np.all(np.isfinite(ds.X)), name
        assert ds.n_features == table.loc[name, "features (preprocessed)"], name
        n = ds.n
        assert [len(p) for p in ds.split] == [round(0.7 * n), round(0.15 * n),
                                              n - round(0.7 * n) - round(0.15 * n)]
    ab = data.load("abalone", seed=0, data_dir=root)
    assert ab.X.shape == (4177, 10) and ab.task == "regression"
    assert table.loc["abalone", "match"] == "exact"
    assert table.loc["colleges", "status"] == "missing"


@needs_mirror
def test_provenance_table_lists_every_prepared_dataset(prepared):
    root, _, _ = prepared
    prov = data.provenance_table(data_dir=root).set_index("dataset")
    assert sorted(prov.index) == sorted(OFFLINE)
    assert set(prov["source"]) == {"mirror"}
    assert "github:" in prov.loc["abalone", "raw files"]
    assert "stabf" in prov.loc["grid_stability", "transformations"]
    assert "61 rows with a missing target dropped" in prov.loc["fifa", "transformations"]


@needs_mirror
def test_second_run_verifies_and_skips(prepared):
    root, _, _ = prepared
    again = prepare(mirror=MIRROR, data_dir=root)
    assert {r.status for r in again} == {"ok", "unavailable"}
    assert all("checksum verified" in r.message for r in again if r.status == "ok")


# ----------------------------------------------------------------------------- fake mirror

TINY = """@relation tiny
@attribute preg numeric
@attribute plas numeric
@attribute class {tested_negative,tested_positive}
@data
6,148,tested_positive
1,85,tested_negative
8,183,tested_positive
"""


def _fake_mirror(root: Path, content: str = TINY) -> Path:
    (root / "diabetes").mkdir(parents=True, exist_ok=True)
    f = root / "diabetes" / "diabetes.arff"
    f.write_text(content)
    manifest = {"datasets": [{
        "name": "diabetes", "status": "found", "match_level": "exact", "differences": "none",
        "files": [{"path": "diabetes/diabetes.arff", "origin": "test",
                   "sha256": hashlib.sha256(content.encode()).hexdigest(),
                   "bytes": len(content)}]}]}
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    return root


def test_fake_mirror_build_then_checksum_failure_keeps_good_copy(tmp_path):
    mirror = _fake_mirror(tmp_path / "mirror")
    out = tmp_path / "data"
    (r,) = prepare(["diabetes"], mirror=mirror, data_dir=out)
    assert r.status == "built"
    folder = out / "diabetes"
    good = {f: (folder / f).read_bytes() for f in (can.CANONICAL_FILE, can.META_FILE)}
    bad_file = mirror / "diabetes" / "diabetes.arff"
    bad_file.write_text(TINY.replace("148", "149"))  # tampered, MANIFEST unchanged
    (r,) = prepare(["diabetes"], mirror=mirror, data_dir=out, force=True)
    assert r.status == "failed" and "ChecksumError" in r.message
    assert str(bad_file) in r.message and "refused" in r.message
    assert {f: (folder / f).read_bytes() for f in good} == good
    assert data.load("diabetes", data_dir=out).n == 3
    # without --force the verified copy is simply kept
    (r,) = prepare(["diabetes"], mirror=mirror, data_dir=out)
    assert r.status == "ok"


def test_changed_mirror_file_triggers_rebuild_and_stale_temps_are_removed(tmp_path):
    mirror = _fake_mirror(tmp_path / "mirror")
    out = tmp_path / "data"
    prepare(["diabetes"], mirror=mirror, data_dir=out)
    stale = out / "diabetes" / ".canonical.npz.tmp-99999-deadbeef"
    stale.write_bytes(b"half a file from a killed run")
    _fake_mirror(mirror, TINY + "0,100,tested_negative\n")  # new file, new MANIFEST entry
    (r,) = prepare(["diabetes"], mirror=mirror, data_dir=out)
    assert r.status == "built" and not stale.exists()
    assert data.load_canonical("diabetes", data_dir=out).n_rows == 4


def test_corrupt_canonical_is_rebuilt(tmp_path):
    mirror = _fake_mirror(tmp_path / "mirror")
    out = tmp_path / "data"
    prepare(["diabetes"], mirror=mirror, data_dir=out)
    npz = out / "diabetes" / can.CANONICAL_FILE
    npz.write_bytes(b"garbage")
    (r,) = prepare(["diabetes"], mirror=mirror, data_dir=out)
    assert r.status == "built"
    assert can.canonical_status(out / "diabetes")[0] == "ok"


def test_bad_mirror_dir_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(data.DataError, match="does not exist"):
        prepare(["diabetes"], mirror=tmp_path / "nowhere", data_dir=tmp_path)
    assert main(["--mirror", str(tmp_path), "--only", "diabetes",
                 "--data-dir", str(tmp_path / "d")]) == 2
    assert "MANIFEST.json" in capsys.readouterr().err


def test_mirror_without_the_dataset_reports_unavailable(tmp_path):
    mirror = _fake_mirror(tmp_path / "mirror")
    (r,) = prepare(["cmc"], mirror=mirror, data_dir=tmp_path / "d")
    assert r.status == "unavailable"
    assert load_manifest(mirror).entry("cmc") is None
