"""Gradient descent reaches the closed forms; the trainer is deterministic; App. D reduction.

Full-batch AdamW (cosine schedule, float64, no weight decay) on a lookup-table encoder over a
small exact finite context (N = 12, M = 9, d = 3). Tolerances are stated per case: loss within
``1e-6`` of the closed-form minimum (VICReg: within ``5e-3`` below ``min L_N``) and largest
principal angle to the predicted eigenspace, in the L^2(P) metric, below ``1e-2`` rad
(VICReg: ``2e-2``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import graph_T, joint_and_system, max_angle, random_joint, svd_system, t

from contexture.base.linalg import weighted_eigh
from contexture.learning import encoders as en
from contexture.learning import objectives as ob
from contexture.learning import training as tr

torch.set_num_threads(1)
N, M, D = 12, 9, 3


@pytest.fixture(scope="module")
def ctx():
    return joint_and_system(N, M, seed=1)


class TwoTables(torch.nn.Module):
    """Phi on the N points of X and Psi on the M points of A (the asymmetric LoRA loss)."""

    def __init__(self, n: int, m: int, d: int) -> None:
        super().__init__()
        self.phi = en.LookupEncoder(n, d, seed=1)
        self.psi = en.LookupEncoder(m, d, seed=2)


def fit(rows: int, loss, data, steps: int, lr: float, d: int = D):
    hist = tr.train(lambda: en.LookupEncoder(rows, d, seed=0), loss, data, steps, lr=lr,
                    seed=0, progress=False, schedule="cosine")
    return hist, hist.encoder().detach().numpy()


# ------------------------------------------------------- Theorem 10 and the closed-form minima

def test_gd_spectral_contrastive(ctx):
    J, s, mu, nu = ctx
    hist, psi = fit(M, lambda e, J: ob.spectral_contrastive_loss(e(), J), J, 300, 0.1)
    assert hist.final_loss == pytest.approx(ob.spectral_contrastive_minimum(s, D), abs=1e-6)
    pa, px = J.sum(0), J.sum(1)
    assert max_angle(psi, nu[:, 1:D + 1], pa, centre=True) < 1e-2            # Corollary 9
    phi = (J / px[:, None]) @ (psi - pa @ psi)                           # average encoder
    assert max_angle(phi, mu[:, 1:D + 1], px) < 1e-2                         # Theorem 10


def test_gd_non_contrastive_exact_constraint(ctx):
    J, s, mu, nu = ctx
    hist, psi = fit(M, lambda e, J: ob.non_contrastive_loss(e(), J), J, 300, 0.1)
    assert hist.final_loss == pytest.approx(ob.non_contrastive_minimum(s, D), abs=1e-6)
    assert max_angle(psi, nu[:, 1:D + 1], J.sum(0), centre=True) < 1e-2


def test_gd_vicreg_surrogate(ctx):
    J, s, mu, nu = ctx
    loss = lambda e, J: ob.vicreg_loss(e(), J, inv_coeff=1.0, var_coeff=10.0,  # noqa: E731
                                       cov_coeff=10.0)
    hist, psi = fit(M, loss, J, 1000, 0.05)
    # VICReg at the L_N optimum equals min L_N (penalties vanish); its own minimum is slightly
    # lower (the hinge allows Var = 1 - eps and small correlations): within 5e-3 below
    best = ob.non_contrastive_minimum(s, D)
    assert best - 5e-3 < hist.final_loss <= best
    assert max_angle(psi, nu[:, 1:D + 1], J.sum(0), centre=True) < 2e-2


def test_gd_lora(ctx):
    J, s, mu, nu = ctx
    hist = tr.train(lambda: TwoTables(N, M, D), lambda e, J: ob.lora_loss(e.phi(), e.psi(), J), J,
                    400, lr=0.2, seed=0, progress=False, schedule="cosine")
    assert hist.final_loss == pytest.approx(ob.lora_minimum(s, D), abs=1e-6)
    phi = hist.encoder.phi().detach().numpy()
    psi = hist.encoder.psi().detach().numpy()
    assert max_angle(phi, mu[:, :D], J.sum(1)) < 1e-2                        # mu_0 included
    assert max_angle(psi, nu[:, :D], J.sum(0)) < 1e-2


# ------------------------------------------------------------------------------ Theorem 6

@pytest.mark.parametrize("balanced", [True, False])
def test_gd_theorem6(balanced):
    J = random_joint(N, 4, seed=5, balanced=balanced)
    px = J.sum(1)
    s, mu, nu = svd_system(J)
    lam, V = weighted_eigh(ob.supervised_kernel(J), px)
    hist, phi = fit(N, lambda e, J: ob.supervised_risk(e(), J, bias=False), J, 300, 0.1)
    assert hist.final_loss == pytest.approx(ob.supervised_minimum(lam, 1.0, D), abs=1e-6)
    assert max_angle(phi, V[:, :D], px) < 1e-2                               # Lemma-18 eigenspace
    gap = max_angle(phi, mu[:, :D], px)                                      # vs. the contexture
    assert gap < 1e-2 if balanced else gap > 0.1


def test_gd_balanced_risk_caveat():
    """Theorem 7 caveat (c(x) not constant): randomised, imbalanced labels, d = 1: GD beats mu_1."""
    J = random_joint(8, 3, seed=4)
    s, mu, nu = svd_system(J)
    at_mu1 = float(ob.balanced_risk(t(mu[:, 1:2]), J))
    hist, phi = fit(8, lambda e, J: ob.balanced_risk(e(), J), J, 300, 0.1, d=1)
    assert hist.final_loss < at_mu1 - 1e-4
    assert max_angle(phi, mu[:, 1:2], J.sum(1), centre=True) > 1e-2


# ----------------------------------------------------------------------------- Theorem 12

def lazy_graph() -> np.ndarray:
    rng = np.random.default_rng(14)
    A = rng.uniform(size=(N, N)) * (rng.uniform(size=(N, N)) < 0.4)
    W = np.triu(A, 1) + np.triu(A, 1).T
    return W + np.diag(W.sum(1))


def test_gd_laplacian_eigenmaps_lazy_walk():
    W = lazy_graph()
    lam, V, p = graph_T(W)
    s, mu, nu = svd_system(W / W.sum())
    hist, phi = fit(N, lambda e, W: ob.laplacian_eigenmaps_loss(e(), W), W, 500, 0.2)
    assert hist.final_loss == pytest.approx(ob.laplacian_eigenmaps_minimum(lam, D), abs=1e-6)
    assert max_angle(phi, mu[:, 1:D + 1], p, centre=True) < 1e-2            # learns the contexture


def test_gd_laplacian_eigenmaps_six_cycle():
    W = np.zeros((6, 6))
    for i in range(6):
        W[i, (i + 1) % 6] = W[(i + 1) % 6, i] = 1.0
    lam, V, p = graph_T(W)
    hist, phi = fit(6, lambda e, W: ob.laplacian_eigenmaps_loss(e(), W), W, 300, 0.1, d=2)
    assert hist.final_loss == pytest.approx(1.0, abs=1e-6)               # 2 - (.5 + .5)
    assert max_angle(phi, V[:, 1:3], p, centre=True) < 1e-2                  # eigenvalue .5 space
    alternating = np.array([[1.0, -1, 1, -1, 1, -1]]).T                 # s = 1, eigenvalue -1
    assert max_angle(alternating, phi, p, centre=True) == pytest.approx(np.pi / 2, abs=1e-2)


# --------------------------------------------------------------------------------- trainer

def test_train_is_deterministic():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(64, 5)))

    def loss(enc, x):       # random augmentations drawn from torch's (seeded) global generator
        z = enc(x + 0.1 * torch.randn_like(x))
        z_pos = enc(x + 0.1 * torch.randn_like(x))
        return ob.vicreg_loss_batch(z, z_pos)

    factory = lambda: en.MLP(5, 16, 2, 4).double()  # noqa: E731
    runs = [tr.train(factory, loss, x, 15, lr=1e-2, weight_decay=1e-4, seed=seed,
                     progress=False, callback=lambda e, k: {"k": k}, callback_every=5)
            for seed in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    assert runs[0].final_loss == runs[1].final_loss
    assert not np.array_equal(runs[0].loss, runs[2].loss)
    assert [k for k, _ in runs[0].records] == [0, 5, 10, 15]
    assert runs[0].loss[-1] < runs[0].loss[0]


def test_train_validation_and_nonfinite():
    enc = en.LookupEncoder(4, 2, seed=0)
    with pytest.raises(ValueError, match="lr must be"):
        tr.train(enc, lambda e, _: e().sum(), None, 5, lr=0.0, progress=False)
    with pytest.raises(ValueError, match="schedule must be one of"):
        tr.train(enc, lambda e, _: e().sum(), None, 5, schedule="step", progress=False)
    with pytest.raises(FloatingPointError, match="non-finite"):
        tr.train(enc, lambda e, _: e().sum() / 0.0, None, 5, progress=False)
    with pytest.raises(ValueError, match="device must be"):
        tr.train(enc, lambda e, _: e().sum(), None, 1, progress=False, device="tpu")


def test_train_device_argument_and_check_device():
    assert tr.check_device("cpu") == torch.device("cpu")
    assert tr.check_device(torch.device("cpu")).type == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        tr.check_device("not a device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            tr.check_device("cuda")
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(32, 3)))
    factory = lambda: en.MLP(3, 8, 2, 2).double()  # noqa: E731

    def loss(enc, data):
        return ob.vicreg_loss_batch(enc(data), enc(data + 0.1 * torch.randn_like(data)))

    a = tr.train(factory, loss, x, 4, lr=1e-2, seed=1, progress=False, device="cpu")
    b = tr.train(factory, loss, x, 4, lr=1e-2, seed=1, progress=False)
    np.testing.assert_array_equal(a.loss, b.loss)           # CPU is the reference device
    assert next(a.encoder.parameters()).device.type == "cpu"


# -------------------------------------------------------------------------------- encoders

def test_encoders_shapes_and_validation():
    torch.manual_seed(0)
    for depth, skip in ((1, True), (3, True), (3, False)):
        net = en.MLP(8, 32, depth, 5, skip=skip)
        assert net(torch.randn(7, 8)).shape == (7, 5)
        assert len(net.hidden) == depth
    lenet = en.LeNet(10)
    assert lenet(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert lenet(torch.randn(2, 784)).shape == (2, 10)
    table = en.LookupEncoder(6, 2, seed=3)
    assert table().dtype == torch.float64 and table(torch.tensor([0, 5])).shape == (2, 2)
    assert torch.equal(table.table, en.LookupEncoder(6, 2, seed=3).table)
    with pytest.raises(ValueError, match="depth must be an integer"):
        en.MLP(8, 32, 0, 5)
    with pytest.raises(ValueError, match="activation must be one of"):
        en.MLP(8, 32, 1, 5, activation="sigmoid")
    with pytest.raises(ValueError, match="x must have shape"):
        lenet(torch.randn(2, 3, 28, 28))


# ---------------------------------------------------------------------- App. D reduction

def dual_gram(J: np.ndarray) -> np.ndarray:
    """k_X^+(x, x') = sum_a J[x,a] J[x',a] / (px px' pa) (Definition 1)."""
    px, pa = J.sum(1), J.sum(0)
    return (J / pa) @ J.T / np.outer(px, px)


def test_posthoc_reduction_recovers_exact_spectrum(ctx):
    """Phi = [mu_1..mu_d, 3 noise functions] mixed by a random invertible map, plus a
    constant: the top-d generalised eigenvalues are exactly s_1^2..s_d^2 (Rayleigh-Ritz on a
    subspace containing the top eigenspace), tolerance 1e-9."""
    J, s, mu, nu = ctx
    px = J.sum(1)
    rng = np.random.default_rng(20)
    base = np.column_stack([mu[:, 1:D + 1], rng.normal(size=(N, 3))])
    phi = base @ rng.normal(size=(D + 3, D + 3)) + 5.0
    out = tr.posthoc_reduce(phi, D, gram=dual_gram(J), weights=px, ridge=0.0)
    np.testing.assert_allclose(out.eigenvalues[:D], s[1:D + 1] ** 2, atol=1e-9)
    assert np.all(out.eigenvalues[D:] <= s[D + 1] ** 2 + 1e-9)
    assert max_angle(out.features, mu[:, 1:D + 1], px) < 1e-8
    cov = out.features.T @ (px[:, None] * out.features)
    np.testing.assert_allclose(cov, np.eye(D), atol=1e-9)               # unit variance
    np.testing.assert_allclose(out.transform(phi), out.features, atol=1e-12)
    # the matrix-free form gives the same answer
    K = dual_gram(J)
    out2 = tr.posthoc_reduce(torch.as_tensor(phi), D, weights=px, ridge=0.0,
                             apply_kernel=lambda F: K @ (px[:, None] * F))
    np.testing.assert_allclose(out2.eigenvalues, out.eigenvalues, atol=1e-12)
    np.testing.assert_allclose(out2.features, out.features, atol=1e-10)


def test_posthoc_reduction_uniform_sample_and_collapse():
    """Kernel PCA on a sample (uniform weights, A = X, row-stochastic P): with Phi spanning all
    functions, the eigenvalues are those of K/n; duplicated (collapsed) columns are harmless
    with the default ridge (relative 1e-8), tolerance 1e-6."""
    rng = np.random.default_rng(21)
    n = 15
    P = rng.gamma(0.5, size=(n, n)) + 1e-3
    P /= P.sum(1, keepdims=True)
    pA = P.mean(0)
    K = (P / pA) @ P.T
    exact = np.sort(np.linalg.eigvalsh(K / n))[::-1][1:]                # drop the trivial 1
    phi = rng.normal(size=(n, n - 1))
    collapsed = np.column_stack([phi, phi[:, :4] @ rng.normal(size=(4, 3))])
    out = tr.posthoc_reduce(collapsed, 5, gram=K)
    np.testing.assert_allclose(out.eigenvalues[: n - 1], exact, atol=1e-6)
    with pytest.raises(ValueError, match="ridge > 0"):
        tr.posthoc_reduce(collapsed, 5, gram=K, ridge=0.0)
    with pytest.raises(ValueError, match="exactly one of"):
        tr.posthoc_reduce(phi, 5)
    with pytest.raises(ValueError, match="d must be an integer"):
        tr.posthoc_reduce(phi, n, gram=K)
