"""Companion of ch10_tau_prediction: the paper's Table 1 and the per-dataset correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr

from contexture.chapters.ch10_tau_prediction import (
    PAPER_MEAN,
    PAPER_MEDIAN,
    PAPER_TABLE1,
    SWEEPS,
    correlations,
    side_by_side,
    summarise,
)
from contexture.data import names


def _dcor(x: np.ndarray, y: np.ndarray) -> float:
    """Distance correlation from its definition (double-centred distance matrices)."""
    def centred(v):
        a = squareform(pdist(v[:, None]))
        return a - a.mean(0) - a.mean(1)[:, None] + a.mean()
    a, b = centred(x), centred(y)
    return float(np.sqrt((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean())))


def _levels(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for ds in ("diabetes", "splice"):
        for ctx in ("rbf", "knn"):
            for lv in range(6):
                tau = 1.2 + 0.3 * lv + rng.normal(0, 0.05)
                err = 0.3 + (0.1 if ds == "splice" else -0.05) * tau + rng.normal(0, 0.02)
                rows.append({"dataset": ds, "context": ctx, "level": lv, "tau": tau,
                             "err_star": err})
    return pd.DataFrame(rows)


def test_table1_holds_the_28_datasets_and_its_printed_summary():
    assert set(PAPER_TABLE1) == set(names(table1_only=True))
    values = np.array(list(PAPER_TABLE1.values()))
    # the printed rows are rounded to 3 decimals
    np.testing.assert_allclose(values.mean(axis=0), PAPER_MEAN, atol=1e-3)
    np.testing.assert_allclose(np.median(values, axis=0), PAPER_MEDIAN, atol=1e-3)
    assert int((values[:, 0] > 0.5).sum()) == 16  # "more than half" in Sec. 5.3


def test_correlations_match_independent_formulas():
    levels = _levels(np.random.default_rng(0))
    corr = correlations(levels).set_index("dataset")
    for ds, g in levels.groupby("dataset"):
        t, e = g["tau"].to_numpy(), g["err_star"].to_numpy()
        assert corr.loc[ds, "pearson"] == pytest.approx(pearsonr(t, e).statistic, abs=1e-12)
        assert corr.loc[ds, "dcor"] == pytest.approx(_dcor(t, e), abs=1e-10)
        assert corr.loc[ds, "n_contexts"] == 12
    assert corr.loc["splice", "pearson"] > 0.9 and corr.loc["diabetes", "pearson"] < -0.5


def test_correlations_leave_out_strong_levels_and_non_finite_values():
    levels = _levels(np.random.default_rng(1))
    levels.loc[0, "tau"] = np.nan
    corr = correlations(levels, min_level=2).set_index("dataset")
    assert corr.loc["diabetes", "n_contexts"] == 8 and corr.loc["splice", "n_contexts"] == 8
    full = correlations(levels).set_index("dataset")
    assert full.loc["diabetes", "n_contexts"] == 11
    per_type = correlations(levels, by=("dataset", "context"))
    assert len(per_type) == 4 and set(per_type.columns) >= {"dataset", "context", "pearson"}


def test_side_by_side_and_summary():
    corr = pd.DataFrame({"dataset": ["diabetes", "splice", "fifa"],
                         "pearson": [0.5, 0.9, 0.1], "dcor": [0.6, 0.8, 0.7]})
    table = side_by_side(corr)
    assert list(table["paper_pearson"]) == [0.737, 0.831, -0.349]
    np.testing.assert_allclose(table["diff_dcor"], [0.6 - 0.740, 0.8 - 0.801, 0.7 - 0.663])
    s = summarise(table)
    assert s["ours_mean_pearson"] == pytest.approx(0.5)
    assert s["ours_median_dcor"] == pytest.approx(0.7)
    assert s["paper_median_pearson"] == pytest.approx(0.737)
    with pytest.raises(KeyError, match="not in the paper"):
        side_by_side(pd.DataFrame({"dataset": ["mnist"], "pearson": [0.0], "dcor": [0.0]}))


def test_sweep_is_the_shared_real_data_sweep():
    params = dict(datasets=["diabetes"], levels=[0, 34], level_chunk=2, d0=16,
                  n_pretrain_cap=100, n_eval_cap=50, seed=0, n_levels=35, n_masks=2,
                  mask_fraction=0.2, lipschitz_n=50)
    sweep = SWEEPS["real_data"](params)
    assert sweep.name == "real_data" and len(sweep) == 4


def test_rounded_infinite_tau_is_left_out_and_counted():
    levels = _levels(np.random.default_rng(2))
    levels.loc[0, "tau"] = 4.5e15  # 1 / (1 - s^2) with s = 1 up to rounding
    corr = correlations(levels).set_index("dataset")
    assert corr.loc["diabetes", "n_infinite"] == 1 and corr.loc["diabetes", "n_contexts"] == 11
    assert corr.loc["splice", "n_infinite"] == 0
    kept = levels.drop(index=0)
    g = kept[kept["dataset"] == "diabetes"]
    assert corr.loc["diabetes", "pearson"] == pytest.approx(
        pearsonr(g["tau"], g["err_star"]).statistic, abs=1e-12)
