"""Chapter ch12 (model size): Fig. 1, Sec. 4.2, App. E.

The context problem against the library's exact encoder and a dense construction, the positive
pair sampler against the dual kernel's law, the sweep declaration, one tiny cell end to end and
the summaries. Tolerances are stated per test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contexture.chapters.ch12_model_size import (
    DATASET,
    PAPER,
    SWEEPS,
    PositivePairSampler,
    build,
    build_long,
    cca_over_target,
    context_problem,
    encode,
    evaluate_encoder,
    interior_optimum,
    model_size_cell,
    parse_context,
    seed_summary,
    train_encoder,
    vicreg_optimal_variances,
)
from contexture.evaluation import prepare_dataset
from contexture.sweeps import Sweep

SMALL = dict(n_pretrain_cap=150, n_eval_cap=60)


def _params(**over):
    p = dict(widths=[8, 16], depths=[1, 2], depth_for_widths=2, width_for_depths=16, n_seeds=2,
             contexts=["knn5", "knn10+knn20"], context_seeds=1, convention_seeds=1,
             encoder="average", encoder_seeds=1, d=6, d1=12,
             steps=3, lr=1e-3, weight_decay=0.0, schedule="constant", invariance="mean",
             pairs_per_point=1, mknn_k=5, seed=0, device="cpu", n_pretrain_cap=150,
             n_eval_cap=60)
    p.update(over)
    return p


# ---- context names -------------------------------------------------------------------------------


def test_parse_context() -> None:
    assert parse_context("knn30") == [30]
    assert parse_context("knn5+knn150") == [5, 150]
    for bad in ("knn", "rbf3", "knn5+", "knn0", "", "knn5+knn5"):
        with pytest.raises(ValueError, match="context|K in context"):
            parse_context(bad)


# ---- the context problem (real abalone sample; tolerance 1e-10) ----------------------------------


def _dense_knn(X_rows: np.ndarray, X_pre: np.ndarray, k: int) -> np.ndarray:
    """P+(x_j | x) = 1/K on the K nearest pretrain points (self first, ties by index)."""
    n = X_pre.shape[0]
    D = ((X_rows[:, None, :] - X_pre[None, :, :]) ** 2).sum(-1)
    D[np.arange(n), np.arange(n)] = -1.0
    out = np.zeros((X_rows.shape[0], n))
    for r in range(X_rows.shape[0]):
        out[r, np.lexsort((np.arange(n), D[r]))[:k]] = 1.0 / k
    return out


def test_context_problem_matches_dense_construction_and_eigen_equation() -> None:
    prob = context_problem("knn5+knn12", 6, 1, **SMALL)
    prep = prepare_dataset(DATASET, seed=1, **SMALL)
    rows = prep.rows()
    dense = 0.5 * (_dense_knn(rows, prep.X_pre, 5) + _dense_knn(rows, prep.X_pre, 12))
    np.testing.assert_allclose(prob.P.toarray(), dense, atol=1e-12)
    n = prep.n
    assert prob.n == n == 150 and prob.d == 6 and prob.mu_heldout.shape == (120, 6)
    # the dual kernel's Gram from its definition, k(x, x') = sum_a P(a|x) P(a|x') / pa
    Pp = dense[:n]
    pa = Pp.mean(0)
    K = (Pp / pa) @ Pp.T
    F = np.random.default_rng(0).normal(size=(n, 3))
    np.testing.assert_allclose(prob.dual_kernel(F), K @ F / n, atol=1e-10)
    # the exact encoder: eigenfunctions of T_k with mean zero, orthonormal, eigenvalues s^2
    mu, s = prob.exact.mu, prob.exact.s
    np.testing.assert_allclose(prob.dual_kernel(mu), mu * s**2, atol=1e-10)
    np.testing.assert_allclose(mu.T @ mu / n, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(mu.mean(0), 0.0, atol=1e-10)
    # Lemma 3 at held-out points: mu_i(x) = s_i^-2 sum_j P(x_j|x) (T* mu_i)(x_j)
    W = (Pp.T @ mu) / (n * pa)[:, None]
    np.testing.assert_allclose(prob.mu_heldout, dense[n:] @ W / s**2, atol=1e-10)


def test_context_problem_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="context"):
        context_problem("rbf1", 6, 0, **SMALL)
    with pytest.raises(ValueError, match=r"K in context 'knn500' must be an integer in \[1, 150\]"):
        context_problem("knn500", 6, 0, **SMALL)
    with pytest.raises(ValueError, match=r"d must be an integer in \[1, 148\]"):
        context_problem("knn5", 149, 0, **SMALL)


# ---- positive pairs (law = dual kernel; 200,000 draws, tolerance 5 standard errors) -------------


def test_pair_sampler_draws_the_two_laws() -> None:
    import scipy.sparse as sp
    rng = np.random.default_rng(3)
    n = 7
    P = rng.random((n, n)) * (rng.random((n, n)) < 0.6) + np.eye(n)
    P /= P.sum(1, keepdims=True)
    pa = P.mean(0)
    reps = 200_000 // n
    laws = {
        # direct: (x, x+), x+ ~ sum_a P(a|x) P(a|x+) / (n pa): the dual kernel k(x, x+) P_X P_X
        "direct": (P / pa) @ P.T / n**2,
        # average: (a, a+) both ~ P(.|x), x uniform: sum_x P(a|x) P(a+|x) / n
        "average": P.T @ P / n,
    }
    for kind, law in laws.items():
        sampler = PositivePairSampler(sp.csr_matrix(P), kind)
        x, xp = sampler(reps, generator=torch.Generator().manual_seed(0))
        assert x.shape == xp.shape == (n * reps,)
        if kind == "direct":
            assert torch.equal(x, torch.arange(n).repeat(reps))
        counts = np.zeros((n, n))
        np.add.at(counts, (x.numpy(), xp.numpy()), 1.0)
        freq = counts / counts.sum()
        np.testing.assert_allclose(law.sum(), 1.0, atol=1e-12)
        se = np.sqrt(law * (1 - law) / counts.sum())
        assert np.all(np.abs(freq - law) <= 5 * se + 1e-12), kind
    # the direct pair has marginal P_X (uniform) in both members
    np.testing.assert_allclose(laws["direct"].sum(0), 1.0 / n, atol=1e-12)


def test_pair_sampler_rejects_bad_input() -> None:
    import scipy.sparse as sp
    with pytest.raises(ValueError, match="row-stochastic"):
        PositivePairSampler(sp.csr_matrix(np.ones((3, 3))))
    with pytest.raises(ValueError, match="square"):
        PositivePairSampler(sp.csr_matrix(np.ones((2, 3)) / 3))
    with pytest.raises(ValueError, match="receive mass"):
        PositivePairSampler(sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0]])))
    with pytest.raises(ValueError, match="reps must be"):
        PositivePairSampler(sp.csr_matrix(np.eye(3)))(0)
    with pytest.raises(ValueError, match="kind must be one of"):
        PositivePairSampler(sp.csr_matrix(np.eye(3)), "both")
    with pytest.raises(ValueError, match="no CUDA GPU|device"):
        if torch.cuda.is_available():  # pragma: no cover - only on a GPU machine
            raise ValueError("device check skipped on a GPU machine")
        PositivePairSampler(sp.csr_matrix(np.eye(3)), device="cuda")


# ---- training and evaluation (tiny; deterministic on CPU) ---------------------------------------


def test_train_and_evaluate_tiny_encoder() -> None:
    prob = context_problem("knn10", 6, 0, **SMALL)
    runs = [train_encoder(prob, 16, 2, d1=12, steps=4, lr=1e-2, seed=s, invariance=inv)
            for s, inv in ((1, "mean"), (1, "mean"), (2, "mean"), (1, "sum"))]
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    assert not np.array_equal(runs[0].loss, runs[2].loss)
    # the sum convention weighs the invariance d1 = 12 times more, same initial encoder
    assert runs[3].loss[0] > runs[0].loss[0]
    net = runs[0].encoder
    # the average encoder is T Psi at every point; the direct one the network itself
    phi_pre, phi_held = encode(prob, net, "average")
    psi = net(torch.as_tensor(prob.prep.X_pre, dtype=torch.float32)).double().detach().numpy()
    np.testing.assert_allclose(phi_pre, prob.P[:prob.n].toarray() @ psi, atol=1e-10)
    np.testing.assert_allclose(phi_held, prob.P[prob.n:].toarray() @ psi, atol=1e-10)
    direct_pre, direct_held = encode(prob, net, "direct")
    np.testing.assert_allclose(direct_pre, psi, atol=0)
    assert direct_held.shape == (120, 12)
    for kind in ("average", "direct"):
        rec = evaluate_encoder(prob, net, encoder=kind, mknn_k=5)
        for key in ("cca", "mknn", "mknn_iou", "cca_pretrain"):
            assert 0.0 <= rec[key] <= 1.0
        assert rec["mknn_iou"] <= rec["mknn"] + 1e-12
        assert 1.0 <= rec["erank"] <= 12.0 and rec["cov_eigenvalues"].shape == (12,)
        assert np.all(np.diff(rec["cov_eigenvalues"]) <= 1e-12)
        assert rec["eigenvalues"].shape == (6,) and rec["err"] > 0
        # App. D's estimates are Rayleigh-Ritz values: none above the exact s_1^2
        assert rec["eigenvalues"][0] <= prob.exact.s[0] ** 2 + 1e-9
    direct = train_encoder(prob, 16, 2, d1=12, steps=2, encoder="direct", seed=1)
    assert direct.loss.shape == (2,)
    with pytest.raises(ValueError, match="invariance must be one of"):
        train_encoder(prob, 4, 1, d1=4, steps=1, invariance="median")
    with pytest.raises(ValueError, match="coeffs"):
        train_encoder(prob, 4, 1, d1=4, steps=1, coeffs=(1.0, 1.0))
    with pytest.raises(ValueError, match="encoder must be one of"):
        encode(prob, net, "both")


def test_model_size_cell_record() -> None:
    rec = model_size_cell(8, 1, 0, context="knn10", d=6, d1=12, steps=3, mknn_k=5,
                          curve_points=3, **SMALL)
    assert rec["loss_curve"].shape == (3,) and rec["loss_steps"].tolist() == [0, 2, 3]
    assert rec["loss0"] == rec["loss_curve"][0] and rec["final_loss"] == rec["loss_curve"][-1]
    assert rec["n_params"] == (10 * 8 + 8) + (8 * 12 + 12)
    assert rec["n_pretrain"] == 150 and rec["n_heldout"] == 120 and rec["s_d"] > 0
    assert rec["err_exact"] > 0


# ---- sweeps ----------------------------------------------------------------------------------


def test_build_declares_the_grids_without_repeats() -> None:
    sweep = build(_params())
    assert isinstance(sweep, Sweep) and SWEEPS["model_size"] is build
    assert SWEEPS["model_size_long"] is build_long
    pts = sweep.grid.points
    # widths at depth 2 (2 x 2 seeds), depths at width 16 (depth 2 already there: 1 x 2 seeds),
    # contexts (2 x 1 seed), the sum convention (1 seed; mean already there), the direct
    # encoder (1 seed; average already there)
    assert len(pts) == 4 + 2 + 2 + 1 + 1
    assert sum(p["encoder"] == "direct" for p in pts) == 1
    assert {(p["width"], p["depth"]) for p in pts} == {(8, 2), (16, 2), (16, 1)}
    assert sum(p["invariance"] == "sum" for p in pts) == 1
    assert {p["context"] for p in pts} == {"knn30", "knn5", "knn10+knn20"}
    assert sweep.fixed["data_seed"] == 0 and sweep.fixed["device"] == "cpu"
    assert sweep.fixed["n_pretrain_cap"] == 150 and sweep.fixed["n_eval_cap"] == 60
    with pytest.raises(KeyError, match="steps"):
        build({k: v for k, v in _params().items() if k != "steps"})
    with pytest.raises(ValueError, match="distinct"):
        build(_params(widths=[8, 8]))
    with pytest.raises(ValueError, match="context"):
        build(_params(contexts=["rbf"]))
    with pytest.raises(ValueError, match="device must be one of"):
        build(_params(device="tpu"))
    long = build_long(_params(long_width=16, long_depth=2, long_steps=5, long_lr=3e-3,
                              long_schedule="cosine", long_seeds=1, long_encoder="direct"))
    assert long.name == "model_size_long" and len(long) == 1
    assert long.fixed["steps"] == 5 and long.fixed["schedule"] == "cosine"
    assert long.grid.points[0]["encoder"] == "direct"
    with pytest.raises(KeyError, match="long_steps"):
        build_long(_params(long_width=16, long_depth=2))


# ---- summaries -------------------------------------------------------------------------------


def test_seed_summary_and_interior_optimum() -> None:
    assert seed_summary([0.5, 0.7, 0.6]) == pytest.approx((0.6, 0.5, 0.7), abs=1e-15)
    with pytest.raises(ValueError, match="non-empty"):
        seed_summary([])
    with pytest.raises(ValueError, match="finite"):
        seed_summary([0.1, np.nan])
    assert interior_optimum([32, 64, 128], [0.5, 0.9, 0.8]) == (True, 1)
    assert interior_optimum([32, 64, 128], [0.5, 0.8, 0.9]) == (False, 2)
    assert interior_optimum([32, 64, 128], [0.5, 0.9, 0.89], margin=0.02) == (False, 1)
    with pytest.raises(ValueError, match="increasing"):
        interior_optimum([64, 32], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length"):
        interior_optimum([1, 2, 3], [0.1, 0.2])
    assert PAPER["cca_peak"] == 0.9 and PAPER["best_width_at_depth_3"] == 512


def test_cca_over_target_counts_missing_directions_as_zero() -> None:
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(500, 6))
    A = rng.normal(size=(6, 6))
    # an invertible map of the target: all six correlations are 1
    assert cca_over_target(mu @ A, mu) == pytest.approx(1.0, abs=1e-10)
    # rank 2 inside the target span: two correlations 1, four missing -> 2 / 6
    assert cca_over_target(mu[:, :2] @ A[:2, :2], mu) == pytest.approx(2 / 6, abs=1e-10)
    # equals the library's CCA alignment for full-rank features
    from contexture.metrics.alignment import cca_alignment
    F = mu + rng.normal(size=mu.shape)
    assert cca_over_target(F, mu) == pytest.approx(cca_alignment(F, mu), abs=1e-12)
    with pytest.raises(ValueError, match="2-D"):
        cca_over_target(F, mu[:, 0])


# ---- the VICReg minimiser's variances (against the library's population loss; 1e-6) --------------


def test_vicreg_optimal_variances_minimise_the_population_loss() -> None:
    from contexture.learning.objectives import vicreg_loss
    rng = np.random.default_rng(7)
    n, k = 12, 4
    J = rng.random((n, n)) * (rng.random((n, n)) < 0.5) + np.eye(n)
    J = (J + J.T) / 2
    J /= J.sum()
    px, pa = J.sum(1), J.sum(0)
    # right singular functions nu_1..nu_k (orthonormal in L2(pa), mean zero) and s_j^2
    Q = J / np.sqrt(px[:, None] * pa[None, :])
    _, sv, Vt = np.linalg.svd(Q)
    nu = (Vt[1:k + 1] / np.sqrt(pa)).T
    s2 = sv[1:k + 1] ** 2
    for inv, ci in (("mean", 25.0), ("sum", 25.0)):
        v = vicreg_optimal_variances(s2, k, inv, coeffs=(ci, 25.0, 1.0))

        def loss(scale, ci=ci, inv=inv):
            psi = torch.as_tensor(nu * np.sqrt(scale))
            return float(vicreg_loss(psi, J, inv_coeff=ci, eps=0.0, invariance=inv))

        base = loss(v)
        for j in range(k):
            for f in (0.9, 1.1):
                step = v.copy()
                step[j] *= f
                assert loss(step) >= base - 1e-12, (inv, j, f)
        assert np.all((v > 0) & (v <= 1)) and v.min() < 0.9   # not all capped at 1
    # Bardes et al.'s 25/25 with d1 = 512: 'mean' keeps every variance >= 1/4, 'sum' does not
    s2 = np.array([0.0, 0.5, 0.9, 0.999])
    np.testing.assert_allclose(vicreg_optimal_variances(s2, 512, "mean"),
                               [0.25, 1.0, 1.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(vicreg_optimal_variances(s2, 512, "sum"),
                               (1 / (1024 * (1 - s2))) ** 2, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        vicreg_optimal_variances([1.0], 512)
    with pytest.raises(ValueError, match="invariance must be one of"):
        vicreg_optimal_variances([0.5], 512, "avg")
