"""Chapter ch14 (estimating the spectrum from a subsample): App. D, Table 2 and Fig. 7.

The subsamples, the neighbour table, the App. D estimator against a direct dense computation
(and against the exact spectrum when the encoder spans the exact singular functions), the metric
of Table 2, the sweep cells at tiny sizes and the two findings made precise. Tolerances are
stated per test.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import torch
from sklearn.neighbors import NearestNeighbors

from contexture.chapters.ch14_spectrum_subsample import (
    DATASETS,
    FULL,
    PAPER_SIZES,
    PAPER_TABLE2,
    SWEEPS,
    as_good_as_full,
    build,
    build_exact,
    build_reading,
    decay_summary,
    exact_spectrum_cell,
    full_context,
    full_data,
    kernel_diagonal,
    neighbour_table,
    ritz_eigenvalues,
    size_label,
    spectrum_error,
    subsample_cell,
    subsample_indices,
    vicreg_inv_coeff,
)
from contexture.contexts import knn_context, rbf_context
from contexture.operators import kernel_x
from contexture.spectra import svd
from contexture.sweeps import Sweep

TINY = dict(k=8, d0=10, n_cap=150, data_seed=0)
TRAIN = dict(width=24, out_dim=16, steps=6, lr=1e-3, weight_decay=1e-5, batch=64)


def _blobs(n: int = 90, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(n // 3, 3)) + c for c in ([0, 0, 0], [4, 0, 0],
                                                                 [0, 4, 0])])


# ---- the paper's table ---------------------------------------------------------------------


def test_paper_table2_has_the_eighteen_cells() -> None:
    assert set(PAPER_TABLE2) == set(DATASETS) == {"abalone", "fifa", "kings_county"}
    for row in PAPER_TABLE2.values():
        assert list(row) == [*PAPER_SIZES, FULL]
    assert PAPER_TABLE2["abalone"][600] == PAPER_TABLE2["abalone"][FULL] == 0.088
    assert PAPER_TABLE2["kings_county"][100] == 0.278 and PAPER_TABLE2["fifa"][FULL] == 0.131
    assert size_label(FULL) == "full" and size_label(600) == "600"


# ---- data and subsamples -------------------------------------------------------------------


def test_subsample_indices_are_nested_sorted_and_seeded() -> None:
    small, large = subsample_indices(500, 100, 3), subsample_indices(500, 300, 3)
    assert small.size == 100 and large.size == 300 and np.unique(large).size == 300
    assert np.all(np.diff(large) > 0) and set(small) <= set(large)
    np.testing.assert_array_equal(small, subsample_indices(500, 100, 3))
    assert not np.array_equal(small, subsample_indices(500, 100, 4))
    np.testing.assert_array_equal(subsample_indices(50, FULL, 0), np.arange(50))
    np.testing.assert_array_equal(subsample_indices(50, 50, 0), np.arange(50))


@pytest.mark.parametrize("m, match", [(51, r"at most the number of rows n = 50"),
                                      ("half", "positive integer or 'full'"),
                                      (1, r"m must be an integer in \[2, inf\]")])
def test_subsample_indices_rejects_bad_sizes(m, match) -> None:
    with pytest.raises(ValueError, match=match):
        subsample_indices(50, m, 0)


def test_full_data_caps_with_a_seeded_subset_in_order() -> None:
    whole = full_data("abalone")
    assert whole.shape == (4177, 10)
    capped = full_data("abalone", n_cap=120, seed=2)
    assert capped.shape == (120, 10)
    rows = [int(np.flatnonzero((whole == r).all(axis=1))[0]) for r in capped[:20]]
    assert rows == sorted(rows)                         # original order kept
    np.testing.assert_array_equal(capped, full_data("abalone", n_cap=120, seed=2))


def test_neighbour_table_is_the_knn_support_self_first_possible() -> None:
    X = _blobs()
    ctx = knn_context(X, 7)
    nb = neighbour_table(ctx)
    assert nb.shape == (90, 7)
    ref = NearestNeighbors(n_neighbors=7).fit(X).kneighbors(X, return_distance=False)
    for i in range(90):
        assert set(nb[i]) == set(ref[i]) and i in nb[i]
    with pytest.raises(TypeError, match="KNNContext"):
        neighbour_table(rbf_context(X, 1.0))


# ---- the App. D estimator (tolerances 1e-9 / 1e-10) ----------------------------------------


def _dense_ritz(phi: np.ndarray, K: np.ndarray, w: np.ndarray) -> np.ndarray:
    """App. D written out densely: C = Cov_w[phi], B = phi~^T W K W phi~, eig(B, C)."""
    Fc = phi - w @ phi
    C = Fc.T @ (w[:, None] * Fc)
    B = Fc.T @ (w[:, None] * (K @ (w[:, None] * Fc)))
    return sla.eigh(B, C, eigvals_only=True)[::-1]


def test_ritz_eigenvalues_match_the_dense_formula_and_interlace() -> None:
    X = _blobs()
    ctx = knn_context(X, 9)
    phi = np.random.default_rng(1).normal(size=(90, 12))
    lam = ritz_eigenvalues(phi, ctx, ridge=0.0)
    w = np.full(90, 1 / 90)
    np.testing.assert_allclose(lam, _dense_ritz(phi, np.asarray(kernel_x(ctx).todense()), w),
                               rtol=0, atol=1e-10)
    s2 = svd(ctx, 30).s[1:] ** 2
    assert np.all(lam <= s2[:12] + 1e-10)             # Poincaré separation theorem


def test_ritz_eigenvalues_are_exact_on_the_exact_singular_functions() -> None:
    X = _blobs()
    ctx = knn_context(X, 9)
    system = svd(ctx, 20)
    lam = ritz_eigenvalues(system.mu[:, 1:16], ctx, ridge=0.0)
    np.testing.assert_allclose(lam, system.s[1:16] ** 2, rtol=0, atol=1e-10)
    assert spectrum_error(lam, system.s[1:] ** 2, 15) < 1e-10
    # the default relative ridge 1e-8 lowers each value by about that fraction, never raises it
    shrunk = ritz_eigenvalues(system.mu[:, 1:16], ctx)
    assert np.all(shrunk <= lam) and np.all(lam - shrunk <= 1e-7)


def test_ritz_eigenvalues_on_a_subsample_use_the_full_kernel_between_its_points() -> None:
    X = _blobs()
    ctx = knn_context(X, 9)
    phi = np.random.default_rng(2).normal(size=(90, 8))
    rows = np.arange(0, 90, 3)
    lam = ritz_eigenvalues(phi, ctx, rows, ridge=0.0)
    K = np.asarray(kernel_x(ctx).todense())[np.ix_(rows, rows)]
    np.testing.assert_allclose(lam, _dense_ritz(phi[rows], K, np.full(30, 1 / 30)), rtol=0,
                               atol=1e-9)
    # the diagonal of the V-statistic: with phi ~ white noise, B ~ mean k(x, x) / m * C
    assert kernel_diagonal(ctx, rows) == pytest.approx(np.diag(K).mean(), rel=1e-12)


def test_ritz_eigenvalues_reject_bad_input() -> None:
    ctx = knn_context(_blobs(), 5)
    with pytest.raises(ValueError, match="one row per point"):
        ritz_eigenvalues(np.ones((10, 3)), ctx)
    with pytest.raises(ValueError, match="distinct row indices"):
        ritz_eigenvalues(np.random.default_rng(0).normal(size=(90, 3)), ctx, np.array([1, 1, 2]))
    with pytest.raises(TypeError, match="KNNContext"):
        ritz_eigenvalues(np.ones((90, 3)), rbf_context(_blobs(), 1.0))


def test_kernel_diagonal_is_about_n_over_k_for_a_knn_context() -> None:
    ctx = knn_context(_blobs(), 9)
    K = np.asarray(kernel_x(ctx).todense())
    assert kernel_diagonal(ctx) == pytest.approx(np.diag(K).mean(), rel=1e-12)
    assert 0.5 * 90 / 9 < kernel_diagonal(ctx) < 2 * 90 / 9


# ---- the metric and the VICReg convention ---------------------------------------------------


def test_spectrum_error_is_the_mean_absolute_gap_over_d0() -> None:
    s2 = np.array([0.9, 0.5, 0.2, 0.1])
    lam = np.array([0.8, 0.6, 0.1, 0.0])
    assert spectrum_error(lam, s2, 3) == pytest.approx((0.1 + 0.1 + 0.1) / 3, abs=1e-15)
    assert spectrum_error(lam, s2, 4) == pytest.approx(0.4 / 4, abs=1e-15)
    with pytest.raises(ValueError, match="at least d0 = 5"):
        spectrum_error(lam, s2, 5)


def test_vicreg_inv_coeff_conventions() -> None:
    assert vicreg_inv_coeff(512) == pytest.approx(25 / 512, abs=0)
    assert vicreg_inv_coeff(512, "sum") == 25.0
    with pytest.raises(ValueError, match="invariance"):
        vicreg_inv_coeff(512, "median")


# ---- the sweep cells (a 150-row slice of abalone) -------------------------------------------


def test_exact_spectrum_cell_matches_the_dense_oracle() -> None:
    rec = exact_spectrum_cell("abalone", **TINY)
    X, ctx = full_context("abalone", 150, 0, 8)
    ref = svd(ctx, 10, solver="dense").s[1:] ** 2
    np.testing.assert_allclose(rec["s2"], ref, rtol=0, atol=1e-10)
    assert rec["n"] == 150 and rec["p"] == 10 and rec["residual"] < 1e-8
    assert np.all(np.diff(rec["s2"]) <= 1e-12) and rec["s2"].max() <= 1 + 1e-12
    assert rec["kernel_diag"] == pytest.approx(kernel_diagonal(ctx), rel=1e-12)


def test_subsample_cell_is_deterministic_and_interlaces() -> None:
    s2 = exact_spectrum_cell("abalone", **TINY)["s2"]
    a = subsample_cell("abalone", 40, 0, **TINY, **TRAIN)
    b = subsample_cell("abalone", 40, 0, **TINY, **TRAIN)
    for key in ("lam", "lam_sub", "lam_init", "loss_curve"):
        np.testing.assert_array_equal(a[key], b[key])          # bitwise on CPU
    assert a["lam"].shape == a["lam_sub"].shape == (10,) and a["lam_init"].size == 0
    assert a["m_used"] == 40 and a["n"] == 150 and a["loss_curve"].size == 7
    assert np.all(a["lam"] <= s2 + 1e-9)
    full = subsample_cell("abalone", FULL, 0, **TINY, **TRAIN)
    assert full["lam_init"].shape == (10,) and np.all(full["lam_init"] <= s2 + 1e-9)
    np.testing.assert_array_equal(full["lam_sub"], full["lam"])   # S = all rows
    assert full["m_used"] == 150 and not np.array_equal(full["lam"], full["lam_init"])
    # the untrained network is the one train() starts from: zero steps reproduce it
    zero = subsample_cell("abalone", FULL, 0, **TINY, **dict(TRAIN, steps=0))
    np.testing.assert_array_equal(zero["lam"], full["lam_init"])


def test_subsample_cell_neighbours_from_the_subsample_stay_inside_it() -> None:
    rec = subsample_cell("abalone", 30, 1, **TINY, **TRAIN)     # the default reading
    assert rec["n_anchor_nbrs"] <= 30
    wide = subsample_cell("abalone", 30, 1, **TINY, **TRAIN, neighbours_from="full")
    assert wide["n_anchor_nbrs"] > 30                 # the full context reaches outside S
    assert not np.array_equal(rec["lam"], wide["lam"])


def test_subsample_cell_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="out_dim must be at least d0 = 10"):
        subsample_cell("abalone", 40, 0, **TINY, **dict(TRAIN, out_dim=8))
    with pytest.raises(ValueError, match="neighbours_from"):
        subsample_cell("abalone", 40, 0, **TINY, **TRAIN, neighbours_from="both")
    with pytest.raises(ValueError, match="at most the number of rows"):
        subsample_cell("abalone", 400, 0, **TINY, **TRAIN)
    with pytest.raises(FloatingPointError, match="non-finite"):
        subsample_cell("abalone", 40, 0, **TINY, **dict(TRAIN, lr=1e30, steps=20))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            subsample_cell("abalone", 40, 0, **TINY, **TRAIN, device="cuda")


# ---- the sweeps ----------------------------------------------------------------------------


PARAMS = dict(datasets=["abalone"], k=8, d0=10, n_cap=150, seed=5, subsample_sizes=[40, 20],
              n_seeds=2, invariance="mean", var_coeff=25.0, cov_coeff=1.0,
              neighbours_from="full", device="cpu", **TRAIN)


def test_build_declares_the_dataset_by_m_by_seed_grid() -> None:
    sweep = build(PARAMS)
    assert isinstance(sweep, Sweep) and SWEEPS["spectrum_subsample"] is build
    assert sweep.name == "spectrum_subsample" and len(sweep) == 1 * 3 * 2
    points = sweep.grid.points
    assert [p["m"] for p in points[::2]] == [20, 40, FULL]
    assert {p["seed"] for p in points} == {5, 6} and sweep.fixed["data_seed"] == 5
    exact = build_exact(PARAMS)
    assert SWEEPS["spectrum_subsample_exact"] is build_exact and len(exact) == 1
    assert exact.fixed == {"k": 8, "d0": 10, "n_cap": 150, "data_seed": 5}
    with pytest.raises(KeyError, match="batch"):
        build({k: v for k, v in PARAMS.items() if k != "batch"})
    with pytest.raises(ValueError, match="distinct sizes"):
        build(dict(PARAMS, subsample_sizes=[40, 40]))
    with pytest.raises(ValueError, match="out_dim must be at least d0"):
        build(dict(PARAMS, out_dim=4))
    with pytest.raises(ValueError, match="distinct names"):
        build_exact(dict(PARAMS, datasets=[]))


def test_build_reading_flips_the_pairs_and_leaves_out_the_full_data() -> None:
    sweep = build_reading(PARAMS)
    assert SWEEPS["spectrum_subsample_reading"] is build_reading
    assert sweep.name == "spectrum_subsample_reading" and len(sweep) == 2 * 2
    assert {p["m"] for p in sweep.grid.points} == {20, 40}
    assert sweep.fixed["neighbours_from"] == "subsample"
    assert build_reading(dict(PARAMS, neighbours_from="subsample")).fixed["neighbours_from"] \
        == "full"
    assert build(PARAMS).fixed["neighbours_from"] == "full"
    with pytest.raises(ValueError, match="neighbours_from"):
        build_reading(dict(PARAMS, neighbours_from="both"))


# ---- the two findings ----------------------------------------------------------------------


def test_as_good_as_full() -> None:
    assert as_good_as_full(0.104, 0.088, 0.2) and not as_good_as_full(0.124, 0.088, 0.2)
    assert as_good_as_full(0.088, 0.088, 0.0)
    with pytest.raises(ValueError, match="rel_tol"):
        as_good_as_full(0.1, 0.1, -0.1)


def test_decay_summary_on_exponential_spectra() -> None:
    i = np.arange(1, 101)
    truth, fast = np.exp(-0.02 * i), np.exp(-0.05 * i)
    d = decay_summary(fast, truth, 100)
    assert d.faster and d.below == 1.0
    assert d.rate_est == pytest.approx(0.05, rel=1e-6) and d.rate_true == pytest.approx(0.02,
                                                                                        rel=1e-6)
    assert d.ratio_head == pytest.approx(np.mean(np.exp(-0.03 * i[:10])), rel=1e-12)
    assert d.half_true == int(np.ceil(np.log(2) / 0.02)) + 1
    same = decay_summary(truth, truth, 100)
    assert not same.faster and same.ratio_head == same.ratio_tail == 1.0
    with pytest.raises(ValueError, match="positive"):
        decay_summary(fast, np.r_[truth[:99], 0.0], 100)
    with pytest.raises(ValueError, match="at least d0"):
        decay_summary(fast[:50], truth, 100)
