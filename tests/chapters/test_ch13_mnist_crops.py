"""Chapter ch13 (tau on MNIST with random crops): Sec. 5.2, Figs 4 and 5b, App. D.

The data parts against the loaded real digits, the LeNet variants, the context-side App. D
estimator against an explicit Gram matrix and a model with known eigenvalues, the VICReg pair
loss against the library loss, a tiny sweep cell (Eq. (4) written out, determinism) and the
curve readings. Tolerances are stated per test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import tau_curve

from contexture.chapters.ch13_mnist_crops import (
    CLASSIC_FC,
    DATASET,
    SWEEPS,
    CropPairLoss,
    WideLeNet,
    build,
    curve_shape,
    digit_task,
    embed_views,
    estimate_spectrum,
    make_lenet,
    mnist_crops_cell,
    mnist_parts,
    output_rank,
    rebound,
    strength_roles,
    view_mean_operator,
    view_statistics,
)
from contexture.contexts.crops import random_crops
from contexture.data import load
from contexture.evaluation import RIDGE_GRID
from contexture.learning.encoders import LeNet
from contexture.learning.objectives import vicreg_loss_batch
from contexture.learning.training import posthoc_reduce
from contexture.sweeps import Sweep

TINY = dict(n_pretrain_train=120, n_pretrain_test=40, n_probe_train=60, n_probe_test=50,
            out_dim=24, d0=10, fc_widths=[24, 24], steps=4, batch=32, n_est_views=3,
            n_eval_views=3, seed=5)


# ---- data ------------------------------------------------------------------------------------


def test_mnist_parts_are_real_disjoint_digits() -> None:
    parts = mnist_parts(30, 20, 25, 15, seed=2)
    assert parts.pretrain.shape == (50, 28, 28) and parts.pretrain.dtype == np.float32
    assert parts.probe_train.shape == (25, 28, 28) and parts.probe_test.shape == (15, 28, 28)
    test = load(DATASET)
    train5k = load(DATASET, subset="train5k")
    i_tr5, i_pre = parts.pretrain_train_index, parts.pretrain_test_index
    def same(a: np.ndarray, b: np.ndarray) -> None:   # float32 copies of pixels / 255
        np.testing.assert_array_equal(a.reshape(len(b), -1), b.astype(np.float32))

    same(parts.pretrain[:30], train5k.X[i_tr5])
    same(parts.pretrain[30:], test.X[i_pre])
    same(parts.probe_train, test.X[parts.probe_train_index])
    np.testing.assert_array_equal(parts.probe_test_labels, test.y[parts.probe_test_index])
    sets = [set(i_pre), set(parts.probe_train_index), set(parts.probe_test_index)]
    assert sum(len(s) for s in sets) == len(set().union(*sets)) == 60  # disjoint
    again = mnist_parts(30, 20, 25, 15, seed=2)
    np.testing.assert_array_equal(again.probe_test_index, parts.probe_test_index)
    assert 0.0 <= parts.pretrain.min() and parts.pretrain.max() <= 1.0


@pytest.mark.parametrize("args, match", [((5001, 0, 10, 10), "n_pretrain_train"),
                                         ((0, 1, 10, 10), "at least 2 images"),
                                         ((10, 5000, 4000, 1001), "at most 10000"),
                                         ((10, 0, 2, 10), "n_probe_train")])
def test_mnist_parts_rejects_bad_sizes(args, match) -> None:
    with pytest.raises(ValueError, match=match):
        mnist_parts(*args)


def test_digit_task() -> None:
    np.testing.assert_array_equal(digit_task(np.arange(10)), [-1] * 5 + [1] * 5)
    with pytest.raises(ValueError, match="digits 0-9"):
        digit_task(np.array([3, 10]))
    with pytest.raises(ValueError, match="digits 0-9"):
        digit_task(np.array([0.5, 1.0]))


# ---- encoders --------------------------------------------------------------------------------


def test_wide_lenet_with_classic_widths_is_the_library_lenet() -> None:
    x = torch.rand(7, 28, 28)
    torch.manual_seed(11)
    ours = WideLeNet(16, CLASSIC_FC)
    torch.manual_seed(11)
    lib = LeNet(16)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), lib(x), rtol=0, atol=0)
    assert isinstance(make_lenet(16, (120, 84)), LeNet)
    assert isinstance(make_lenet(16, (64, 32)), WideLeNet)
    with pytest.raises(ValueError, match="shape"):
        ours(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="at least one width"):
        WideLeNet(8, [])


def test_output_rank_is_bounded_by_the_last_hidden_width() -> None:
    torch.manual_seed(0)
    imgs = torch.rand(400, 28, 28)
    with torch.no_grad():
        classic = LeNet(128)(imgs).double().numpy()
        wide = WideLeNet(128, (200, 160))(imgs).double().numpy()
    assert output_rank(classic) <= 84
    assert output_rank(wide) == 128
    with pytest.raises(ValueError, match="constant"):
        output_rank(np.ones((5, 3)))


# ---- App. D on the context side --------------------------------------------------------------


def test_view_mean_operator_matches_an_explicit_gram_matrix() -> None:
    rng = np.random.default_rng(0)
    n, V, d1 = 30, 4, 6
    Z = rng.normal(size=(n, V, d1)) + rng.normal(size=(n, 1, d1))
    op = view_mean_operator(n, V)
    F = Z.reshape(n * V, d1)
    # K[(j, v), (j, u)] = n V / (V - 1) for u != v: then K diag(1 / nV) F = mean over other views
    same = np.kron(np.eye(n), np.ones((V, V)) - np.eye(V)) * (n * V / (V - 1))
    np.testing.assert_allclose(op(F), same @ F / (n * V), atol=1e-13)
    a = estimate_spectrum(Z, 4)
    b = posthoc_reduce(F, 4, gram=same)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, atol=1e-12)
    np.testing.assert_allclose(a.features, b.features, atol=1e-9)
    with pytest.raises(ValueError, match="n_views"):
        view_mean_operator(3, 1)
    with pytest.raises(ValueError, match="rows"):
        op(F[:-1])
    with pytest.raises(ValueError, match="V >= 2"):
        estimate_spectrum(Z[:, :1], 2)


def test_estimate_spectrum_recovers_known_eigenvalues() -> None:
    """Views z_jv = sqrt(r) u_j + sqrt(1 - r) e_jv (independent standard normals, mixed by a
    fixed invertible map): the pair correlation of coordinate i is r_i, so the generalised
    eigenvalues are r sorted. Tolerance 0.02 at n = 20,000 images, 4 views (sampling error)."""
    rng = np.random.default_rng(1)
    n, V = 20000, 4
    r = np.array([0.95, 0.7, 0.4, 0.1, 0.0])
    z = np.sqrt(r) * rng.normal(size=(n, 1, 5)) + np.sqrt(1 - r) * rng.normal(size=(n, V, 5))
    M = rng.normal(size=(5, 5)) + 3 * np.eye(5)
    red = estimate_spectrum(z @ M, 5)
    np.testing.assert_allclose(red.eigenvalues, r, atol=0.02)
    stats = view_statistics(z @ M, red)
    np.testing.assert_allclose(stats.rayleigh, red.eigenvalues, atol=1e-6)
    np.testing.assert_allclose(stats.variance, 1.0, atol=1e-6)   # unit variance on the sample
    held = z[:5000] @ M
    fresh = np.sqrt(r) * rng.normal(size=(5000, 1, 5)) + np.sqrt(1 - r) * rng.normal(
        size=(5000, V, 5))
    np.testing.assert_allclose(view_statistics(fresh @ M, red).rayleigh, r, atol=0.04)
    assert view_statistics(held, red).features.shape == (5000, 5)


# ---- the VICReg pair loss --------------------------------------------------------------------


def test_crop_pair_loss_is_vicreg_on_two_crops_in_the_reference_convention() -> None:
    parts = mnist_parts(40, 0, 10, 10, seed=0)
    torch.manual_seed(3)
    net = WideLeNet(12, (16,))
    loss = CropPairLoss(0.2, 16, 12)
    torch.manual_seed(9)
    value = loss(net, parts.pretrain)
    torch.manual_seed(9)
    idx = torch.randperm(40)[:16].numpy()
    crop_seed = int(torch.randint(0, 2**31 - 1, (1,)))
    v = torch.from_numpy(random_crops(parts.pretrain[idx], 0.2, n_views=2, seed=crop_seed).views)
    za, zb = net(v[:, 0]), net(v[:, 1])
    ref = vicreg_loss_batch(za, zb, inv_coeff=25.0 / 12, var_coeff=12.5, cov_coeff=1.0)
    torch.testing.assert_close(value, ref, rtol=0, atol=0)
    # the reference implementation's invariance: mean over batch and dimensions
    manual = (25.0 * ((za - zb) ** 2).mean()
              + vicreg_loss_batch(za, zb, inv_coeff=0.0, var_coeff=12.5, cov_coeff=1.0))
    torch.testing.assert_close(value, manual, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        CropPairLoss(1.0, 16, 12)
    with pytest.raises(ValueError, match="batch"):
        CropPairLoss(0.5, 1, 12)


def test_embed_views_shapes_and_seed() -> None:
    torch.manual_seed(0)
    net = WideLeNet(5, (8,))
    imgs = mnist_parts(6, 0, 10, 10).pretrain
    a = embed_views(net, imgs, 0.5, 3, seed=4, batch_size=5)
    b = embed_views(net, imgs, 0.5, 3, seed=4)
    assert a.shape == (6, 3, 5) and a.dtype == np.float64
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert net.training


# ---- the sweep and its cell ------------------------------------------------------------------




def test_cell_is_consistent_and_deterministic() -> None:
    rec = mnist_crops_cell(0.5, ridge_grid=RIDGE_GRID, sensitivity_ridges=[1e-8, 1e-3], **TINY)
    d0 = TINY["d0"]
    assert rec["eigenvalues"].shape == (TINY["out_dim"],) and rec["err"].shape == (d0 + 1,)
    assert rec["tau_curve"].shape == (d0,) and rec["target_cosine"].shape == (d0,)
    assert (rec["crop_height"], rec["n_positions"], rec["n_pretrain"]) == (20, 81, 160)
    assert np.all(np.diff(rec["eigenvalues"]) <= 0)
    s2 = np.clip(rec["eigenvalues"], 0, 1)
    np.testing.assert_allclose(rec["s"] ** 2, s2, atol=1e-15)
    np.testing.assert_allclose(rec["tau_curve"], tau_curve(rec["s"], d0), rtol=1e-12)
    assert rec["tau"] == pytest.approx(rec["tau_curve"].min(), rel=1e-12)
    assert rec["d_star"] == int(np.argmin(rec["err"][1:])) + 1
    # App. D in sample: the Rayleigh quotients of the reduced functions are the eigenvalues of
    # B v = lambda (C + delta I) v, up to the regulariser delta (never below them when B v > 0;
    # within 5 % after 4 training steps, when the output still has near-null directions)
    rq, ev = rec["insample_rayleigh"], rec["eigenvalues"][:d0]
    assert np.all(rq[ev > 0] >= ev[ev > 0] - 1e-12)
    np.testing.assert_allclose(rq, ev, rtol=0.05)
    cos = rec["target_cosine"]
    assert np.all((cos >= 0) & (cos <= 1))
    assert rec["output_rank"] <= TINY["fc_widths"][-1]
    cov = rec["cov_eigenvalues"]
    assert cov.shape == (TINY["out_dim"],) and np.all(np.diff(cov) <= 0)
    assert rec["output_rank"] == int(np.sum(cov > 1e-6 * cov[0]))
    sens = rec["sensitivity_eigenvalues"]
    assert sens.shape == (2, TINY["out_dim"])
    np.testing.assert_allclose(sens[0], rec["eigenvalues"], atol=1e-12)  # est_ridge = 1e-8
    assert sens[1, 0] <= sens[0, 0] + 1e-12   # a larger regulariser lowers the top estimate
    again = mnist_crops_cell(0.5, ridge_grid=RIDGE_GRID, **TINY)
    for key in ("eigenvalues", "err", "loss", "target_cosine"):
        np.testing.assert_array_equal(rec[key], again[key])


def test_cell_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="d0"):
        mnist_crops_cell(0.5, **dict(TINY, d0=24))
    with pytest.raises(ValueError, match="n_probe_train - 2"):
        mnist_crops_cell(0.5, **dict(TINY, n_probe_train=8))
    with pytest.raises(ValueError, match="alpha"):
        mnist_crops_cell(0.0, **TINY)
    with pytest.raises(ValueError, match="est_ridge"):
        mnist_crops_cell(0.5, **dict(TINY, est_ridge=0.0))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            mnist_crops_cell(0.5, **dict(TINY, device="cuda"))


def test_build_declares_one_cell_per_alpha() -> None:
    params = dict(TINY, alphas=[0.5, 0.2, 0.05], lr=1e-3, weight_decay=0.0, inv_coeff=25.0,
                  var_coeff=25.0, cov_coeff=1.0, ridge_grid=list(RIDGE_GRID), device="cpu",
                  threads=1, est_ridge=1e-8, sensitivity_ridges=[1e-6])
    sweep = build(params)
    assert isinstance(sweep, Sweep) and SWEEPS["mnist_crops"] is build
    assert sweep.name == "mnist_crops" and len(sweep) == 3 and sweep.fixed["beta"] == 1.0
    with pytest.raises(KeyError, match="threads"):
        build({k: v for k, v in params.items() if k != "threads"})
    with pytest.raises(ValueError, match="distinct"):
        build(dict(params, alphas=[0.5, 0.5]))
    with pytest.raises(ValueError, match="alphas"):
        build(dict(params, alphas=[0.5, 1.5]))


# ---- reading the curves ----------------------------------------------------------------------


def test_strength_roles() -> None:
    assert strength_roles([0.5, 0.2, 0.05]) == {"weak": 0.5, "moderate": 0.2, "strong": 0.05}
    assert strength_roles([0.05, 0.5]) == {"weak": 0.5, "moderate": 0.5, "strong": 0.05}
    with pytest.raises(ValueError, match="2 distinct"):
        strength_roles([0.3, 0.3])


def test_curve_shape() -> None:
    d = np.arange(1, 41, dtype=float)
    v = curve_shape(1.5 + (d - 12) ** 2 / 100)
    assert v.d_min == 12 and v.interior and v.dips_then_rises
    assert v.rise == pytest.approx(28**2 / 100) and v.drop == pytest.approx(1.21)
    down = curve_shape(np.r_[np.inf, np.linspace(9, 2, 20)])
    assert down.d_min == 21 and not down.interior and not down.dips_then_rises
    assert down.down_share == 1.0 and down.rise == 0.0
    assert not curve_shape(1.5 + (d - 12) ** 2 / 100, threshold=10.0).dips_then_rises
    with pytest.raises(ValueError, match="NaN"):
        curve_shape([1.0, np.nan])


def test_rebound() -> None:
    assert rebound([1.0, 0.8, 0.6, 0.5]) == (0.0, 0)
    gap, at = rebound([1.0, 0.6, 0.7, 0.55, 0.65, 0.4])
    assert gap == pytest.approx(0.1) and at in (2, 4)
    with pytest.raises(ValueError, match="finite"):
        rebound([1.0, np.nan])
