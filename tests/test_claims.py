"""The claims ledger (book/claims.yaml) and the errata (book/errata.yaml) stay true to the book.

Every numbered statement and experiment of the paper is listed once, in order; every section
link names a label its chapter defines; every listed check is a result the smoke build records
(its golden value exists) and every listed test exists; a corrected statement has an errata
entry whose placeholders name recorded entries.
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from bookbuild.pages import CLAIM_STATUSES, label_role, load_claims, load_errata

STATEMENTS = [
    "Definition 1", "Definition 2", "Lemma 3", "Lemma 4", "Definition 5", "Eq. (1)",
    "Theorem 6", "Theorem 7", "Theorem 8", "Corollary 9", "Theorem 10", "Eq. (2)", "Theorem 11",
    "Eq. (3)", "Theorem 12", "Definition 13", "Theorem 14", "Definition 15", "Theorem 16",
    "Lemma 17", "Eq. (4)", "Lemma 18", "Definition 19", "Proposition 20", "Definition 21",
    "Lemma 22", "Definition 23", "Theorem 24", "Lemma 25",
]
EXPERIMENTS = ["Figure 1", "Figure 2", "Figure 3", "Figure 4", "Figure 5a", "Figure 5b",
               "Figure 6", "Figure 7", "Figure 8", "Figure 9", "Figure 10", "Figure 11",
               "Table 1", "Table 2"]
_PLACEHOLDER = re.compile(r"\[\[([a-z0-9_]+)/([a-z0-9_]+)(?:\|([^\]]+))?\]\]")


@pytest.fixture(scope="module")
def claims(root):
    return load_claims(root / "book")


@pytest.fixture(scope="module")
def golden(root):
    return json.loads((root / "tests" / "golden" / "smoke.json").read_text())["values"]



def test_every_statement_and_experiment_is_listed_once_in_order(claims):
    names = [c["claim"] for c in claims]
    assert names == STATEMENTS + EXPERIMENTS, (
        f"missing {sorted(set(STATEMENTS + EXPERIMENTS) - set(names))}, "
        f"extra {sorted(set(names) - set(STATEMENTS + EXPERIMENTS))}, or out of order")


def test_each_claim_has_a_status_and_says_why_when_not_reproduced(claims):
    for c in claims:
        assert c["status"] in CLAIM_STATUSES, c["claim"]
        if c["status"] != "reproduced":
            assert str(c.get("note") or "").strip(), f"{c['claim']}: a note must say why"
        if c["status"] == "not covered":
            assert not c.get("checks") and not c.get("section"), c["claim"]
        else:
            assert c.get("section") and c.get("checks") and c.get("tests"), (
                f"{c['claim']}: a covered claim names its section, checks and tests")


def test_section_links_name_labels_their_chapters_define(claims, root):
    for c in claims:
        if c.get("section"):
            label_role(root / "book", c["section"])  # raises with the reason


def test_listed_checks_are_recorded_results_of_the_smoke_build(claims, golden):
    missing = [f"{c['claim']}: {key}" for c in claims for key in c.get("checks") or []
               if key.split("/", 1)[1] not in golden.get(key.split("/", 1)[0], {})]
    assert not missing, ("checks that the smoke build no longer records as results "
                         f"(tests/golden/smoke.json): {missing}")


def test_listed_tests_exist(claims, root):
    defined: dict[str, set[str]] = {}
    missing = []
    for c in claims:
        for test in c.get("tests") or []:
            path, _, name = test.partition("::")
            if path not in defined:
                file = root / path
                tree = ast.parse(file.read_text()) if file.is_file() else ast.Module([], [])
                defined[path] = {n.name for n in ast.walk(tree)
                                 if isinstance(n, ast.FunctionDef) and n.name.startswith("test")}
            if name not in defined[path]:
                missing.append(f"{c['claim']}: {test}")
    assert not missing, f"listed tests that do not exist: {missing}"


def test_errata_match_the_corrected_claims_and_their_numbers_exist(claims, root, golden):
    errata = load_errata(root / "book")
    corrected = [c["claim"] for c in claims if c["status"] == "corrected"]
    assert [e["statement"] for e in errata] == corrected
    chapters_with_entries = {p.stem for p in (root / "build" / "smoke" / "results").glob("*.json")}
    for e in errata:
        for field in ("printed", "counterexample", "corrected"):
            assert str(e.get(field) or "").strip(), f"{e['statement']}: no {field}"
        label_role(root / "book", e["section"])
        keys = _PLACEHOLDER.findall(e["counterexample"])
        assert keys, f"{e['statement']}: the counterexample states no computed number"
        assert not re.search(r"\d\.\d{3,}", _PLACEHOLDER.sub("", e["counterexample"])), (
            f"{e['statement']}: a computed number typed by hand; use [[chapter/key]]")
        for chapter, key, spec in keys:
            # a placeholder may name any recorded entry (a side of a check, a setting)
            path = root / "build" / "smoke" / "results" / f"{chapter}.json"
            if chapter in chapters_with_entries:
                entries = json.loads(path.read_text())["results"]
                assert key in entries, f"{e['statement']}: [[{chapter}/{key}]] is not recorded"
                if spec:
                    format(entries[key]["value"], spec)
            else:
                assert key in golden.get(chapter, {}), f"[[{chapter}/{key}]] unknown"
