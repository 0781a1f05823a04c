"""CITATION.cff: a valid Citation File Format 1.2.0 file whose preferred citation is the paper."""

from __future__ import annotations

import re
import tomllib

import yaml


def test_citation_file_is_valid_and_prefers_the_icml_paper(root):
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for field in ("message", "title", "version", "type", "license"):
        assert isinstance(cff.get(field), str) and cff[field].strip(), field
    assert cff["type"] in ("software", "dataset")
    # authors: persons (family-names) or entities (name), at least one
    assert cff["authors"] and all(a.get("family-names") or a.get("name") for a in cff["authors"])
    # the version is the package's
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert str(cff["version"]) == project["version"]

    pref = cff["preferred-citation"]
    assert pref["type"] == "conference-paper"
    assert pref["title"] == "Contextures: Representations from Contexts"
    assert pref["year"] == 2025
    assert "International Conference on Machine Learning" in pref["collection-title"]
    families = [a["family-names"] for a in pref["authors"]]
    assert families == ["Zhai", "Yang", "Varıcı", "Tsai", "Kolter", "Ravikumar"]
    assert all(a.get("given-names") for a in pref["authors"])
    assert int(pref["start"]) < int(pref["end"])
    assert any(re.fullmatch(r"arXiv:\d{4}\.\d{5}", str(i["value"]))
               for i in pref["identifiers"])
