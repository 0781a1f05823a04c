"""The results registry of a build: statuses, settings kept out, anchors, golden comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bookbuild.anchors import anchor_for, heading_id, key_anchors
from bookbuild.golden import compare, format_differences, golden_values
from bookbuild.pages import PageError, fill_placeholders, label_role
from bookbuild.receipts import receipt, table_hashes
from bookbuild.registry import gather, rows_csv, rows_json

CHAPTER = '''---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
  language: python
---

# A demo chapter

```{code-cell} ipython3
results.record("n_grid", 7)
```

## The first section

```{code-cell} ipython3
results.record("s1", 0.25, paper=0.25, tol=1e-9)
```

(demo-target)=
### A target

```{code-cell} ipython3
for i in range(2):
    results.record(f"tau_ref_{i}", 1.0)
results.verify("identity", 1.0, 1.0, tol=1e-12)
```

```{prf:theorem} Theorem 6
:label: demo-thm-6
:nonumber:

Text.
```

```{code-cell} ipython3
results.record("corr", 0.61, paper=0.453)
results.record("corr_close", 0.4532, paper=0.453)
```
'''


def _entry(value, *, kind="result", paper=None, tol=None, note=None):
    return {"value": value, "paper": paper, "tol": tol, "note": note, "kind": kind}


@pytest.fixture
def build(tmp_path: Path) -> tuple[Path, Path]:
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "chapters" / "ch99_demo.md").write_text(CHAPTER)
    results = tmp_path / "results"
    results.mkdir()
    entries = {
        "n_grid": _entry(7),                         # a parameter copied in: a setting
        "n_levels": _entry(9, kind="setting"),
        "phrase": _entry("as expected", kind="text"),
        "s1": _entry(0.25, paper=0.25, tol=1e-9),
        "tau_ref_0": _entry(1.0), "tau_ref_1": _entry(1.0),
        "identity": _entry(1e-16, kind="check", tol=1e-12, note="a = b"),
        "identity_lhs": _entry(1.0, kind="side"), "identity_rhs": _entry(1.0, kind="side"),
        "corr": _entry(0.61, paper=0.453),
        "corr_close": _entry(0.4532, paper=0.453),
    }
    prov = {"commit": "abc", "profile": "smoke", "seed": 0,
            "parameters": {"profile": "smoke", "n_grid": 7}}
    (results / "ch99_demo.json").write_text(json.dumps(
        {"chapter": "ch99_demo", "provenance": prov, "results": entries}))
    return book, results


def test_rows_statuses_and_settings_left_out(build):
    book, results = build
    [chapter] = gather(results, book)
    rows = {r.key: r for r in chapter.rows}
    assert set(rows) == {"s1", "tau_ref_0", "tau_ref_1", "identity", "corr", "corr_close"}
    assert rows["s1"].status == "reproduced"
    assert rows["identity"].status == "verified" and (rows["identity"].lhs, rows["identity"].rhs
                                                      ) == (1.0, 1.0)
    assert rows["tau_ref_1"].status == "not in the paper"
    # no recorded tolerance: half a unit of the paper's last printed digit
    assert rows["corr"].status == "differs" and rows["corr"].tol == pytest.approx(5e-4)
    assert rows["corr_close"].status == "reproduced"
    assert rows["corr"].difference == pytest.approx(0.61 - 0.453)


def test_each_key_links_to_the_nearest_anchor_above_it(build):
    book, results = build
    [chapter] = gather(results, book)
    sections = {r.key: r.section for r in chapter.rows}
    assert sections["s1"] == "ch99_demo#the-first-section"
    assert sections["tau_ref_1"] == "ch99_demo#demo-target"  # an f-string key
    assert sections["identity"] == "ch99_demo#demo-target"
    assert sections["corr"] == "ch99_demo#demo-thm-6"
    patterns = key_anchors(book / "chapters" / "ch99_demo.md")
    assert anchor_for("n_grid", patterns) == ""  # above every anchor: the top of the page
    assert heading_id("The $d=1$ landscape") == "the-d-1-landscape"


def test_json_and_csv_exports_carry_every_row_and_its_provenance(build):
    book, results = build
    chapters = gather(results, book)
    data = json.loads(rows_json(chapters))
    assert [r["id"] for r in data["results"]][:2] == ["ch99_demo-s1", "ch99_demo-tau_ref_0"]
    assert data["results"][0]["cite"] == "ch99_demo/s1"
    assert data["results"][0]["commit"] == "abc" and len(data["results"][0]["params_hash"]) == 12
    lines = rows_csv(chapters).splitlines()
    assert len(lines) == 1 + 6 and lines[0].startswith("id,cite,chapter,key")


def test_golden_comparison_flags_changes_missing_and_new_keys(build):
    book, results = build
    chapters = gather(results, book)
    golden = golden_values(chapters)
    assert compare(golden, chapters) == []
    assert golden["ch99_demo"]["identity"]["tol"] == pytest.approx(1e-12)  # the check's own
    assert golden["ch99_demo"]["corr"]["tol"] == pytest.approx(1e-9 + 1e-6 * 0.61)
    golden["ch99_demo"]["corr"]["value"] = 0.62
    golden["ch99_demo"]["gone"] = {"value": 1.0, "tol": 1e-9}
    del golden["ch99_demo"]["s1"]
    # a round-off change of a check's gap is not a change
    golden["ch99_demo"]["identity"]["value"] = 3e-16
    diffs = compare(golden, chapters)
    assert {(d.key, d.what) for d in diffs} == {("corr", "changed"), ("gone", "missing"),
                                                ("s1", "new")}
    text = format_differences(diffs)
    assert "ch99_demo/corr: 0.62 -> 0.61" in text and "1 missing" in text


def test_golden_comparison_of_text_nan_and_lists():
    from bookbuild.golden import _agrees

    assert _agrees("decreasing", "decreasing", None) and not _agrees("a", "b", None)
    assert _agrees(math.nan, math.nan, 1e-9) and not _agrees(math.nan, 1.0, 1e-9)
    assert _agrees([1.0, 2.0], [1.0, 2.0 + 1e-12], 1e-9)
    assert not _agrees([1.0, 2.0], [1.0], 1e-9)


def test_placeholders_and_section_labels_resolve_or_say_why(build):
    book, results = build
    chapters = gather(results, book)
    text = "gap [[ch99_demo/corr|.2f]] and [[ch99_demo/identity_lhs]]; [[ch01_x/y]]"
    assert fill_placeholders(text, chapters, where="demo") == (
        "gap 0.61 and 1.000; (not computed in this build)")
    with pytest.raises(PageError, match=r"\[\[ch99_demo/nope\]\] was not recorded"):
        fill_placeholders("[[ch99_demo/nope]]", chapters, where="demo")
    assert label_role(book, "ch99_demo#demo-thm-6") == ("prf:ref", "ch99_demo", "demo-thm-6")
    assert label_role(book, "ch99_demo#demo-target")[0] == "ref"
    assert label_role(book, "ch99_demo")[0] == "doc"
    with pytest.raises(PageError, match="not defined"):
        label_role(book, "ch99_demo#missing")
    with pytest.raises(PageError, match="no chapter"):
        label_role(book, "ch98_none#x")


def test_receipt_hashes_figures_and_tables(tmp_path):
    import hashlib

    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("t")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "t"})]
    nb.cells = [nbformat.v4.new_markdown_cell("x"), cell]
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "a.png").write_bytes(b"png")
    results_file = tmp_path / "r.json"
    results_file.write_text(json.dumps({"provenance": {"device": "cpu (test)", "packages": {
        "numpy": "2"}, "numpy_dtype": "float64", "torch_dtype": "not used"}}))
    r = receipt(chapter="ch99_demo", params={"profile": "smoke", "seed": 3, "data_seed": 1},
                commit="abc", runtime_s=1.5, executed_at="now", library_hash="lib",
                library_modules=["contexture.spectra"], lock_hash="lock", data_hash="data",
                results_file=results_file, figures_dir=figures, notebook=nb)
    assert r["seeds"] == {"seed": 3, "data_seed": 1} and r["device"] == "cpu (test)"
    assert r["figures"]["a.png"] == hashlib.sha256(b"png").hexdigest()
    assert list(table_hashes(nb)) == ["cell1"]
    assert r["tables"]["cell1"] == hashlib.sha256(
        b"<table><tr><td>1</td></tr></table>").hexdigest()


def test_table_cells_keep_pipes_inside_math_and_text_from_splitting_the_row():
    from bookbuild.pages import _table_cell

    assert _table_cell(r"with $|\mu_i|\le c$ and a|b") == (
        r"with $\vert{}\mu_i\vert{}\le c$ and a\|b")
