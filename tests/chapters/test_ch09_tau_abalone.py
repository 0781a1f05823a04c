"""Chapter ch09 (tau on abalone): Sec. 5.2, Figs 3 and 5a.

The explicit-K grid, the sweep cell on a small abalone sample against the natural implementation
and an independent tau, and the tracking statistics against independent computations.
Tolerances are stated per test.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tau_curve
from scipy.stats import spearmanr

from contexture.chapters.ch09_tau_abalone import (
    DATASET,
    SWEEPS,
    build,
    knn_components,
    knn_grid,
    strength_roles,
    tau_abalone_cell,
    top_share,
    tracking,
)
from contexture.evaluation import RIDGE_GRID, evaluate_reference, prepare_dataset
from contexture.sweeps import Sweep

SMALL = dict(n_pretrain_cap=160, n_eval_cap=80, d0=24, seed=3)


# ---- the explicit-K grid ------------------------------------------------------------------------


def test_knn_grid_holds_exactly_the_given_sizes_strongest_first() -> None:
    grid = knn_grid([150, 30, 5], 2924)
    assert grid.context == "knn" and grid.gamma is None and grid.n == 2924
    np.testing.assert_array_equal(grid.k, [5, 30, 150])
    np.testing.assert_array_equal(grid.values, [5.0, 30.0, 150.0])
    np.testing.assert_allclose(grid.neighbourhood, np.array([5, 30, 150]) / 2924, rtol=0)
    assert grid.n_levels == 3


@pytest.mark.parametrize("ks, match", [([], "at least one"), ([5, 5], "repeat"),
                                       ([0, 3], r"ks\[0\] must be an integer in \[1, 50\]"),
                                       ([3, 51], r"ks\[1\] must be an integer in \[1, 50\], "
                                                 r"got 51")])
def test_knn_grid_rejects_bad_sizes(ks, match) -> None:
    with pytest.raises(ValueError, match=match):
        knn_grid(ks, 50)


# ---- the sweep and its cell (real abalone sample; tolerances 1e-8 and 1e-12) --------------------


def test_build_declares_one_cell_per_k() -> None:
    params = dict(ks=[150, 30, 5], ridge_grid=list(RIDGE_GRID), **SMALL)
    sweep = build(params)
    assert isinstance(sweep, Sweep) and SWEEPS["tau_abalone"] is build
    assert sweep.name == "tau_abalone" and len(sweep) == 3
    assert sweep.fixed["dataset"] == DATASET == "abalone" and sweep.fixed["beta"] == 1.0
    with pytest.raises(KeyError, match="ridge_grid"):
        build({k: v for k, v in params.items() if k != "ridge_grid"})
    with pytest.raises(ValueError, match="distinct"):
        build(dict(params, ks=[5, 5]))




@pytest.mark.parametrize("k", [4, 40])
def test_cell_matches_natural_implementation_and_independent_tau(k) -> None:
    rec = tau_abalone_cell(k, ridge_grid=RIDGE_GRID, **SMALL)
    d0 = SMALL["d0"]
    assert rec["d0"] == d0 and rec["s"].shape == (d0 + 1,) and rec["err"].shape == (d0 + 1,)
    assert rec["target_cosine"].shape == (d0,) and rec["n_pretrain"] == 160
    # natural implementation on the same sample and the same one-level grid
    prep = prepare_dataset(DATASET, seed=SMALL["seed"], n_pretrain_cap=160, n_eval_cap=80)
    ref = evaluate_reference(prep, knn_grid([k], prep.n), d0=d0)
    np.testing.assert_allclose(rec["s"], ref["s"][0], atol=1e-8)
    # err_d depends only on span(mu_1..mu_d): compare where that span is determined (a gap
    # s_d > s_{d+1}; K = 4 splits the sample into components, s = 1 repeated)
    gap = np.flatnonzero(rec["s"][:-1] - rec["s"][1:] > 1e-6) + 1
    assert gap.size > d0 // 2
    np.testing.assert_allclose(rec["err"][gap], ref["err"][0][gap], atol=1e-8)
    assert rec["err"][0] == pytest.approx(ref["err"][0][0], abs=1e-12)
    # tau from the singular values, written out independently
    curve = tau_curve(rec["s"], d0)
    np.testing.assert_allclose(rec["tau_curve"], curve, rtol=1e-12)
    assert rec["tau"] == pytest.approx(curve.min(), rel=1e-12)
    assert rec["tau_d_star"] == int(np.argmin(curve)) + 1
    assert rec["d_star"] == int(np.nanargmin(rec["err"][1:])) + 1
    assert rec["err_star"] <= rec["err"][0]
    cos = rec["target_cosine"]
    assert np.all((cos >= 0) & (cos <= 1)) and np.sum(cos**2) <= 1 + 1e-12
    assert rec["residual"] < 1e-8


# ---- tracking statistics (exact: the same integers, floats to 1e-12) ---------------------------


def test_tracking_matches_independent_statistics() -> None:
    rng = np.random.default_rng(0)
    tau_d = 1 + rng.random(40)
    err = rng.random(41)
    t = tracking(tau_d, err)
    assert t.n_d == 40
    assert t.spearman == pytest.approx(spearmanr(tau_d, err[1:]).statistic, abs=1e-12)
    assert t.d_tau == int(np.argmin(tau_d)) + 1 and t.d_err == int(np.argmin(err[1:])) + 1
    assert t.excess == pytest.approx(err[t.d_tau] - err[1:].min(), abs=1e-12)
    assert t.tau_interior == (1 < t.d_tau < 40) and t.err_interior == (1 < t.d_err < 40)
    assert t.tau_rise == pytest.approx(tau_d[-1] - tau_d.min(), abs=1e-12)
    assert t.tau_down_share == pytest.approx(np.mean(tau_d[1:] < tau_d[:-1]), abs=1e-12)


def test_tracking_v_shaped_curves_track() -> None:
    d = np.arange(1, 61, dtype=float)
    tau_d = 1.5 + (d - 20) ** 2 / 1000            # minimum at d = 20
    err = np.r_[1.0, 0.45 + (d - 25) ** 2 / 5000]  # err_0 = 1, minimum at d = 25
    t = tracking(tau_d, err)
    assert t.tau_interior and t.err_interior and not t.tau_monotone
    assert (t.d_tau, t.d_err) == (20, 25)
    assert t.excess == pytest.approx(err[20] - err[25], abs=1e-15)
    assert t.spearman > 0.8


def test_tracking_monotone_curve_with_infinite_start_and_nan_tail() -> None:
    tau_d = np.r_[np.inf, np.inf, np.linspace(9.0, 2.0, 28)]   # s_2 = s_3 = 1
    err = np.r_[1.0, np.linspace(0.8, 0.4, 15), np.linspace(0.41, 0.6, 10), [np.nan] * 6]
    t = tracking(tau_d, err)
    assert t.n_d == 25                           # err is finite for d <= 25 only
    assert t.tau_monotone and t.tau_down_share == 1.0 and not t.tau_interior
    assert t.d_tau == 25 and t.tau_rise == 0.0 and t.d_err == 15
    surrogate = np.where(np.isinf(tau_d[:25]), 1e300, tau_d[:25])  # inf ranks highest
    assert t.spearman == pytest.approx(spearmanr(surrogate, err[1:26]).statistic, abs=1e-12)


def test_tracking_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        tracking([1.5, 1.2], [1.0, np.nan, np.nan])
    with pytest.raises(ValueError, match="NaN"):
        tracking([1.5, np.nan, 1.2], [1.0, 0.9, 0.8, 0.7])


# ---- naming and Fig. 5a summary -----------------------------------------------------------------


def test_strength_roles() -> None:
    assert strength_roles([150, 30, 5]) == {"weak": 150, "moderate": 30, "strong": 5}
    assert strength_roles([5, 150, 30]) == {"weak": 150, "moderate": 30, "strong": 5}
    assert strength_roles([2, 9]) == {"weak": 9, "moderate": 9, "strong": 2}
    with pytest.raises(ValueError, match="2 distinct"):
        strength_roles([7, 7])


def test_top_share() -> None:
    cos = np.array([0.6, 0.0, 0.3, 0.1])
    assert top_share(cos, 1) == pytest.approx(0.36 / 0.46, abs=1e-15)
    assert top_share(cos, 4) == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="top"):
        top_share(cos, 5)
    with pytest.raises(ValueError, match="squared cosines"):
        top_share(np.zeros(3), 1)


def test_knn_components_counts_separated_clusters_and_unit_singular_values() -> None:
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(6, 2)), 100 + rng.normal(size=(7, 2)),
                   -100 + rng.normal(size=(5, 2))])
    assert knn_components(X, 5) == 3   # every cluster has at least 5 points
    assert knn_components(X, 8) == 1 and knn_components(X, 1) == 18
    # on abalone: components - 1 = number of nontrivial s_i equal to 1 (to 1e-9), among the
    # d0 + 1 computed
    prep = prepare_dataset(DATASET, seed=SMALL["seed"], n_pretrain_cap=160, n_eval_cap=80)
    for k in (2, 4, 40):
        rec = tau_abalone_cell(k, ridge_grid=RIDGE_GRID, **SMALL)
        extra = min(knn_components(prep.X_pre, k) - 1, rec["s"].size)
        assert extra == int(np.sum(rec["s"] >= 1 - 1e-9))
