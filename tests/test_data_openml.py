"""The OpenML download path against a fake OpenML server on 127.0.0.1 (never the network).

The server answers the three REST calls the code makes (task → dataset description → ARFF file)
with tiny hand-written payloads, and can be told to lie about the md5 or to cut a download short.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from contexture import data
from data_scripts import openml
from data_scripts.prepare import main, prepare

ABALONE_ARFF = """% tiny abalone-like file
@relation abalone-tiny
@attribute id numeric
@attribute Sex {M,F,I}
@attribute Length numeric
@attribute Diameter numeric
@attribute junk string
@attribute Rings integer
@data
1,M,0.455,0.365,a,15
2,F,0.35,?,b,7
3,I,0.53,0.42,c,9
4,M,0.44,0.365,d,10
5,I,0.33,0.255,e,?
6,F,0.425,0.3,f,8
7,M,0.53,0.415,g,20
"""

DIABETES_ARFF = """@relation diabetes-tiny
@attribute preg numeric
@attribute plas numeric
@attribute class {tested_negative,tested_positive}
@data
6,148,tested_positive
1,85,tested_negative
8,183,tested_positive
1,89,tested_negative
0,137,tested_positive
"""


class FakeOpenML:
    """Routes and behaviour switches of the fake server; ``hits`` counts requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.routes: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.base = ""

    def add_task(self, tid: int, did: int, target: str, task_type: str, arff: str,
                 *, md5: str | None = None, **desc: object) -> None:
        file_path = f"/data/v1/download/{did}/file.arff"
        body = arff.encode()
        self.routes[f"/api/v1/json/task/{tid}"] = json.dumps({"task": {
            "task_id": str(tid), "task_type": task_type,
            "input": [{"name": "source_data",
                       "data_set": {"data_set_id": str(did), "target_feature": target}},
                      {"name": "estimation_procedure", "estimation_procedure": {}}]}}).encode()
        self.routes[f"/api/v1/json/data/{did}"] = json.dumps({"data_set_description": {
            "id": str(did), "name": f"d{did}", "version": "2", "format": "ARFF",
            "url": self.base + file_path, "licence": "Public",
            "md5_checksum": md5 or hashlib.md5(body).hexdigest(), **desc}}).encode()
        self.routes[file_path] = body


@pytest.fixture
def fake_openml(monkeypatch):
    state = FakeOpenML()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            state.hits[self.path] += 1
            body = state.routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path in state.truncate:
                self.wfile.write(body[: len(body) // 2])  # then close: a cut-off download
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.delenv(data.paths.MIRROR_ENV, raising=False)
    monkeypatch.delenv(openml.OPENML_URL_ENV, raising=False)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _api(state: FakeOpenML) -> str:
    return state.base + "/api/v1/json"


def _abalone(state: FakeOpenML, **kw: object) -> None:
    state.add_task(361234, 44956, "Rings", "Supervised Regression", ABALONE_ARFF,
                   row_id_attribute="id", ignore_attribute=["junk"], **kw)


def test_prepare_from_openml_end_to_end(fake_openml, tmp_path):
    _abalone(fake_openml)
    (r,) = prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml))
    assert r.status == "built", r.message
    table = data.load_canonical("abalone", data_dir=tmp_path)
    assert table.feature_names == ["Sex", "Length", "Diameter"]  # id and junk dropped
    assert table.n_rows == 6  # the row with a missing target is dropped
    np.testing.assert_array_equal(table.y, [15, 7, 9, 10, 8, 20])
    assert table.categories == {"Sex": ["M", "F", "I"]}
    prov = table.provenance
    assert prov["source"] == "openml" and prov["openml"]["task_id"] == 361234
    assert prov["openml"]["dataset_id"] == 44956 and prov["openml"]["dataset_version"] == 2
    raw = tmp_path / "abalone" / prov["raw_files"][0]["path"]
    assert raw.read_text() == ABALONE_ARFF
    assert prov["raw_files"][0]["sha256"] == hashlib.sha256(ABALONE_ARFF.encode()).hexdigest()
    assert prov["dropped_rows"] == 1 and set(prov["dropped_columns"]) == {"id", "junk"}
    assert "rows: 6 vs 4177 in Table 1 (-4171)" in prov["differences_vs_paper"]
    ds = data.load("abalone", seed=0, data_dir=tmp_path)
    assert ds.X.shape == (6, 5) and ds.feature_names[:3] == ("Sex=M", "Sex=F", "Sex=I")


def test_prepare_is_idempotent_and_offline_once_done(fake_openml, tmp_path):
    _abalone(fake_openml)
    prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml))
    before = sum(fake_openml.hits.values())
    (r,) = prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml))
    assert r.status == "ok" and sum(fake_openml.hits.values()) == before  # no request at all
    # --force re-resolves the task but reuses the md5-verified cached ARFF
    (r,) = prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml), force=True)
    assert r.status == "built"
    assert fake_openml.hits["/data/v1/download/44956/file.arff"] == 1
    assert data.load_canonical("abalone", data_dir=tmp_path).provenance["openml"]["cached"]


def test_md5_mismatch_refuses_download_and_keeps_good_copy(fake_openml, tmp_path):
    _abalone(fake_openml)
    prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml))
    folder = tmp_path / "abalone"
    good = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    raw_dir = folder / "raw"
    for p in raw_dir.iterdir():  # force a fresh download
        p.unlink()
    _abalone(fake_openml, md5="0" * 32)
    (r,) = prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml), force=True)
    assert r.status == "failed" and "ChecksumError" in r.message and "md5" in r.message
    assert list(raw_dir.iterdir()) == []  # nothing under the final name, no temporaries
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == good


def test_cut_off_download_leaves_nothing(fake_openml, tmp_path):
    _abalone(fake_openml)
    fake_openml.truncate.add("/data/v1/download/44956/file.arff")
    (r,) = prepare(["abalone"], data_dir=tmp_path, openml_url=_api(fake_openml))
    assert r.status == "failed" and "DownloadError" in r.message
    folder = tmp_path / "abalone"
    leftovers = [p for p in folder.rglob("*") if p.is_file()]
    assert leftovers == []


def test_download_helper_writes_atomically(fake_openml, tmp_path):
    fake_openml.routes["/blob"] = b"x" * 100_000
    dest = tmp_path / "sub" / "blob.bin"
    info = openml.download(fake_openml.base + "/blob", dest,
                           md5=hashlib.md5(b"x" * 100_000).hexdigest())
    assert info["bytes"] == 100_000 and dest.read_bytes() == b"x" * 100_000
    with pytest.raises(data.DownloadError, match="404"):
        openml.download(fake_openml.base + "/missing", tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists()


def test_cli_classification_task(fake_openml, tmp_path, capsys):
    fake_openml.add_task(37, 37, "class", "Supervised Classification", DIABETES_ARFF)
    rc = main(["--only", "diabetes", "--data-dir", str(tmp_path),
               "--openml-url", _api(fake_openml)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "built" in out and "diabetes" in out
    ds = data.load("diabetes", data_dir=tmp_path)
    assert ds.classes == ("tested_negative", "tested_positive")
    np.testing.assert_array_equal(ds.y, [1, 0, 1, 0, 1])


def test_task_type_mismatch_and_unknown_name(fake_openml, tmp_path, capsys):
    fake_openml.add_task(37, 37, "class", "Supervised Regression", DIABETES_ARFF)
    (r,) = prepare(["diabetes"], data_dir=tmp_path, openml_url=_api(fake_openml))
    assert r.status == "failed" and "Supervised Classification" in r.message
    assert main(["--only", "nope", "--data-dir", str(tmp_path)]) == 2
    assert "must be one of" in capsys.readouterr().err


def test_unreachable_server_fails_cleanly_and_fast(tmp_path, monkeypatch):
    monkeypatch.delenv(data.paths.MIRROR_ENV, raising=False)
    # port 9 on 127.0.0.1 (discard) is closed on test machines: connection refused at once
    r1, r2 = prepare(["abalone", "diabetes"], data_dir=tmp_path,
                     openml_url="http://127.0.0.1:9/api", timeout=5)
    assert r1.status == "failed" and "OpenMLUnreachable" in r1.message
    assert r2.status == "failed" and r2.message.startswith("skipped: OpenML is unreachable")
    assert "--mirror" in r2.message
    assert not (Path(tmp_path) / "abalone" / "canonical.npz").exists()
