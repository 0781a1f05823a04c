"""The sweep engine: grids, keys and code hashes, the resumable store, local/Dask runs, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest

from contexture.sweeps import (
    CorruptCellWarning,
    Grid,
    Sweep,
    SweepFailed,
    code_hash,
    default_store,
    module_closure,
    run_sweep,
)

FIXTURE_BOOK = Path(__file__).parent / "fixture_book"

# Cells live in a module written to a temporary folder on sys.path, so that worker processes
# (local pool, Dask, a subprocess) import them by name as they would a chapter companion.
CELLS = '''
import os
import time

import numpy as np

from contexture.base.checks import check_int


def square(i, offset=0, scale=1):
    i = check_int("i", i, lo=0)
    return {"y": scale * i * i + offset, "vec": np.arange(3) * i, "label": f"i{i}",
            "pair": [i, i + 1], "half": i / 2}


def slow(i):
    time.sleep(float(os.environ.get("SWEEPS_TEST_DELAY", "0")))
    return {"y": i * i}


def flaky(i):
    if i in (1, 3):
        raise ValueError(f"planted failure at i={i}")
    return {"y": i}


def dies(i):
    if i == 2:
        os._exit(3)  # a worker crash (segfault, out of memory)
    time.sleep(0.05)
    return {"y": i}


def repeats_axis(i):
    return {"i": i, "y": 0}


def not_json(i):
    return {"y": object()}


def not_a_dict(i):
    return [i]
'''


@pytest.fixture(scope="session")
def cells(tmp_path_factory: pytest.TempPathFactory):
    """The cells module (a unique name per session), importable here and in child processes."""
    folder = tmp_path_factory.mktemp("cells")
    name = f"sweepcells_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(CELLS)
    sys.path.insert(0, str(folder))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder)] + ([old] if old else []))
    module = __import__(name)
    yield module
    sys.path.remove(str(folder))
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTEXTURE_SWEEP_DIR", raising=False)
    monkeypatch.delenv("CONTEXTURE_SCHEDULER", raising=False)


def _plain(records: list[dict]) -> list[dict]:
    """Records with arrays as (dtype, list), for exact comparison."""
    return [{k: (str(v.dtype), v.tolist()) if isinstance(v, np.ndarray) else v
             for k, v in r.items()} for r in records]


def _cell_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*.json"))


# --- grids -------------------------------------------------------------------------------

def test_grid_is_the_product_in_nested_loop_order():
    g = Grid(dataset=["abalone", "splice"], context=["rbf", "knn"], level=range(3))
    assert len(g) == 12
    points = list(g)
    assert points[0] == {"dataset": "abalone", "context": "rbf", "level": 0}
    assert points[1] == {"dataset": "abalone", "context": "rbf", "level": 1}
    assert points[3] == {"dataset": "abalone", "context": "knn", "level": 0}
    assert points[-1] == {"dataset": "splice", "context": "knn", "level": 2}
    assert list(g) == points  # stable
    assert g.axes == {"dataset": ("abalone", "splice"), "context": ("rbf", "knn"),
                      "level": (0, 1, 2)}


def test_grid_values_are_normalised():
    g = Grid(k=np.arange(2), name="one", pair=[(1, 2)])
    assert list(g) == [{"k": 0, "name": "one", "pair": (1, 2)},
                       {"k": 1, "name": "one", "pair": (1, 2)}]
    assert all(type(p["k"]) is int for p in g)


def test_grid_union_keeps_order_and_drops_repeats():
    a = Grid(model="linear", seed=[0, 1])
    b = Grid(model="mlp", width=[64, 128])
    c = Grid(model="linear", seed=[1, 2])
    u = Grid.union(a, b, c)
    assert list(u) == [
        {"model": "linear", "seed": 0}, {"model": "linear", "seed": 1},
        {"model": "mlp", "width": 64}, {"model": "mlp", "width": 128},
        {"model": "linear", "seed": 2},
    ]
    assert a + b + c == u and len(u) == 5
    assert u.axes == {"model": ("linear", "mlp"), "seed": (0, 1, 2), "width": (64, 128)}
    with pytest.raises(TypeError, match="takes grids"):
        a.union({"model": "x"})


@pytest.mark.parametrize(("axes", "error", "match"), [
    ({}, ValueError, "at least one axis"),
    ({"x": []}, ValueError, "axis 'x' is empty"),
    ({"x": [[1, 2]]}, TypeError, "not hashable"),
    ({"x": [object()]}, TypeError, "cannot be stored as JSON"),
    ({"x": [1.0, float("nan")]}, ValueError, "must be finite"),
    ({"x": {1, 2}}, TypeError, "ordered sequence"),
    ({"x": [1, 1]}, ValueError, "twice"),
    ({"class": [1]}, ValueError, "Python identifier"),
])
def test_grid_rejects_bad_axes(axes, error, match):
    with pytest.raises(error, match=match):
        Grid(**axes)


# --- keys and the code hash ----------------------------------------------------------------

def test_sweep_validates_its_arguments(cells):
    g = Grid(i=range(3))
    with pytest.raises(ValueError, match="lambda or a nested function"):
        Sweep("s", lambda i: {"y": i}, g)

    def nested(i):
        return {"y": i}

    with pytest.raises(ValueError, match="nested"):
        Sweep("s", nested, g)
    with pytest.raises(ValueError, match="sweep name"):
        Sweep("../escape", cells.square, g)
    with pytest.raises(TypeError, match="must be a Grid"):
        Sweep("s", cells.square, [{"i": 1}])
    with pytest.raises(ValueError, match="both grid axes and fixed"):
        Sweep("s", cells.square, g, fixed={"i": 1})
    with pytest.raises(TypeError, match="cannot be stored as JSON"):
        Sweep("s", cells.square, g, fixed={"offset": object()})
    with pytest.raises(ValueError, match="cannot be found"):
        Sweep("s", cells.square, g, code=["no_such_module_xyz"])


def test_key_depends_on_name_params_fixed(cells):
    g = Grid(i=range(3))
    s = Sweep("s", cells.square, g, fixed={"offset": 1})
    code = s.code_hash()
    keys = {s.key(p, code) for p in g}
    assert len(keys) == 3
    assert s.key({"i": 0}, code) == Sweep("s", cells.square, g, fixed={"offset": 1}).key({"i": 0})
    assert s.key({"i": 0}) != Sweep("t", cells.square, g, fixed={"offset": 1}).key({"i": 0})
    assert s.key({"i": 0}) != Sweep("s", cells.square, g, fixed={"offset": 2}).key({"i": 0})
    assert s.key({"i": 0}) != Sweep("s", cells.slow, g, fixed={}).key({"i": 0})


def test_key_follows_the_cell_module_source_not_unrelated_modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    tag = uuid.uuid4().hex[:8]
    cellmod, helper, other = (tmp_path / f"{n}_{tag}.py" for n in ("cellmod", "helper", "other"))
    cellmod.write_text(f"import helper_{tag}\n\ndef cell(i):\n    return {{'y': i}}\n")
    helper.write_text("X = 1\n")
    other.write_text("Y = 1\n")
    module = __import__(f"cellmod_{tag}")
    sweep = Sweep("s", module.cell, Grid(i=[1]))
    with_code = Sweep("s", module.cell, Grid(i=[1]), code=[f"helper_{tag}"])
    key, key_code = sweep.key({"i": 1}), with_code.key({"i": 1})
    assert key != key_code

    other.write_text("Y = 2\n")  # unrelated: nothing changes
    assert sweep.key({"i": 1}) == key and with_code.key({"i": 1}) == key_code
    helper.write_text("X = 2\n")  # only in the hash where listed in `code`
    assert sweep.key({"i": 1}) == key and with_code.key({"i": 1}) != key_code
    cellmod.write_text(cellmod.read_text() + "# edited\n")
    assert sweep.key({"i": 1}) != key


def test_closure_follows_lazy_and_relative_imports(tmp_path, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    pkg_name = f"fakepkg_{tag}"
    pkg = tmp_path / pkg_name
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "_SUBMODULES = {'sub': 'sub'}\n_LAZY = {'alpha': 'a', 'delta': 'sub.d'}\n")
    (pkg / "a.py").write_text("def alpha():\n    from . import b\n    return b.X\n")
    (pkg / "b.py").write_text("X = 1\n")
    (pkg / "c.py").write_text("Z = 1\n")  # imported by nobody
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("from ..b import X as delta\n")
    (tmp_path / f"cells_{tag}.py").write_text(
        f"import {pkg_name} as p\n\ndef cell(i):\n    from {pkg_name} import alpha\n"
        f"    return {{'y': alpha() + p.delta}}\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def closure():
        return set(module_closure([f"cells_{tag}"], package=pkg_name, package_dir=pkg))

    assert closure() == {f"cells_{tag}", f"{pkg_name}.a", f"{pkg_name}.b", f"{pkg_name}.sub",
                         f"{pkg_name}.sub.d"}

    def current_hash():
        return code_hash([f"cells_{tag}"], package=pkg_name, package_dir=pkg)

    before = current_hash()
    (pkg / "c.py").write_text("Z = 2\n")
    (pkg / "__init__.py").write_text((pkg / "__init__.py").read_text() + "_LAZY['z'] = 'c'\n")
    assert current_hash() == before
    (pkg / "b.py").write_text("X = 2\n")
    assert current_hash() != before


def test_closure_of_real_library_modules(tmp_path, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    (tmp_path / f"uses_{tag}.py").write_text(
        "def cell(i):\n    from contexture import tau\n    return {'t': tau}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    closure = module_closure([f"uses_{tag}"])
    assert "contexture.metrics.tau" in closure and "contexture.base.checks" in closure
    assert not any(m.startswith(("contexture.learning", "contexture.chapters",
                                 "contexture.runtime")) for m in closure)
    assert "contexture" not in closure  # the root __init__ only maps names


# --- running -------------------------------------------------------------------------------

def test_inline_run_stores_cells_and_a_rerun_computes_nothing(cells, tmp_path):
    sweep = Sweep("sq", cells.square, Grid(i=range(4), scale=[1, 2]), fixed={"offset": 1})
    first = run_sweep(sweep, store=tmp_path, workers=1, progress=False)
    assert (first.n_computed, first.n_cached, first.failed) == (8, 0, [])
    assert first.get(i=3, scale=2)["y"] == 2 * 9 + 1
    np.testing.assert_array_equal(first.get(i=3, scale=2)["vec"], [0, 3, 6])
    files = _cell_files(tmp_path / "sq")
    assert len(files) == 8
    payload = json.loads(files[0].read_text())
    assert payload["fixed"] == {"offset": 1} and set(payload["params"]) == {"i", "scale"}
    assert payload["meta"]["duration_s"] >= 0 and payload["meta"]["finished_at"].endswith("Z")
    assert files[0].parent.name == files[0].stem[:2]

    again = run_sweep(sweep, store=tmp_path, workers=1, progress=False)
    assert (again.n_computed, again.n_cached) == (0, 8)
    assert _plain(again.records) == _plain(first.records)
    table = again.table()
    assert list(table.columns) == ["i", "scale", "y", "label", "half"]  # no arrays or lists
    assert table["y"].tolist() == [r["y"] for r in first.records]

    bigger = Sweep("sq", cells.square, Grid(i=range(5), scale=[1, 2]), fixed={"offset": 1})
    grown = run_sweep(bigger, store=tmp_path, workers=1, progress=False)
    assert (grown.n_computed, grown.n_cached) == (2, 8)


def test_result_get_and_table(cells, tmp_path):
    result = run_sweep(Sweep("g", cells.square, Grid(i=range(3), scale=[1, 2])),
                       store=tmp_path, workers=1, progress=False)
    assert result.get(i=2, scale=1)["y"] == 4
    with pytest.raises(KeyError, match="match"):
        result.get(i=2)
    with pytest.raises(KeyError, match="no record"):
        result.get(i=7, scale=1)
    assert len(result.table()) == 6


def test_default_store_is_under_the_project_root(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    deep = tmp_path / "build" / "smoke" / "work"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert default_store() == tmp_path.resolve() / "build" / "sweeps"
    monkeypatch.setenv("CONTEXTURE_SWEEP_DIR", str(tmp_path / "elsewhere"))
    assert default_store() == (tmp_path / "elsewhere").resolve()


def test_local_pool_matches_in_process(cells, tmp_path):
    sweep = Sweep("pool", cells.square, Grid(i=range(6)), fixed={"scale": 3})
    inline = run_sweep(sweep, store=tmp_path / "a", workers=1, progress=False)
    pooled = run_sweep(sweep, store=tmp_path / "b", workers=2, progress=True)
    assert pooled.n_computed == 6
    assert _plain(pooled.records) == _plain(inline.records)
    metas = [json.loads(p.read_text())["meta"] for p in _cell_files(tmp_path / "b" / "pool")]
    assert {m["backend"] for m in metas} == {"local"}


def test_dask_cluster_matches_local(cells, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    sweep = Sweep("dask", cells.square, Grid(i=range(6), scale=[1, 2]))
    local = run_sweep(sweep, store=tmp_path / "local", workers=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        monkeypatch.setenv("CONTEXTURE_SCHEDULER", cluster.scheduler_address)
        by_address = run_sweep(sweep, store=tmp_path / "dask", progress=True)
        with distributed.Client(cluster, set_as_default=False) as client:
            by_client = run_sweep(sweep, store=tmp_path / "dask2", scheduler=client,
                                  progress=False)
            failing = run_sweep(Sweep("dfail", cells.flaky, Grid(i=range(4))),
                                store=tmp_path / "dask3", scheduler=client, progress=False,
                                raise_on_failure=False)
    assert by_address.n_computed == by_client.n_computed == 12
    assert _plain(by_address.records) == _plain(local.records) == _plain(by_client.records)
    metas = [json.loads(p.read_text())["meta"] for p in _cell_files(tmp_path / "dask" / "dask")]
    assert {m["backend"] for m in metas} == {"dask"}
    assert [f.params for f in failing.failed] == [{"i": 1}, {"i": 3}]
    assert "planted failure at i=3" in failing.failed[1].traceback


def test_failing_cells_are_reported_and_the_others_stored(cells, tmp_path, capsys):
    sweep = Sweep("flaky", cells.flaky, Grid(i=range(5)))
    with pytest.raises(SweepFailed) as info:
        run_sweep(sweep, store=tmp_path, workers=1, progress=False)
    message = str(info.value)
    assert "2 of 5 cells" in message
    assert "(i=1): ValueError: planted failure at i=1" in message
    assert "(i=3): ValueError: planted failure at i=3" in message
    assert "Traceback" in capsys.readouterr().err
    assert len(_cell_files(tmp_path / "flaky")) == 3
    assert [r["i"] for r in info.value.result.records] == [0, 2, 4]

    result = run_sweep(sweep, store=tmp_path, workers=2, progress=False, raise_on_failure=False)
    assert (result.n_computed, result.n_cached) == (0, 3)
    assert [f.params for f in result.failed] == [{"i": 1}, {"i": 3}]
    assert "flaky" in result.failed[0].traceback
    with pytest.raises(KeyError, match="that cell failed: ValueError"):
        result.get(i=1)


@pytest.mark.parametrize(("cell", "match"), [
    ("repeats_axis", "repeats the grid axes"),
    ("not_json", "has type object"),
    ("not_a_dict", "must return a dict"),
])
def test_bad_records_are_cell_failures(cells, tmp_path, cell, match):
    result = run_sweep(Sweep("bad", getattr(cells, cell), Grid(i=[0])), store=tmp_path,
                       workers=1, progress=False, raise_on_failure=False)
    assert len(result.failed) == 1 and match in result.failed[0].error
    assert _cell_files(tmp_path / "bad") == []


def test_run_sweep_validates_before_running(cells, tmp_path):
    sweep = Sweep("v", cells.square, Grid(i=[0]))
    for workers in (-1, 0, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            run_sweep(sweep, store=tmp_path, workers=workers, progress=False)
    with pytest.raises(ValueError, match="Dask scheduler address"):
        run_sweep(sweep, store=tmp_path, scheduler="cluster-7", progress=False)
    with pytest.raises(TypeError, match="scheduler must be"):
        run_sweep(sweep, store=tmp_path, scheduler=42, progress=False)
    with pytest.raises(TypeError, match="must be a Sweep"):
        run_sweep("v", store=tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="store must be a folder"):
        run_sweep(sweep, store=tmp_path / "file", progress=False)
    assert not (tmp_path / "v").exists()


def test_corrupt_cell_files_are_recomputed(cells, tmp_path):
    sweep = Sweep("c", cells.square, Grid(i=range(4)))
    first = run_sweep(sweep, store=tmp_path, workers=1, progress=False)
    files = _cell_files(tmp_path / "c")
    files[0].write_text(files[0].read_text()[:40])  # truncated
    payload = json.loads(files[1].read_text())
    payload["record"]["y"] = -1  # altered: fails the checksum
    files[1].write_text(json.dumps(payload))
    with pytest.warns(CorruptCellWarning) as caught:
        again = run_sweep(sweep, store=tmp_path, workers=1, progress=False)
    assert len(caught) == 2
    assert (again.n_computed, again.n_cached) == (2, 2)
    assert _plain(again.records) == _plain(first.records)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptCellWarning)
        assert run_sweep(sweep, store=tmp_path, workers=1, progress=False).n_cached == 4


def test_resume_after_a_killed_run(cells, tmp_path):
    n = 10
    script = textwrap.dedent(f"""
        from contexture.sweeps import Grid, Sweep, run_sweep
        from {cells.__name__} import slow
        run_sweep(Sweep("resume", slow, Grid(i=range({n}))), store={str(tmp_path)!r},
                  workers=1, progress=False)
    """)
    env = {**os.environ, "SWEEPS_TEST_DELAY": "0.4"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = tmp_path / "resume"
    try:
        for _ in range(1200):  # up to a minute: a guard, not a timing assertion
            if len(_cell_files(folder)) >= 3 or proc.poll() is not None:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = len(_cell_files(folder))
    assert 3 <= done < n

    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptCellWarning)  # no half-written cell is read
        result = run_sweep(Sweep("resume", cells.slow, Grid(i=range(n))), store=tmp_path,
                           workers=1, progress=False)
    assert (result.n_cached, result.n_computed) == (done, n - done)
    assert [r["y"] for r in result.records] == [i * i for i in range(n)]


def test_ctrl_c_keeps_finished_cells_and_reraises(cells, tmp_path):
    n = 20
    script = textwrap.dedent(f"""
        from contexture.sweeps import Grid, Sweep, run_sweep
        from {cells.__name__} import slow
        run_sweep(Sweep("intr", slow, Grid(i=range({n}))), store={str(tmp_path)!r},
                  workers=2, progress=False)
    """)
    env = {**os.environ, "SWEEPS_TEST_DELAY": "0.3"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "intr"
    for _ in range(1200):  # a guard, not a timing assertion
        if len(_cell_files(folder)) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # like Ctrl-C in a notebook: the submitting process only
    _, err = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in err and proc.returncode != 0, err
    done = len(_cell_files(folder))
    assert 2 <= done < n
    result = run_sweep(Sweep("intr", cells.slow, Grid(i=range(n))), store=tmp_path, workers=1,
                       progress=False)
    assert (result.n_cached, result.n_computed) == (done, n - done)


def test_a_crashed_worker_fails_its_cells_and_the_pool_goes_on(cells, tmp_path):
    result = run_sweep(Sweep("dies", cells.dies, Grid(i=range(8))), store=tmp_path, workers=2,
                       progress=False, raise_on_failure=False)
    failed = [f.params["i"] for f in result.failed]
    assert 2 in failed and all(f.error.startswith("BrokenProcessPool") for f in result.failed)
    assert 7 in [r["i"] for r in result.records]  # submitted after the crash, to a new pool
    assert len(result.records) + len(failed) == 8


# --- command line --------------------------------------------------------------------------

COMPANION = '''
from contexture.sweeps import Grid, Sweep
from {cells} import flaky, square


def build(params):
    cell = flaky if params["fail"] else square
    return Sweep("hello_grid", cell, Grid(i=range(params["n"])), fixed={{}})


SWEEPS = {{"hello_grid": build}}
'''


def test_cli_runs_a_declared_sweep_into_the_chapter_store(cells, tmp_path, monkeypatch, capsys):
    from bookbuild import sweep as cli
    from bookbuild.__main__ import main

    root = tmp_path / "project"
    shutil.copytree(FIXTURE_BOOK, root / "book")
    (root / "pyproject.toml").write_text("")
    pkg_name = f"fixture_companions_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / "pkgs" / pkg_name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "hello.py").write_text(COMPANION.format(cells=cells.__name__))
    (pkg / "other.py").write_text("X = 1\n")  # declares nothing
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setattr(cli, "COMPANION_PACKAGE", pkg_name)

    assert main(["--root", str(root), "sweep"]) == 0
    assert "hello_grid (hello)" in capsys.readouterr().out
    assert main(["--root", str(root), "sweep", "nope", "--profile", "smoke"]) == 2
    assert "unknown sweep 'nope'; declared sweeps: hello_grid (hello)" in capsys.readouterr().err
    assert main(["--root", str(root), "sweep", "hello_grid", "--profile", "smoke",
                 "-p", "n", "500"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["--root", str(root), "sweep", "hello_grid", "--profile", "smoke",
                 "--scheduler", "nowhere"]) == 2
    assert "Dask scheduler address" in capsys.readouterr().err

    # smoke.yaml sets n = 4; the override makes it 5
    assert main(["--root", str(root), "sweep", "hello_grid", "--profile", "smoke",
                 "-p", "n", "5", "--workers", "1", "--quiet"]) == 0
    assert "5 computed, 0 cached" in capsys.readouterr().out
    store = root / "build" / "sweeps"
    assert len(_cell_files(store / "hello_grid")) == 5

    # The chapter, run from its work folder with the same parameters, only reads the cells.
    work = root / "build" / "smoke" / "work" / "hello"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    build = __import__(f"{pkg_name}.hello", fromlist=["build"]).build
    params = cli.chapter_parameters(root, "hello", "smoke", {"n": 5})
    assert (params["profile"], params["n"], params["fail"]) == ("smoke", 5, False)
    result = run_sweep(build(params), workers=1, progress=False)
    assert (result.n_computed, result.n_cached) == (0, 5)

    assert main(["--root", str(root), "sweep", "hello_grid", "--profile", "smoke",
                 "-p", "fail", "true", "--workers", "1", "--quiet"]) == 1
    assert "(i=1): ValueError: planted failure at i=1" in capsys.readouterr().err
