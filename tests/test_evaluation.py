"""The real-data evaluation core (Sec. 5.1-5.3, App. F.1): fast path vs natural path.

Tolerances: eigenvalues s_i^2 agree to 1e-8 (absolute; both are exact solvers, observed ~1e-15).
Probe errors err_d agree to 1e-8 wherever the top-d subspace is determined, i.e. the gap
s_d^2 - s_{d+1}^2 is at least 1e-6 (Davis-Kahan: rounding of order 1e-15 then moves the subspace
by at most ~1e-9); inside (near-)degenerate clusters -- KNN contexts with disconnected
neighbourhood graphs have s_i = 1 exactly -- the singular functions themselves are arbitrary and
no two solvers need agree. Prefix ridge vs scikit-learn / numpy: 1e-10 (same problem, different
factorisations). The Lemma-3 extension reproduces the singular functions to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from contexture.contexts import FiniteContext, knn_context, rbf_context
from contexture.contexts.sample import MaskedKNNContext, MaskedRBFContext
from contexture.data import UnknownDatasetError, load
from contexture.evaluation import (
    CONTEXT_TYPES,
    RIDGE_GRID,
    ContextFamily,
    LevelGrid,
    encode_targets,
    evaluate_contexts,
    evaluate_prepared,
    evaluate_reference,
    exact_encoder,
    feature_groups,
    knn_levels,
    level_grid,
    prepare_arrays,
    prepare_dataset,
    protocol_masks,
    reference_conditional,
    ridge_path,
    ridge_path_reference,
    top_k_sorted,
)
from contexture.spectra import svd

EIG_TOL = 1e-8
ERR_TOL = 1e-8
GAP = 1e-6


def _synthetic(seed: int = 0, n: int = 90, m: int = 40, t: int = 40, p: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + m + t, p))
    y = (X[:, 0] + 0.5 * X[:, -1] ** 2 + 0.3 * rng.standard_normal(n + m + t) > 0.4)
    y = y.astype(np.int64)
    return prepare_arrays(X[:n], X[n:n + m], y[n:n + m], X[n + m:], y[n + m:],
                          task="classification", y_pre=y[:n], name="synthetic")


@pytest.fixture(scope="module")
def prep():
    return _synthetic()


def _determined(s: np.ndarray) -> np.ndarray:
    """Mask over d = 0..d0: True where the top-d subspace is separated by a gap >= GAP."""
    s2 = s**2
    gap = np.concatenate([np.ones_like(s2[..., :1]), s2[..., :-1] - s2[..., 1:]], axis=-1)
    return gap >= GAP  # d = 0 (the bias alone) is always determined


def _compare(a: dict, b: dict) -> None:
    assert np.array_equal(a["level"], b["level"])
    assert np.abs(a["s"] ** 2 - b["s"] ** 2).max() <= EIG_TOL
    ok = _determined(a["s"]) & np.isfinite(a["err"])
    assert ok[:, 1:].sum() >= ok.shape[0]  # something beyond the bias is compared
    assert np.abs(a["err"] - b["err"])[ok].max() <= ERR_TOL
    assert np.array_equal(np.isnan(a["err"]), np.isnan(b["err"]))
    for key in ("decay_rate", "sum_s2", "d_usable"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-9, err_msg=key)
    # tau's first term 1/(1 - s_{d+1}^2) magnifies rounding when s_{d+1} is within ~1e-6 of 1
    sharp = a["tau"] < 1e6
    np.testing.assert_allclose(a["tau"][sharp], b["tau"][sharp], rtol=1e-9)
    assert np.array_equal(a["tau_d_star"][sharp], b["tau_d_star"][sharp])


@pytest.mark.parametrize("context", CONTEXT_TYPES)
def test_fast_path_equals_natural_path(prep, context):
    grid = level_grid(context, prep, n_levels=5)
    masks = protocol_masks(prep, n_masks=4) if context.endswith("mask") else None
    kw = dict(d0=30, association=True, lipschitz_n=50)
    a = evaluate_prepared(prep, context, (0, 2, 4), grid=grid, masks=masks, **kw)
    b = evaluate_reference(prep, grid, (0, 2, 4), masks=masks, **kw)
    _compare(a, b)
    np.testing.assert_allclose(a["kernel_deviation"], b["kernel_deviation"], rtol=1e-12)
    np.testing.assert_allclose(a["lipschitz"], b["lipschitz"], rtol=1e-10)
    assert np.all(a["residual"] < 1e-12) and np.all(b["residual"] < 1e-12)


def test_fast_path_equals_natural_path_on_real_data_with_ties():
    # breast-w: integer-valued features, many duplicate points and tied distances
    kw = dict(n_pretrain_cap=120, n_eval_cap=60, d0=20, n_levels=6, n_masks=3, seed=2)
    for context in ("knn_mask", "rbf"):
        a = evaluate_contexts("breast-w", context, (1, 5), **kw)
        prep = prepare_dataset("breast-w", seed=2, n_pretrain_cap=120, n_eval_cap=60)
        grid = level_grid(context, prep, n_levels=6, seed=2)
        masks = protocol_masks(prep, n_masks=3, seed=2) if context.endswith("mask") else None
        b = evaluate_reference(prep, grid, (1, 5), masks=masks, d0=20, seed=2)
        _compare(a, b)
        assert a["n_pretrain"] == 120 and a["n_train"] == 60 and a["n_test"] == 60
        assert a["s"].shape == (2, 21) and a["err"].shape == (2, 21)
        assert a["target_cosine"].shape == (2, 20)
        assert np.all(a["tau"] >= 1.0)
        assert np.all(a["err_star"] <= a["err"][:, 0] + 1e-12)  # d* beats the bias alone
        assert np.all(a["neighbour_table_bytes"] >= 0)


def test_families_match_the_library_contexts(prep):
    """On tie-free data the shared builders give the library's KNN/RBF(/masked) contexts."""
    n, X = prep.n, prep.X_pre
    new = np.vstack([prep.X_train, prep.X_test])
    masks = protocol_masks(prep, n_masks=3)
    for context in CONTEXT_TYPES:
        grid = level_grid(context, prep, n_levels=4)
        fam = ContextFamily(prep, grid, masks if context.endswith("mask") else None)
        for level in range(4):
            P = fam.conditional(level)
            k, g = int(grid.k[level]), grid.values[level]
            if context == "knn":
                lib = knn_context(X, k)
            elif context == "rbf":
                lib = rbf_context(X, g)
            elif context == "knn_mask":
                lib = MaskedKNNContext(X, k, masks, True, None)
            else:
                lib = MaskedRBFContext(X, g, masks)
            cond = lib.conditional
            cond = cond.toarray() if hasattr(cond, "toarray") else cond
            assert lib.a_index.size == n
            np.testing.assert_allclose(P[:n], cond, atol=1e-12)
            at = lib.conditional_at(new)
            at = at.toarray() if hasattr(at, "toarray") else at
            np.testing.assert_allclose(P[n:], at, atol=1e-12)
            np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
            ref = reference_conditional(prep, grid, level, masks)
            np.testing.assert_allclose(P, ref, atol=1e-12)


def test_knn_family_levels_in_any_order(prep):
    grid = level_grid("knn_mask", prep, n_levels=5)
    masks = protocol_masks(prep, n_masks=3)
    fam = ContextFamily(prep, grid, masks)
    first = [fam.conditional(level) for level in (1, 4)]
    again = [fam.conditional(level) for level in (4, 1)]  # backwards: counts are rebuilt
    assert np.array_equal(first[0], again[1]) and np.array_equal(first[1], again[0])
    np.testing.assert_allclose(first[1], reference_conditional(prep, grid, 4, masks),
                               rtol=0, atol=1e-15)


def test_top_k_sorted_ties_self_first_then_distance_then_index():
    D = np.array([[0.0, 1.0, 0.0, 1.0, 2.0],   # row 0: duplicate point 2 at distance 0
                  [1.0, 0.0, 1.0, 1.0, 3.0],
                  [2.0, 1.0, 1.0, 0.5, 1.0]])  # a new point (no self)
    idx = top_k_sorted(D, 4, n_self=2)
    assert idx.tolist() == [[0, 2, 1, 3], [1, 0, 2, 3], [3, 1, 2, 4]]
    assert np.array_equal(top_k_sorted(D, 2, n_self=2), idx[:, :2])


def test_lemma3_extension_reproduces_the_singular_functions(prep):
    grid = level_grid("rbf", prep, n_levels=5)
    P = ContextFamily(prep, grid).conditional(2)[: prep.n]
    enc = exact_encoder(P, 20)
    n = prep.n
    np.testing.assert_allclose(enc.mu.T @ enc.mu / n, np.eye(20), atol=1e-10)
    np.testing.assert_allclose(enc.extend(P), enc.mu, atol=1e-9)  # Lemma 3 on the sample
    assert enc.residuals(P).max() < 1e-12
    # the library's dense SVD oracle (same sign convention): same values and functions
    ref = svd(FiniteContext.from_conditional(P, np.full(n, 1.0 / n)), 20, solver="dense")
    np.testing.assert_allclose(enc.s, ref.s[1:], atol=1e-12)
    np.testing.assert_allclose(enc.mu, ref.mu[:, 1:], atol=1e-8)
    np.testing.assert_allclose(enc.W / enc.s, ref.nu[:, 1:], atol=1e-8)  # W = s nu


def test_prefix_ridge_equals_independent_fits():
    rng = np.random.default_rng(3)
    m, t, D, T = 45, 30, 60, 2  # D > m: the penalty keeps every d well posed
    F = rng.standard_normal((m, D)) * np.exp(-np.arange(D) / 20)
    Ft = rng.standard_normal((t, D)) * np.exp(-np.arange(D) / 20)
    W = rng.standard_normal((D, T)) / np.arange(1, D + 1)[:, None]
    Y = F @ W + 0.3 * rng.standard_normal((m, T))
    Yt = Ft @ W
    fast = ridge_path(F, Y, Ft, Yt)
    slow = ridge_path_reference(F, Y, Ft, Yt)  # one RidgeCV (exact LOO) per d
    np.testing.assert_allclose(fast.err, slow.err, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.loo, slow.loo, rtol=0, atol=1e-10)
    assert np.array_equal(fast.index, slow.index)
    assert len(set(fast.index[1:].tolist())) > 1  # the selection really varies with d
    for a, lam in enumerate(RIDGE_GRID):  # every (d, penalty): plain ridge fits
        for d in (1, 7, 44, 60):
            model = Ridge(alpha=lam * m).fit(F[:, :d], Y)
            mse = ((model.predict(Ft[:, :d]) - Yt) ** 2).mean()
            assert abs(fast.err_all[a, d] - mse) <= 1e-10
    # a single target: the bias-only model and numpy's solve of the normal equations
    y1, yt1 = Y[:, 0], Yt[:, 0]
    one = ridge_path(F, y1, Ft, yt1, [0.1])
    np.testing.assert_allclose(one.err_all[0, 0], ((yt1 - y1.mean()) ** 2).mean(), atol=1e-12)
    Fa = np.hstack([np.ones((m, 1)), F[:, :10]])
    reg = np.diag(np.r_[0.0, np.full(10, 0.1 * m)])
    w = np.linalg.solve(Fa.T @ Fa + reg, Fa.T @ y1)
    pred = np.hstack([np.ones((t, 1)), Ft[:, :10]]) @ w
    np.testing.assert_allclose(one.err_all[0, 10], ((pred - yt1) ** 2).mean(), atol=1e-12)


def test_grids_are_monotone_in_association(prep):
    k = knn_levels(prep.n, 5)
    assert k[0] == 2 and np.all(np.diff(k) > 0) and k[-1] <= prep.n // 4
    for context in CONTEXT_TYPES:
        grid = level_grid(context, prep, n_levels=5)
        if context.startswith("rbf"):
            assert np.all(np.diff(grid.gamma) < 0)  # larger gamma = stronger association
        rec = evaluate_prepared(prep, context, None, d0=30, grid=grid,
                                masks=protocol_masks(prep, n_masks=4))
        # level 0 is the strongest association: slowest decay (Sec. 5.1)
        assert np.all(np.diff(rec["decay_rate"]) > 0), (context, rec["decay_rate"])
        assert np.all(np.diff(rec["sum_s2"]) < 0), (context, rec["sum_s2"])


def test_rbf_grid_matches_the_effective_neighbourhood_size(prep):
    grid = level_grid("rbf", prep, n_levels=5)
    P = ContextFamily(prep, grid)
    for level in range(5):
        rows = P.conditional(level)[: prep.n]
        neff = np.median(1.0 / (rows**2).sum(axis=1))
        assert abs(neff / grid.k[level] - 1.0) < 0.15


def test_independent_context_gives_the_bias_only_probe(prep):
    # gamma -> 0: P+(a | x) uniform, all s_i = 0: nothing to extend (Lemma 3 divides by s_i^2)
    grid = LevelGrid("rbf", np.array([2]), np.array([1e-300]), prep.n)
    rec = evaluate_prepared(prep, "rbf", (0,), d0=10, grid=grid)
    assert rec["s"].max() < 1e-6 and rec["d_usable"][0] == 0
    assert np.isfinite(rec["err"][0, 0]) and np.isnan(rec["err"][0, 1:]).all()
    assert rec["d_star"][0] == 0 and np.isnan(rec["err_star"][0])


def test_record_is_deterministic_and_plain(prep):
    kw = dict(d0=12, n_masks=3, n_levels=4, seed=5)
    a = evaluate_prepared(prep, "knn_mask", (0, 3), **kw)
    b = evaluate_prepared(prep, "knn_mask", (3, 0), **kw)
    for key, value in a.items():
        assert isinstance(value, int | float | str | np.ndarray), key
        if isinstance(value, np.ndarray):
            assert value.ndim <= 2 and value.shape[-1] <= 13, key
            assert np.array_equal(value, b[key], equal_nan=True), key
        else:
            assert value == b[key], key
    c = evaluate_prepared(prep, "knn_mask", (0, 3), **{**kw, "seed": 6})
    assert not np.array_equal(a["s"], c["s"])  # other masks


def test_targets_and_feature_groups():
    Y, Yt, Yp = encode_targets(np.array([0, 1, 1, 0, 1]), np.array([1, 0]), "classification")
    assert Y.shape == (5, 1) and Yp is None
    np.testing.assert_allclose([Y.mean(), Y.std()], [0.0, 1.0], atol=1e-12)
    Y, Yt, _ = encode_targets(np.array([0, 1, 2, 2]), np.array([2, 0]), "classification")
    assert Y.shape == (4, 3) and Yt.shape == (2, 3)
    Y, _, _ = encode_targets(np.array([3.0, 1.0, 2.0]), np.array([0.0]), "regression")
    np.testing.assert_allclose(Y.ravel(), [1.224744871391589, -1.224744871391589, 0.0])
    ds = load("splice", seed=0)
    groups = feature_groups(ds.preprocessor)
    assert groups.size == ds.n_features and np.unique(groups).size == 60
    masks = protocol_masks(_synthetic(p=10), n_masks=5)
    assert np.all((~masks).sum(axis=1) == 2)  # 20% of 10 features


def test_clear_errors(prep):
    with pytest.raises(UnknownDatasetError, match="name must be one of"):
        evaluate_contexts("no-such-dataset", "knn")
    with pytest.raises(ValueError, match="context must be one of"):
        evaluate_contexts("breast-w", "gaussian")
    with pytest.raises(ValueError, match="context must be one of"):
        evaluate_prepared(prep, "KNN")
    with pytest.raises(ValueError, match=r"d0 must be an integer in \[1, 88\], got 89"):
        evaluate_prepared(prep, "knn", (0,), d0=89, n_levels=4)
    with pytest.raises(ValueError, match=r"levels\[1\] must be an integer in \[0, 3\], got 4"):
        evaluate_prepared(prep, "knn", (0, 4), n_levels=4)
    with pytest.raises(TypeError, match=r"levels\[0\] must be an integer"):
        evaluate_prepared(prep, "rbf", (1.5,), n_levels=4)
    with pytest.raises(ValueError, match="must not repeat"):
        evaluate_prepared(prep, "rbf", (1, 1), n_levels=4)
    with pytest.raises(ValueError, match="levels must be None or a non-empty sequence"):
        evaluate_prepared(prep, "rbf", (), n_levels=4)
    with pytest.raises(ValueError, match="n_levels must be at most 21"):
        evaluate_prepared(prep, "knn", None, n_levels=35)
    with pytest.raises(ValueError, match=r"ridge_grid\[1\] must be a finite number"):
        evaluate_prepared(prep, "knn", (0,), n_levels=4, ridge_grid=(1e-3, 0.0))
    with pytest.raises(ValueError, match="masked contexts need at least 2 features"):
        evaluate_prepared(_synthetic(p=1), "rbf_mask", (0,), n_levels=4)


def test_prefix_ridge_survives_nearly_collinear_features():
    # Lemma 3 features of tiny s_i are nearly collinear and huge: the Cholesky factor of the
    # normal equations fails; the fallback agrees with an SVD least-squares solution of the
    # stacked system [1, F_d; 0, sqrt(alpha) I] beta = [y; 0]
    rng = np.random.default_rng(5)
    m, t, D = 60, 40, 8
    base = rng.normal(size=(m + t, 3))
    F = np.hstack([base, 1e9 * (base @ rng.normal(size=(3, D - 3))
                                + 1e-9 * rng.normal(size=(m + t, D - 3)))])
    Y = base[:, :1] + 0.1 * rng.normal(size=(m + t, 1))
    alpha = 1e-12
    with pytest.raises(np.linalg.LinAlgError):
        Fa = np.hstack([np.ones((m, 1)), F[:m]])
        np.linalg.cholesky(Fa.T @ Fa + np.diag(np.r_[0.0, np.full(D, alpha * m)]))
    fast = ridge_path(F[:m], Y[:m], F[m:], Y[m:], [alpha])
    for d in (3, D):
        Fa = np.hstack([np.ones((m, 1)), F[:m, :d]])
        stacked = np.vstack([Fa, np.sqrt(alpha * m) * np.eye(d + 1)[1:]])
        beta = np.linalg.lstsq(stacked, np.vstack([Y[:m], np.zeros((d, 1))]), rcond=None)[0]
        pred = np.hstack([np.ones((t, 1)), F[m:, :d]]) @ beta
        assert fast.err[d] == pytest.approx(float(np.mean((Y[m:] - pred) ** 2)), rel=1e-6)
