"""The ARFF reader of data_scripts (OpenML exports): quoting, missing values, sparse rows."""

from __future__ import annotations

import numpy as np
import pytest

from data_scripts.arff import parse_arff

DENSE = """% a comment
@RELATION 'tiny relation'

@attribute 'age of wife' INTEGER
@attribute colour {red,'dark green',blue}
@attribute "weight" real
@attribute note string
@attribute class {'+','-'}

@data
% comment inside data
24,red,1.5,'hello, world','+'
?,'dark green',?,plain,-

31,blue,2.25,?,'-'
"""

SPARSE = """@relation s
@attribute a numeric
@attribute b numeric
@attribute c {x,y}
@data
{0 1.5, 2 y}
{1 2}
{}
"""


def test_dense_arff_with_quotes_and_missing():
    d = parse_arff(DENSE)
    assert d.relation == "tiny relation"
    assert [a.name for a in d.attributes] == ["age of wife", "colour", "weight", "note", "class"]
    assert [a.type for a in d.attributes] == ["numeric", "nominal", "numeric", "string",
                                              "nominal"]
    assert d.attributes[1].values == ("red", "dark green", "blue")
    f = d.frame
    assert f.shape == (3, 5)
    np.testing.assert_array_equal(f["age of wife"].to_numpy(), [24.0, np.nan, 31.0])
    assert list(f["colour"]) == ["red", "dark green", "blue"]
    assert f["note"].iloc[0] == "hello, world" and f["note"].isna().iloc[2]
    assert list(f["class"]) == ["+", "-", "-"]


def test_double_quoted_values():
    text = '@relation r\n@attribute "a b" {"x y",z}\n@attribute n numeric\n@data\n"x y",1\nz,?\n'
    f = parse_arff(text).frame
    assert list(f["a b"]) == ["x y", "z"]
    np.testing.assert_array_equal(f["n"].to_numpy(), [1.0, np.nan])


def test_sparse_arff():
    f = parse_arff(SPARSE).frame
    np.testing.assert_array_equal(f["a"].to_numpy(), [1.5, 0.0, 0.0])
    np.testing.assert_array_equal(f["b"].to_numpy(), [0.0, 2.0, 0.0])
    assert list(f["c"]) == ["y", "x", "x"]


@pytest.mark.parametrize(("text", "match"), [
    ("@relation r\n@attribute a numeric\n1\n", "unexpected line"),
    ("@relation r\n@attribute a numeric\n", "no @data"),
    ("@relation r\n@attribute a relational\n@data\n", "unsupported ARFF attribute type"),
    ("@relation r\n@attribute a {x,y}\n@data\nz\n", "not in its declared set"),
])
def test_malformed_arff_is_rejected(text, match):
    with pytest.raises(ValueError, match=match):
        parse_arff(text)
