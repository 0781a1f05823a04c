"""Parameter declaration, profile files and override validation of the pipeline."""

from __future__ import annotations

import pytest
import yaml

from bookbuild.execute import discover_chapters
from bookbuild.params import (
    ParameterError,
    load_profile,
    parse_parameters_cell,
    resolve_parameters,
)

CELL = '''profile = "default"  # choices: smoke, default, paper
n = 200  # range: [10, 5000]
rho = 0.6  # range: (0, 1)
seed = 0  # range: [0, 2**32 - 1]
widths = [64, 128]  # range: [1, 4096]
solver = "dense"  # choices: dense, sparse
verbose = False
'''


@pytest.fixture
def specs():
    return parse_parameters_cell(CELL, chapter="demo")


def test_parse_types_ranges_and_choices(specs):
    assert set(specs) == {"profile", "n", "rho", "seed", "widths", "solver", "verbose"}
    assert specs["n"].lo == 10 and specs["n"].hi == 5000
    assert specs["rho"].lo_open and specs["rho"].hi_open
    assert specs["seed"].hi == 2**32 - 1
    assert specs["solver"].choices == ("dense", "sparse")
    assert specs["rho"].allowed() == "float in (0, 1)"


def test_resolve_merges_defaults_profile_and_overrides(specs):
    out = resolve_parameters(specs, "smoke", {"n": 20}, {"rho": 1 / 2, "widths": [8]},
                             chapter="demo")
    assert out == {"profile": "smoke", "n": 20, "rho": 0.5, "seed": 0, "widths": [8],
                   "solver": "dense", "verbose": False}
    # an int is accepted where a float is declared, and becomes a float
    assert isinstance(resolve_parameters(specs, "smoke", {}, {"rho": 0.25}, chapter="d")["rho"],
                      float)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"nn": 3}, "unknown parameter 'nn'"),
        ({"n": 5}, "parameter 'n' = 5 is invalid (out of range); allowed: int in [10, 5000]"),
        ({"n": 2.5}, "expected an int"),
        ({"n": True}, "expected an int"),
        ({"rho": 1.0}, "out of range"),
        ({"rho": "a"}, "expected a number"),
        ({"widths": [0]}, "out of range"),
        ({"widths": 3}, "expected a list"),
        ({"solver": "magic"}, "not one of the choices"),
        ({"verbose": 1}, "expected a bool"),
    ],
)
def test_bad_overrides_are_rejected_with_clear_messages(specs, override, message):
    with pytest.raises(ParameterError) as info:
        resolve_parameters(specs, "smoke", {}, override, chapter="demo")
    assert message in str(info.value)
    assert "chapter 'demo'" in str(info.value)


def test_unknown_profile_name_is_rejected(specs):
    with pytest.raises(ParameterError, match="profile"):
        resolve_parameters(specs, "huge", {}, {}, chapter="demo")


def test_cell_must_only_hold_literal_assignments():
    with pytest.raises(ParameterError, match="only contain 'name = literal'"):
        parse_parameters_cell('profile = "smoke"\nimport os\n', chapter="x")
    with pytest.raises(ParameterError, match="literal default"):
        parse_parameters_cell('profile = "smoke"\nn = len([1])\n', chapter="x")
    with pytest.raises(ParameterError, match="must declare 'profile'"):
        parse_parameters_cell("n = 1\n", chapter="x")
    with pytest.raises(ParameterError, match="out of range"):
        parse_parameters_cell('profile = "smoke"\nn = 0  # range: [1, 3]\n', chapter="x")
    with pytest.raises(ParameterError, match="papermill cannot parse"):
        parse_parameters_cell('profile = "smoke"\nn = 1  # n >= 1\n', chapter="x")


def test_load_profile_errors(tmp_path):
    with pytest.raises(ParameterError, match="unknown profile 'nope'"):
        load_profile(tmp_path / "nope.yaml")
    bad = tmp_path / "smoke.yaml"
    bad.write_text("profile: default\nchapters: {}\n")
    with pytest.raises(ParameterError, match="'profile' must be 'smoke'"):
        load_profile(bad)


def test_every_profile_lists_every_chapter_with_valid_values(root):
    chapters = discover_chapters(root / "book")
    assert "ch01_contexts" in chapters
    for profile in ("smoke", "default", "paper"):
        values = load_profile(root / "book" / "params" / f"{profile}.yaml")
        assert set(values) == set(chapters), f"{profile}.yaml must list every chapter"
        for name, chapter in chapters.items():
            resolve_parameters(chapter.specs(), profile, values[name], {}, chapter=name)
        raw = yaml.safe_load((root / "book" / "params" / f"{profile}.yaml").read_text())
        assert raw["profile"] == profile
