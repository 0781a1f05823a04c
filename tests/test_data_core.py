"""contexture.data without real files: registry, splits, preprocessing, canonical files, load().

Synthetic canonical tables are written to pytest's tmp_path; nothing touches the network or the
repository's data/ folder. Numerical checks use a tolerance of 1e-12 (float64 arithmetic).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from contexture import data
from contexture.data import canonical as can
from contexture.data.preprocess import MISSING_LEVEL

TOL = 1e-12


# ----------------------------------------------------------------------------- registry

def test_registry_has_table1_and_mnist():
    names = data.names()
    assert len(names) == 29 and names[-1] == "mnist"
    t1 = data.names(table1_only=True)
    assert len(t1) == 28 and "mnist" not in t1
    tasks = [data.info(n).task for n in t1]
    assert tasks.count("classification") == 12 and tasks.count("regression") == 16
    sizes = [data.info(n).paper_rows for n in t1]
    assert sizes == sorted(sizes)  # Table 1 is sorted by size


@pytest.mark.parametrize(("name", "rows", "feats", "task", "tid"), [
    ("credit-approval", 690, 15, "classification", 29),
    ("abalone", 4177, 8, "regression", 361234),
    ("wine_quality_red", 1599, 11, "regression", 190420),
    ("scene", 2407, 299, "classification", 3485),
    ("SpeedDating", 8378, 120, "classification", 146607),
    ("cps88wages", 28155, 6, "regression", 361261),
    ("mnist", 70000, 784, "classification", None),
])
def test_registry_entries(name, rows, feats, task, tid):
    e = data.info(name)
    assert (e.paper_rows, e.paper_features, e.task, e.openml_task_id) == (rows, feats, task, tid)
    assert e.licence and e.source


def test_registry_offline_flags():
    offline = {n for n in data.names() if data.info(n).offline}
    assert set(data.names()) - offline == {"colleges", "superconductivity"}
    assert data.info("wine_quality_red").paper_name == "Wine"
    assert "internet" in data.info("colleges").note


def test_unknown_name_lists_known_ones():
    with pytest.raises(data.UnknownDatasetError) as exc:
        data.info("abalon")
    msg = str(exc.value)
    assert "'abalon'" in msg and "credit-approval" in msg and "mnist" in msg
    assert "did you mean 'abalone'" in msg
    with pytest.raises(data.UnknownDatasetError):
        data.load("not-a-dataset")
    assert isinstance(exc.value, ValueError)


# ----------------------------------------------------------------------------- splits

def test_split_is_deterministic_disjoint_and_70_15_15():
    s1, s2 = data.split_indices(4177, 0), data.split_indices(4177, 0)
    for a, b in zip(s1, s2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [len(p) for p in s1] == [2924, 627, 626]
    allidx = np.concatenate(s1)
    assert np.array_equal(np.sort(allidx), np.arange(4177))
    s3 = data.split_indices(4177, 1)
    assert not np.array_equal(s1.pretrain, s3.pretrain)
    g = data.split_indices(100, np.random.default_rng(5))
    assert [len(p) for p in g] == [70, 15, 15]


@pytest.mark.parametrize(("kwargs", "err", "text"), [
    ({"n": 2, "seed": 0}, ValueError, "n must be an integer in [3, inf], got 2"),
    ({"n": 10, "seed": -1}, ValueError, "seed must be an integer"),
    ({"n": 10, "seed": 1.5}, TypeError, "seed must be an integer"),
    ({"n": 10, "seed": 0, "fractions": (0.5, 0.5, 0.5)}, ValueError, "must sum to 1"),
    ({"n": 10, "seed": 0, "fractions": (0.5, 0.5)}, ValueError, "3 entries"),
    ({"n": 4, "seed": 0, "fractions": (0.9, 0.05, 0.05)}, ValueError, "non-empty"),
])
def test_split_validation(kwargs, err, text):
    with pytest.raises(err) as exc:
        data.split_indices(**kwargs)
    assert text in str(exc.value)


# ----------------------------------------------------------------------------- synthetic table

def make_table(n: int = 40, task: str = "regression", seed: int = 0) -> data.CanonicalTable:
    """Numeric (with NaNs), a 3-level categorical with missing, a binary and a constant column."""
    rng = np.random.default_rng(seed)
    num = rng.normal(3.0, 2.0, n)
    num[[1, 5]] = np.nan
    cat3 = rng.integers(0, 3, n).astype(float)
    cat3[2] = np.nan
    binary = rng.integers(0, 2, n).astype(float)
    const = np.full(n, 7.0)
    X = np.column_stack([num, cat3, binary, const])
    if task == "regression":
        y = rng.normal(10.0, 5.0, n)
        classes = None
    else:
        y = rng.integers(0, 3, n).astype(np.int64)
        classes = ["a", "b", "c"]
    return data.CanonicalTable(
        name="toy", task=task, kind="tabular", X=X, y=y,
        feature_names=["num", "cat3", "bin", "const"], categorical=[False, True, True, False],
        categories={"cat3": ["red", "green", "blue"], "bin": ["no", "yes"]},
        target_name="target", classes=classes, provenance={"source": "test",
                                                           "differences_vs_paper": []})


def test_preprocessing_rule_on_all_rows():
    t = make_table()
    pre = data.fit_preprocessor(t)
    X = pre.transform(t.X)
    assert pre.feature_names_out == ("num", "cat3=red", "cat3=green", "cat3=blue",
                                     f"cat3={MISSING_LEVEL}", "bin=yes", "const")
    assert X.dtype == np.float64 and X.shape == (40, 7) and np.all(np.isfinite(X))
    num = t.X[:, 0]
    med = np.nanmedian(num)
    filled = np.where(np.isnan(num), med, num)
    np.testing.assert_allclose(X[:, 0], (filled - filled.mean()) / filled.std(), atol=TOL)
    np.testing.assert_allclose(X[[1, 5], 0], (med - filled.mean()) / filled.std(), atol=TOL)
    onehot = X[:, 1:5]
    np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    assert onehot[2, 3] == 1.0  # the missing cell went to its own category
    np.testing.assert_array_equal(X[:, 5], t.X[:, 2])  # binary: one 0/1 column
    np.testing.assert_array_equal(X[:, 6], 0.0)  # constant column → zeros, not NaN


def test_preprocessing_fitted_on_rows_only():
    t = make_table(n=200)
    split = data.split_indices(t.n_rows, 3)
    pre = data.fit_preprocessor(t, split.pretrain)
    X = pre.transform(t.X)
    assert pre.n_fit_rows == len(split.pretrain)
    np.testing.assert_allclose(X[split.pretrain, 0].mean(), 0.0, atol=1e-10)
    np.testing.assert_allclose(X[split.pretrain, 0].std(), 1.0, atol=1e-10)
    assert abs(X[split.test, 0].mean()) > 1e-6  # test statistics were not used


def test_preprocessing_width_does_not_depend_on_split():
    t = make_table(n=30)
    w = {data.fit_preprocessor(t, data.split_indices(30, s).pretrain).transform(t.X).shape[1]
         for s in range(5)}
    assert w == {7}


# ----------------------------------------------------------------------------- canonical files

def test_canonical_roundtrip_and_deterministic_bytes(tmp_path):
    t = make_table(task="classification")
    meta = data.write_canonical(t, tmp_path / "a")
    data.write_canonical(t, tmp_path / "b")
    sha_a = data.file_digest(tmp_path / "a" / can.CANONICAL_FILE)
    assert sha_a == data.file_digest(tmp_path / "b" / can.CANONICAL_FILE)
    assert meta["canonical"]["sha256"] == sha_a
    back = data.read_canonical(tmp_path / "a")
    np.testing.assert_array_equal(back.X, t.X)
    np.testing.assert_array_equal(back.y, t.y)
    assert back.feature_names == t.feature_names and back.categories == t.categories
    assert back.classes == ["a", "b", "c"]
    on_disk = json.loads((tmp_path / "a" / can.META_FILE).read_text())
    assert on_disk["features"][1] == {"name": "cat3", "type": "categorical", "n_missing": 1,
                                      "categories": ["red", "green", "blue"]}
    assert on_disk["n_rows"] == 40 and on_disk["n_features"] == 4


def test_invalid_table_is_not_written(tmp_path):
    t = make_table()
    t.X[0, 1] = 5.0  # code outside the 3 levels
    with pytest.raises(data.DataError, match="invalid codes"):
        data.write_canonical(t, tmp_path / "x")
    assert not (tmp_path / "x" / can.CANONICAL_FILE).exists()


def test_checksum_mismatch_refuses_the_file(tmp_path):
    folder = tmp_path / "toy"
    data.write_canonical(make_table(), folder)
    npz = folder / can.CANONICAL_FILE
    raw = bytearray(npz.read_bytes())
    raw[-40] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(data.ChecksumError) as exc:
        data.read_canonical(folder)
    assert str(npz) in str(exc.value) and "refused" in str(exc.value)
    assert can.canonical_status(folder)[0] == "corrupt"


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_crash_mid_write_leaves_previous_copy(tmp_path, monkeypatch):
    folder = tmp_path / "toy"
    data.write_canonical(make_table(seed=0), folder)
    before = {f: (folder / f).read_bytes() for f in (can.CANONICAL_FILE, can.META_FILE)}

    def crashing_write(path, arrays):  # write half a file, then die
        Path(path).write_bytes(b"PK\x03\x04 partial")
        raise OSError("simulated crash (disk full)")

    monkeypatch.setattr(can, "_write_npz", crashing_write)
    with pytest.raises(OSError, match="simulated crash"):
        data.write_canonical(make_table(seed=1), folder)
    assert _names(folder) == {can.CANONICAL_FILE, can.META_FILE}  # no temporaries left
    for f, content in before.items():
        assert (folder / f).read_bytes() == content
    assert can.canonical_status(folder)[0] == "ok"


def test_crash_before_first_write_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(can, "_dump_json", lambda obj, path: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        data.write_canonical(make_table(), tmp_path / "new")
    assert _names(tmp_path / "new") == set()


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError), can.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"good" and _names(tmp_path) == {"f.bin"}
    with can.atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and _names(tmp_path) == {"f.bin"}


# ----------------------------------------------------------------------------- load()

@pytest.fixture
def toy_dir(tmp_path, monkeypatch):
    """A data dir holding a synthetic table under the registry name 'abalone'."""
    t = make_table(n=100)
    t.name = "abalone"
    data.write_canonical(t, tmp_path / "abalone")
    monkeypatch.setenv(data.paths.DATA_DIR_ENV, str(tmp_path))
    return tmp_path


def test_load_without_split(toy_dir):
    ds = data.load("abalone")
    assert ds.split is None and ds.X.shape == (100, 7) and ds.X.dtype == np.float64
    np.testing.assert_allclose(ds.y.mean(), 0.0, atol=1e-10)
    np.testing.assert_allclose(ds.y.std(), 1.0, atol=1e-10)
    np.testing.assert_allclose(ds.inverse_target(ds.y), ds.raw.y, atol=1e-10)
    with pytest.raises(ValueError, match="without a split"):
        ds.part("train")


def test_load_with_split_is_deterministic(toy_dir):
    a, b = data.load("abalone", seed=7), data.load("abalone", seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.split.test, b.split.test)
    Xp, yp = a.part("pretrain")
    assert len(Xp) == 70 and len(a.part("train")[0]) == 15 and len(a.part("test")[1]) == 15
    np.testing.assert_allclose(yp.mean(), 0.0, atol=1e-10)  # target stats from pretrain rows
    raw = data.load("abalone", seed=7, standardize_target=False)
    np.testing.assert_array_equal(raw.y, raw.raw.y)
    with pytest.raises(ValueError, match="which must be one of"):
        a.part("validation")


def test_load_argument_errors(toy_dir):
    with pytest.raises(ValueError, match="subset must be None"):
        data.load("abalone", subset="test")
    with pytest.raises(ValueError, match="seed must be an integer"):
        data.load("abalone", seed=-3)
    with pytest.raises(ValueError, match="subset must be one of"):
        data.load("mnist", subset="bogus")


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DataNotPreparedError) as exc:
        data.load("abalone", data_dir=tmp_path)
    msg = str(exc.value)
    assert "make data" in msg and "DATA_MIRROR" in msg and "data_scripts.prepare" in msg
    with pytest.raises(data.DataUnavailableError) as exc2:
        data.load("superconductivity", data_dir=tmp_path)
    assert "361242" in str(exc2.value) and "internet" in str(exc2.value)


def test_load_refuses_corrupt_file(toy_dir):
    npz = toy_dir / "abalone" / can.CANONICAL_FILE
    npz.write_bytes(npz.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(data.ChecksumError, match="--force"):
        data.load("abalone")


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(data.paths.DATA_DIR_ENV, raising=False)
    assert data.data_dir() == data.paths.REPO_ROOT / "data"
    monkeypatch.setenv(data.paths.DATA_DIR_ENV, os.fspath(tmp_path))
    assert data.data_dir() == tmp_path
    assert data.data_dir("elsewhere") == Path("elsewhere")


def test_summary_table_marks_missing_and_prepared(toy_dir):
    df = data.summary_table()
    assert len(df) == 29
    row = df.set_index("dataset").loc["abalone"]
    assert (row["rows"], row["raw columns"], row["features (preprocessed)"]) == (100, 4, 7)
    assert row["status"] == "ok" and row["paper rows"] == 4177
    sc = df.set_index("dataset").loc["superconductivity"]
    assert sc["status"] == "missing" and "internet" in sc["note"]
