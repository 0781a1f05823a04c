"""The ARFF adapter of data_scripts (liac-arff → typed DataFrame): quoting, missing, sparse rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_scripts.arff_frame import parse_arff, read_arff

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
    assert d.attributes[0].values == ()
    f = d.frame
    assert f.shape == (3, 5)
    assert list(f.columns) == [a.name for a in d.attributes]
    assert f["age of wife"].dtype == np.float64 and f["weight"].dtype == np.float64
    assert all(f[c].dtype == pd.StringDtype() for c in ("colour", "note", "class"))
    np.testing.assert_array_equal(f["age of wife"].to_numpy(), [24.0, np.nan, 31.0])
    np.testing.assert_array_equal(f["weight"].to_numpy(), [1.5, np.nan, 2.25])
    assert list(f["colour"]) == ["red", "dark green", "blue"]
    assert f["note"].iloc[0] == "hello, world" and f["note"].isna().iloc[2]
    assert list(f["class"]) == ["+", "-", "-"]


def test_double_quotes_escapes_and_padding():
    text = ('@relation r\n@attribute "a b" {"x y",\' z \'}\n@attribute n numeric\n'
            '@attribute s string\n@data\n"x y",1,\'it\\\'s\'\n\' z \',?,\'  pad  \'\n')
    d = parse_arff(text)
    # surrounding whitespace is stripped from declared levels and values alike
    assert d.attributes[0].values == ("x y", "z")
    assert list(d.frame["a b"]) == ["x y", "z"]
    assert list(d.frame["s"]) == ["it's", "pad"]
    np.testing.assert_array_equal(d.frame["n"].to_numpy(), [1.0, np.nan])


def test_sparse_arff_fills_zero_and_first_level():
    f = parse_arff(SPARSE).frame
    np.testing.assert_array_equal(f["a"].to_numpy(), [1.5, 0.0, 0.0])
    np.testing.assert_array_equal(f["b"].to_numpy(), [0.0, 2.0, 0.0])
    assert list(f["c"]) == ["y", "x", "x"]


def test_sparse_missing_value():
    f = parse_arff("@relation s\n@attribute a numeric\n@attribute c {x,y}\n@data\n"
                   "{0 ?, 1 y}\n{1 ?}\n").frame
    np.testing.assert_array_equal(f["a"].to_numpy(), [np.nan, 0.0])
    assert f["c"].iloc[0] == "y" and f["c"].isna().iloc[1]


def test_empty_data_section_keeps_typed_columns():
    d = parse_arff("@relation e\n@attribute a numeric\n@attribute c {x,y}\n@data\n")
    assert d.frame.shape == (0, 2)
    assert d.frame["a"].dtype == np.float64 and d.frame["c"].dtype == pd.StringDtype()


def test_read_arff_from_file(tmp_path):
    path = tmp_path / "tiny.arff"
    path.write_text(DENSE, encoding="utf-8")
    from_file = read_arff(path)
    pd.testing.assert_frame_equal(from_file.frame, parse_arff(DENSE).frame)
    assert from_file.attributes == parse_arff(DENSE).attributes


@pytest.mark.parametrize(("text", "match"), [
    ("@relation r\n@attribute a numeric\n1\n", "layout"),  # no @data
    ("@relation r\n@data\n1\n", "layout"),  # no attributes
    ("@relation r\n@attribute a relational\n@data\n", "type"),
    ("@relation r\n@attribute d date\n@data\n", "type"),
    ("@relation r\n@attribute a {x,y}\n@data\nz\n", "nominal"),
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1\n", "line"),
    ("@relation r\n@attribute a numeric\n@data\nabc\n", "numerical"),
])
def test_malformed_arff_is_rejected(text, match):
    with pytest.raises(ValueError, match=f"(?i)invalid ARFF.*{match}"):
        parse_arff(text)
