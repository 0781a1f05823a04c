"""Companion of ch08_association_real_data: the U-shape rule, the trend statistics, the sweep.

The rule and the statistics are checked on small hand-made curves whose answer is known; the
rank correlations against an independent formula (Pearson's coefficient of the ranks, no ties).
The chapter itself runs in the smoke build of the book.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contexture.chapters.ch08_association_real_data import (
    CONTEXTS,
    SHAPES,
    SWEEPS,
    build_sweep,
    build_weak_sweep,
    curve_shapes,
    error_shape,
    level_trends,
    spearman,
    trend_summary,
)
from contexture.evaluation.sweep import held_datasets

PARAMS = dict(datasets=[], levels=[0, 4, 8, 13, 17, 21, 25, 30, 34], level_chunk=9, d0=256,
              n_pretrain_cap=1000, n_eval_cap=1000, seed=0, n_levels=35, n_masks=10,
              mask_fraction=0.2, lipschitz_n=500)


# ---- the U-shape rule ----------------------------------------------------------------------


@pytest.mark.parametrize(("err", "shape"), [
    ([1.0, 0.8, 0.7, 0.8, 1.0], "U-shaped"),
    ([1.0, 0.8, 0.7, 0.69, 0.68], "decreasing"),      # best at the weak end
    ([1.0, 0.8, 0.7, 0.71, 0.72], "decreasing"),      # weak end within 5 % of the minimum
    ([0.5, 0.6, 0.7, 0.8, 0.9], "increasing"),
    ([0.70, 0.69, 0.70, 0.71, 0.70], "flat"),
])
def test_error_shape_classifies_known_curves(err, shape):
    assert error_shape(err, margin=0.05)["shape"] == shape


def test_error_shape_reports_the_excesses_and_the_minimum():
    out = error_shape([1.2, 0.9, 0.8, 1.0], margin=0.1)
    assert out["best"] == 2 and out["err_min"] == pytest.approx(0.8)
    assert out["strong_excess"] == pytest.approx(0.5)      # 1.2 / 0.8 - 1
    assert out["weak_excess"] == pytest.approx(0.25)       # 1.0 / 0.8 - 1
    assert out["depth"] == pytest.approx(0.25)
    assert out["shape"] == "U-shaped"
    # a larger margin than the shallow end turns the U into a falling curve
    assert error_shape([1.2, 0.9, 0.8, 1.0], margin=0.3)["shape"] == "decreasing"


def test_error_shape_margin_zero_needs_a_strict_interior_minimum():
    assert error_shape([1.0, 0.5, 0.5001], margin=0.0)["shape"] == "U-shaped"
    assert error_shape([1.0, 0.5, 0.5], margin=0.0)["shape"] == "decreasing"  # a tie at the end
    assert error_shape([0.5, 0.5, 0.5], margin=0.0)["shape"] == "flat"


def test_error_shape_drops_nan_and_checks_its_input():
    assert error_shape([1.0, np.nan, 0.7, 0.9])["shape"] == "U-shaped"
    with pytest.raises(ValueError, match="at least 3"):
        error_shape([1.0, np.nan, 0.5])
    with pytest.raises(ValueError, match="positive"):
        error_shape([1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="margin"):
        error_shape([1.0, 0.5, 0.7], margin=-0.1)
    assert set(SHAPES) == {"U-shaped", "decreasing", "increasing", "flat"}


def _table() -> pd.DataFrame:
    """Two datasets x two context types, five levels each, rows deliberately shuffled."""
    curves = {("a", "rbf"): [1.0, 0.8, 0.7, 0.8, 1.0], ("a", "knn"): [1.0, 0.9, 0.8, 0.7, 0.6],
              ("b", "rbf"): [0.5, 0.6, 0.7, 0.8, 0.9], ("b", "knn"): [0.7, 0.7, 0.7, 0.7, 0.7]}
    rows = []
    for (ds, ctx), err in curves.items():
        for lv, e in enumerate(err):
            rows.append({"dataset": ds, "context": ctx, "level": 2 * lv, "err_star": e,
                         "neighbourhood": 0.01 * 2**lv, "value": 10.0 / 2**lv, "d_star": 3,
                         "decay_rate": 0.01 * 3**lv,                       # rises
                         "kernel_deviation": 2.0 - 0.3 * lv,               # falls
                         "lipschitz_scaled": [9.0, 5.0, 6.0, 2.0, 1.0][lv]})  # falls, one swap
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3).reset_index(drop=True)


def test_curve_shapes_sorts_the_levels_and_finds_the_best_level():
    shapes = curve_shapes(_table()).set_index(["dataset", "context"])
    assert shapes.loc[("a", "rbf"), "shape"] == "U-shaped"
    assert shapes.loc[("a", "knn"), "shape"] == "decreasing"
    assert shapes.loc[("b", "rbf"), "shape"] == "increasing"
    assert shapes.loc[("b", "knn"), "shape"] == "flat"
    a = shapes.loc[("a", "rbf")]
    assert (a["best_level"], a["n_levels"]) == (4, 5)
    assert a["best_neighbourhood"] == pytest.approx(0.04)
    assert a["best_value"] == pytest.approx(2.5)
    with pytest.raises(KeyError, match="level"):
        curve_shapes(_table().drop(columns="level"))


# ---- the trend statistics ----------------------------------------------------------------


def _rank_pearson(x, y) -> float:
    """Spearman's coefficient for data without ties: Pearson's coefficient of the ranks."""
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def test_spearman_matches_ranks_and_handles_degenerate_input():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=12), rng.normal(size=12)
    assert spearman(x, y) == pytest.approx(_rank_pearson(x, y), abs=1e-12)
    assert spearman([1, 2, 3, np.nan], [3, 2, 1, 7]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 2, 3], [5, 5, 5]))      # constant: no ranking
    assert np.isnan(spearman([1, 2], [1, 2]))            # too few pairs
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2])


def test_level_trends_and_their_summary():
    trends = level_trends(_table()).set_index(["dataset", "context"])
    np.testing.assert_allclose(trends["decay_rate"], 1.0, atol=1e-12)
    np.testing.assert_allclose(trends["kernel_deviation"], -1.0, atol=1e-12)
    lip = trends["lipschitz_scaled"].iloc[0]
    assert lip == pytest.approx(_rank_pearson(np.arange(5), [9.0, 5.0, 6.0, 2.0, 1.0]))
    summary = trend_summary(trends.reset_index(), "lipschitz_scaled", -1)
    assert summary["n"] == 4 and summary["n_direction"] == 4 and summary["n_monotone"] == 0
    assert summary["median"] == pytest.approx(lip)
    decay = trend_summary(trends.reset_index(), "decay_rate", 1)
    assert decay["n_monotone"] == 4 and decay["min"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sign"):
        trend_summary(trends.reset_index(), "decay_rate", 0)
    with pytest.raises(KeyError):
        level_trends(_table(), measures=("tau",))


def test_trend_summary_of_an_all_nan_column():
    frame = pd.DataFrame({"dataset": ["a"], "context": ["knn"], "decay_rate": [np.nan]})
    s = trend_summary(frame, "decay_rate", 1)
    assert s["n"] == 0 and np.isnan(s["median"])


# ---- the sweep the chapter declares ------------------------------------------------------


def test_declared_sweep_is_the_rbf_knn_half_of_the_shared_sweep():
    assert set(SWEEPS) == {"real_data_association", "real_data_weak_knn"}
    sweep = SWEEPS["real_data_association"](PARAMS)
    assert sweep is not None and sweep.name == "real_data"
    assert CONTEXTS == ("rbf", "knn")
    # every held dataset x 2 context types x one block of 9 levels
    assert len(sweep) == len(held_datasets()) * 2
    assert sweep.fixed["association"] is True
    small = build_sweep({**PARAMS, "datasets": ["diabetes"], "level_chunk": 4})
    assert len(small) == 2 * 3                       # 9 levels in blocks of 4, 4 and 1


def test_weak_sweep_is_knn_on_a_wider_grid():
    params = {**PARAMS, "datasets": ["diabetes", "splice"], "weak_max_fraction": 0.9}
    sweep = SWEEPS["real_data_weak_knn"](params)
    assert sweep.name == "real_data_weak" and len(sweep) == 2          # 2 datasets x 1 block
    assert sweep.fixed["max_fraction"] == 0.9 and "association" not in sweep.fixed
    assert {p["context"] for p in sweep.grid} == {"knn"}
    assert build_weak_sweep(params).name == "real_data_weak"
    with pytest.raises(KeyError, match="weak_max_fraction"):
        build_weak_sweep(PARAMS)
