"""``python -m contexture.choose`` on a small CSV: outputs, resumption, tau's recommendation
and the agreement with the probe (Eq. (4), Sec. 5.3), and its usage errors."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contexture.choose import ChooseSettings, choose, main
from contexture.choose.core import min_rows

FAST = ["--levels", "3", "--d0", "8", "--contexts", "knn,rbf", "--workers", "1",
        "--no-progress"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 rows: two numerics (one with missing values), a categorical with missing values,
    a constant column and a regression target."""
    rng = np.random.default_rng(3)
    n = 150
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                       "colour": rng.choice(["red", "green", "blue"], n), "const": 7.0})
    df.loc[::7, "a"] = np.nan
    df.loc[::11, "colour"] = None
    df["y"] = 2 * df["b"] + (df["colour"] == "red") + rng.normal(scale=0.3, size=n)
    path = tmp_path_factory.mktemp("data") / "small.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run(csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("choose") / "out"
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(std), contextlib.redirect_stderr(err):
        rc = main([str(csv), "--target", "y", "--out", str(out), *FAST])
    return {"rc": rc, "out": out, "stdout": std.getvalue(), "stderr": err.getvalue()}


def test_the_command_writes_its_outputs(run: dict) -> None:
    out = run["out"]
    assert run["rc"] == 0
    for name in ("ranking.csv", "tau.png", "spectra.npz", "summary.txt", "prepared.npz"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*tmp-*"))
    table = pd.read_csv(out / "ranking.csv")
    assert list(table.columns[:9]) == ["context", "level", "K", "gamma", "neighbourhood", "tau",
                                       "tau_d_star", "err_star", "d_star"]
    assert len(table) == 6 and set(table["context"]) == {"knn", "rbf"}
    assert table["level"].tolist() == [0, 1, 2, 0, 1, 2]
    with np.load(out / "spectra.npz") as z:
        assert z["s_knn"].shape == (3, 9) and z["s_rbf"].shape == (3, 9)
        assert np.all(np.diff(z["s_rbf"], axis=1) <= 1e-12)
    assert "column 'const' dropped: constant" in run["stderr"]
    assert "dropped: const (constant)" in run["stdout"]
    assert "rows: 150 in the file, 150 used (all)" in run["stdout"]
    assert (out / "summary.txt").read_text().strip() == run["stdout"].strip()


def test_the_recommendation_is_the_tau_minimiser(run: dict) -> None:
    table = pd.read_csv(run["out"] / "ranking.csv")
    finite = table[np.isfinite(table["tau"])]
    best = finite.loc[finite["tau"].idxmin()]
    assert table["recommended"].sum() == 1
    chosen = table[table["recommended"]].iloc[0]
    assert (chosen["context"], chosen["level"]) == (best["context"], best["level"])
    assert f"recommended: {best['context']} at level {best['level']} " in run["stdout"]


def test_the_regret_is_the_chosen_error_minus_the_best(run: dict) -> None:
    table = pd.read_csv(run["out"] / "ranking.csv")
    chosen = table[table["recommended"]].iloc[0]
    regret = chosen["err_star"] - table["err_star"].min()
    assert regret >= 0
    line = next(ln for ln in run["stdout"].splitlines() if "regret = " in ln)
    assert float(line.split("regret = ")[1]) == pytest.approx(regret, rel=1e-3, abs=1e-6)
    assert "Pearson" in run["stdout"] and "Spearman" in run["stdout"]


def test_a_rerun_computes_nothing_new(run: dict, csv: Path) -> None:
    settings = ChooseSettings(path=str(csv), target="y", contexts=("knn", "rbf"), n_levels=3,
                              d0=8)
    with pytest.warns(UserWarning, match="'const' dropped"):
        summary, table, result = choose(settings, run["out"], workers=1, progress=False)
    assert (result.n_computed, result.n_cached) == (0, 2)
    assert "(0 computed, 2 cached)" in summary
    first = pd.read_csv(run["out"] / "ranking.csv")
    np.testing.assert_allclose(table["tau"], first["tau"])


def test_without_a_target_tau_is_the_same(run: dict, csv: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "notarget"
    features = tmp_path / "features.csv"
    pd.read_csv(csv).drop(columns="y").to_csv(features, index=False)
    assert main([str(features), "--out", str(out), *FAST[:4], "--contexts", "knn", "--workers",
                 "1", "--no-progress"]) == 0
    table = pd.read_csv(out / "ranking.csv")
    assert "err_star" not in table.columns
    with_target = pd.read_csv(run["out"] / "ranking.csv")
    np.testing.assert_allclose(table["tau"], with_target[with_target["context"] == "knn"]["tau"])
    assert "target: none" in capsys.readouterr().out


def _frame(path: Path, **cols: object) -> Path:
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("case", "message"), [
    ("extension", "unknown file type '.xlsx'; allowed extensions: .csv"),
    ("missing", "no such file"),
    ("no_features", "no usable feature column"),
    ("target", "--target 'nope' is not a column of"),
    ("rows", "too few rows: --d0 200 and --levels 3 need at least {need} rows"),
    ("context", "unknown context type(s) foo; allowed: rbf, knn, rbf_mask, knn_mask"),
    ("levels", "--levels: must be a positive integer, got 0"),
    ("max_rows", "--max-rows: must be a positive integer, got -5"),
    ("masked", "need at least 2 usable feature columns"),
])
def test_usage_errors_exit_2_before_writing(case: str, message: str, csv: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    data, args = str(csv), ["--target", "y", *FAST]
    if case == "extension":
        data = str(tmp_path / "data.xlsx")
        Path(data).write_text("a,b\n1,2\n")
    elif case == "missing":
        data = str(tmp_path / "absent.csv")
    elif case == "no_features":
        data = str(_frame(tmp_path / "c.csv", k=[1.0] * 60, e=[None] * 60,
                          y=np.arange(60.0)))
    elif case == "target":
        args[1] = "nope"
    elif case == "rows":
        args += ["--d0", "200"]
        message = message.format(need=min_rows(200, 3))
    elif case == "context":
        args += ["--contexts", "knn,foo"]
    elif case == "levels":
        args += ["--levels", "0"]
    elif case == "max_rows":
        args += ["--max-rows", "-5"]
    elif case == "masked":
        data = str(_frame(tmp_path / "m.csv", a=np.arange(60.0) % 7, y=np.arange(60.0)))
        args += ["--contexts", "knn_mask"]
    with pytest.raises(SystemExit) as exc:
        main([data, "--out", str(out), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    if case == "target":
        assert "columns: a, b, colour, const, y" in err
    assert not out.exists()


def test_reads_parquet_like_csv(tmp_path):
    import pandas as pd

    from contexture.choose.core import read_table

    df = pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", None, "b"], "y": [0, 1, 0]})
    df.to_parquet(tmp_path / "d.parquet")
    df.to_csv(tmp_path / "d.csv", index=False)
    a, b = read_table(tmp_path / "d.parquet"), read_table(tmp_path / "d.csv")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_an_interrupted_run_resumes_with_the_missing_cells(csv: Path, tmp_path: Path) -> None:
    # an interrupted run leaves some cells stored and others not: run, drop one stored cell,
    # and rerun in the same folder; only that cell is computed, with the same numbers
    out = tmp_path / "out"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main([str(csv), "--target", "y", "--out", str(out), *FAST]) == 0
    first = pd.read_csv(out / "ranking.csv")
    cells = sorted((out / "cells").rglob("*.json"))
    assert len(cells) == 2
    cells[0].unlink()
    settings = ChooseSettings(path=str(csv), target="y", contexts=("knn", "rbf"), n_levels=3,
                              d0=8)
    with pytest.warns(UserWarning, match="'const' dropped"):
        _, table, result = choose(settings, out, workers=1, progress=False)
    assert (result.n_computed, result.n_cached) == (1, 1)
    np.testing.assert_allclose(table["tau"], first["tau"], rtol=1e-12)
