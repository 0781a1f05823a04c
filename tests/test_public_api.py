"""The public top-level names of :mod:`contexture` resolve, lazily, to the objects they name."""

from __future__ import annotations

import importlib

import pytest

import contexture


@pytest.mark.parametrize("name", contexture.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(contexture, name)
    module = importlib.import_module(f"contexture.{contexture._LAZY[name]}")
    assert value is getattr(module, name)


def test_all_is_the_lazy_map_and_unknown_names_raise() -> None:
    assert contexture.__all__ == sorted(contexture._LAZY)
    assert set(contexture.__all__) <= set(dir(contexture))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        contexture.not_a_name  # noqa: B018


@pytest.mark.parametrize("name", ["base", "metrics", "spectra", "results"])
def test_subpackages_are_attributes(name: str) -> None:
    assert getattr(contexture, name).__name__.startswith("contexture.")
