"""Closed-form checks of contexture.learning.objectives on small exact finite contexts (Theorems
6-12 and the closed-form minima from their proofs).

Every loss is evaluated at the exact solution predicted by its theorem and compared with the
closed-form minimum (tolerance 1e-10 unless stated), then checked not to be beaten by random
feasible points. Spans are compared by principal angles in the L^2(P) metric.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from helpers import graph_T, joint_and_system, max_angle, random_joint, svd_system, t

from contexture.base.linalg import weighted_eigh
from contexture.learning import objectives as ob

torch.set_num_threads(1)
TOL = 1e-10  # exact evaluations, float64
N, M, D = 12, 9, 3


@pytest.fixture(scope="module")
def ctx():
    J, s, mu, nu = joint_and_system(N, M, seed=1)
    assert s[D] - s[D + 1] > 0.05  # spectral gap at d = 3: s = 1, .712, .657, .617, .511, ...
    return J, s, mu, nu


def random_tables(rows: int, cols: int, count: int, seed: int) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [t(rng.normal(size=(rows, cols)) * rng.uniform(0.1, 3.0) + rng.normal(size=cols))
            for _ in range(count)]


# -------------------------------------------------------------------- self-supervised losses

def test_spectral_contrastive_closed_form(ctx):
    J, s, mu, nu = ctx
    best = ob.spectral_contrastive_minimum(s, D)
    assert best == pytest.approx(-0.5 * np.sum(s[1:D + 1] ** 4), abs=TOL)
    psi = nu[:, 1:D + 1] * s[1:D + 1]                      # Psi~* = diag(s) [nu_1..nu_d]
    Q = scipy.linalg.qr(np.random.default_rng(0).normal(size=(D, D)))[0]
    for table in (psi, psi @ Q + 3.0):                   # rotation and constant shift invariance
        assert float(ob.spectral_contrastive_loss(t(table), J)) == pytest.approx(best, abs=TOL)
    values = [float(ob.spectral_contrastive_loss(x, J)) for x in random_tables(M, D, 200, 1)]
    assert min(values) > best


def test_non_contrastive_closed_form(ctx):
    J, s, mu, nu = ctx
    best = ob.non_contrastive_minimum(s, D)
    assert best == pytest.approx(2 * np.sum(1 - s[1:D + 1] ** 2), abs=TOL)
    psi = nu[:, 1:D + 1]                                  # Cov_{P_A} = I already
    raw = float(ob.non_contrastive_loss(t(psi), J, whiten_psi=False))
    assert raw == pytest.approx(best, abs=TOL)
    mixed = psi @ np.random.default_rng(2).normal(size=(D, D)) - 1.5   # same span, not whitened
    assert float(ob.non_contrastive_loss(t(mixed), J)) == pytest.approx(best, abs=TOL)
    values = [float(ob.non_contrastive_loss(x, J)) for x in random_tables(M, D, 200, 2)]
    assert min(values) > best
    # whitening really lands on the constraint set
    w = ob.whiten(t(mixed), J.sum(0)).numpy()
    pa = J.sum(0)
    np.testing.assert_allclose(w.T @ (pa[:, None] * w), np.eye(D), atol=1e-12)
    np.testing.assert_allclose(pa @ w, 0.0, atol=1e-12)


def test_vicreg_penalties_vanish_on_the_constraint_set(ctx):
    J, s, mu, nu = ctx
    psi = t(nu[:, 1:D + 1])
    for coeffs in ((25.0, 25.0, 1.0), (1.0, 10.0, 10.0)):
        value = float(ob.vicreg_loss(psi, J, inv_coeff=coeffs[0], var_coeff=coeffs[1],
                                     cov_coeff=coeffs[2]))
        assert value == pytest.approx(coeffs[0] * ob.non_contrastive_minimum(s, D), abs=1e-9)
    collapsed = t(np.repeat(nu[:, 1:2], D, axis=1) * 0.5)  # one direction, std 0.5
    value = float(ob.vicreg_loss(collapsed, J, inv_coeff=0.0, var_coeff=1.0, cov_coeff=0.0))
    assert value == pytest.approx(2 * (1 - np.sqrt(0.25 + 1e-4)), abs=1e-12)
    value = float(ob.vicreg_loss(collapsed, J, inv_coeff=0.0, var_coeff=0.0, cov_coeff=1.0))
    assert value == pytest.approx(2 * (D * (D - 1) * 0.25 ** 2) / D, abs=1e-12)


def test_lora_closed_form_and_density_ratio(ctx):
    J, s, mu, nu = ctx
    best = ob.lora_minimum(s, D)
    assert best == pytest.approx(-np.sum(s[:D] ** 2), abs=TOL)
    phi, psi = mu[:, :D] * s[:D], nu[:, :D]
    assert float(ob.lora_loss(t(phi), t(psi), J)) == pytest.approx(best, abs=TOL)
    # optimum Phi Psi^T is the best rank-d approximation of the density ratio R = P+/(P_X P_A)
    # in L^2(P_X x P_A) (Eckart-Young with Lemma 4). Computed independently of the SVD that
    # gave mu, nu: project R~ = diag(sqrt px) R diag(sqrt pa) onto the top-d eigenvectors of
    # R~^T R~ (numpy.linalg.eigh), then undo the weights.
    px, pa = J.sum(1), J.sum(0)
    ratio = J / np.outer(px, pa)
    weighted = np.sqrt(px)[:, None] * ratio * np.sqrt(pa)[None, :]
    _, V = np.linalg.eigh(weighted.T @ weighted)
    top = V[:, -D:]
    best_rank_d = (weighted @ top @ top.T) / np.sqrt(px)[:, None] / np.sqrt(pa)[None, :]
    np.testing.assert_allclose(phi @ psi.T, best_rank_d, atol=1e-10)
    full = (mu * s) @ nu.T
    np.testing.assert_allclose(full, ratio, rtol=1e-10)
    rng = np.random.default_rng(3)
    for _ in range(200):
        f, g = rng.normal(size=(N, D)), rng.normal(size=(M, D)) * rng.uniform(0.1, 2)
        assert float(ob.lora_loss(t(f), t(g), J)) > best


# ------------------------------------------------------------------------ supervised, Eq. (1)

@pytest.mark.parametrize("balanced", [True, False])
def test_theorem6_unbiased_one_hot(balanced):
    J = random_joint(N, 4, seed=5, balanced=balanced)
    px, pa = J.sum(1), J.sum(0)
    s, mu, nu = svd_system(J)
    k = ob.supervised_kernel(J)                      # Lemma 18: sum_a P(a|x) P(a|x')
    P = J / px[:, None]
    np.testing.assert_allclose(k, P @ P.T, atol=1e-15)
    lam, V = weighted_eigh(k, px)
    best = ob.supervised_minimum(lam, 1.0, D)
    assert float(ob.supervised_risk(t(V[:, :D]), J, bias=False)) == pytest.approx(best, abs=TOL)
    values = [float(ob.supervised_risk(x, J, bias=False)) for x in random_tables(N, D, 200, 4)]
    assert min(values) > best
    contexture = float(ob.supervised_risk(t(mu[:, :D]), J, bias=False))
    if balanced:    # Lambda = I/M: the eigenspaces coincide (mu_0 included) and lam = s^2/M
        np.testing.assert_allclose(lam[:4], s[:4] ** 2 / 4, atol=1e-12)
        assert contexture == pytest.approx(best, abs=TOL)
        assert max_angle(V[:, :D], mu[:, :D], px) < 1e-8
    else:           # Lambda up-weights large classes: a different span, strictly worse risk
        assert np.ptp(pa) > 0.05
        assert contexture > best + 1e-3
        assert max_angle(V[:, :D], mu[:, :D], px) > 0.1


def test_theorem8_biased_regression(ctx):
    J, s, mu, nu = ctx
    px, pa = J.sum(1), J.sum(0)
    Y = np.random.default_rng(6).normal(size=(M, 4))          # real targets, d_A = 4
    k = ob.supervised_kernel(J, Y, bias=True)                 # centred linear loss kernel
    lam, V = weighted_eigh(k, px)
    second = float(pa @ ((Y - pa @ Y) ** 2).sum(1))
    best = ob.supervised_minimum(lam, second, D)
    assert float(ob.supervised_risk(t(V[:, :D]), J, Y)) == pytest.approx(best, abs=TOL)
    values = [float(ob.supervised_risk(x, J, Y)) for x in random_tables(N, D, 200, 7)]
    assert min(values) > best
    # unbiased head: uncentred linear kernel and E||A||^2
    k0 = ob.supervised_kernel(J, Y)
    lam0, V0 = weighted_eigh(k0, px)
    best0 = ob.supervised_minimum(lam0, float(pa @ (Y ** 2).sum(1)), D)
    assert float(ob.supervised_risk(t(V0[:, :D]), J, Y, bias=False)) == pytest.approx(best0,
                                                                                      abs=TOL)


def test_balanced_risk_balanced_classes_learns_contexture():
    m = 4
    J = random_joint(N, m, seed=8, balanced=True)
    s, mu, nu = svd_system(J)
    d = 2
    best = np.sqrt(m) * (1 - 1 / m - np.sum(s[1:d + 1] ** 2) / m)   # w(a) = sqrt(M) constant
    assert float(ob.balanced_risk(t(mu[:, 1:d + 1]), J)) == pytest.approx(best, abs=TOL)
    values = [float(ob.balanced_risk(x, J)) for x in random_tables(N, d, 200, 9)]
    assert min(values) > best


def test_supervised_batch_matches_population_exactly(ctx):
    J, s, mu, nu = ctx
    phi = random_tables(N, D, 1, 10)[0]
    Y = np.random.default_rng(11).normal(size=(M, 2))
    xi, ai = np.meshgrid(np.arange(N), np.arange(M), indexing="ij")
    xi, ai = xi.ravel(), ai.ravel()
    n = xi.size
    w = t(J[xi, ai] * n)                                    # (1/n) sum_i w_i == E_{P+}
    for bias in (True, False):
        pop = float(ob.supervised_risk(phi, J, Y, bias=bias))
        batch = float(ob.supervised_risk_batch(phi[xi], t(Y[ai]), bias=bias, weights=w))
        assert batch == pytest.approx(pop, abs=1e-12)
    pop = float(ob.balanced_risk(phi, J))
    wb = t(J[xi, ai] * n / np.sqrt(J.sum(0)[ai]))
    batch = float(ob.supervised_risk_batch(phi[xi], t(np.eye(M)[ai]), weights=wb))
    assert batch == pytest.approx(pop, abs=1e-12)


# ------------------------------------------------------------- denoising autoencoder, Eq. (2)

def test_theorem11_dae_linear_decoder(ctx):
    J, s, mu, nu = ctx
    pa = J.sum(0)
    X = np.random.default_rng(12).normal(size=(N, 3))          # clean inputs, d_X = 3
    d = 2
    k = ob.supervised_kernel(J.T, X, bias=True)                # kernel of T* Lambda T on A
    lam, V = weighted_eigh(k, pa)
    assert np.all(lam[3:] < 1e-12)                             # rank <= d_X
    second = float(J.sum(1) @ ((X - J.sum(1) @ X) ** 2).sum(1))
    best = ob.supervised_minimum(lam, second, d)
    assert float(ob.dae_risk(t(V[:, :d]), J, X)) == pytest.approx(best, abs=TOL)
    values = [float(ob.dae_risk(x, J, X)) for x in random_tables(M, d, 200, 13)]
    assert min(values) > best
    # with a linear decoder the DAE does not learn the contexture in general
    assert max_angle(V[:, :d], nu[:, 1:d + 1], pa, centre=True) > 0.1


# ---------------------------------------------------------------- Laplacian eigenmaps, Eq. (3)

def test_theorem12_lazy_walk():
    rng = np.random.default_rng(14)
    A = rng.uniform(size=(N, N)) * (rng.uniform(size=(N, N)) < 0.4)
    W = np.triu(A, 1) + np.triu(A, 1).T
    W += np.diag(W.sum(1))                                    # lazy: T = (I + D^{-1}W)/2 >= 0
    lam, V, p = graph_T(W)
    assert lam[-1] > -1e-12 and lam[0] == pytest.approx(1.0, abs=1e-12)
    best = ob.laplacian_eigenmaps_minimum(lam, D)
    assert float(ob.laplacian_eigenmaps_loss(t(V[:, 1:D + 1]), W)) == pytest.approx(best, abs=TOL)
    values = [float(ob.laplacian_eigenmaps_loss(x, W)) for x in random_tables(N, D, 200, 15)]
    assert min(values) > best
    s, mu, nu = svd_system(W / W.sum())                       # T >= 0: eigen == singular
    np.testing.assert_allclose(s[:D + 1], lam[:D + 1], atol=1e-12)
    assert max_angle(V[:, 1:D + 1], mu[:, 1:D + 1], p) < 1e-8


def test_theorem12_six_cycle_caveat():
    W = np.zeros((6, 6))
    for i in range(6):
        W[i, (i + 1) % 6] = W[(i + 1) % 6, i] = 1.0
    lam, V, p = graph_T(W)
    np.testing.assert_allclose(lam, [1, .5, .5, -.5, -.5, -1], atol=1e-12)
    s, mu, nu = svd_system(W / W.sum())
    np.testing.assert_allclose(s, [1, 1, .5, .5, .5, .5], atol=1e-12)
    d = 2
    best = ob.laplacian_eigenmaps_minimum(lam, d)
    assert best == pytest.approx(1.0, abs=TOL)
    assert float(ob.laplacian_eigenmaps_loss(t(V[:, 1:3]), W)) == pytest.approx(best, abs=TOL)
    # a top-2 singular choice includes the alternating function (eigenvalue -1, s = 1)
    alternating = np.array([1.0, -1, 1, -1, 1, -1])
    contexture = np.column_stack([alternating, V[:, 1]])
    assert float(ob.laplacian_eigenmaps_loss(t(contexture), W)) == pytest.approx(2.5, abs=TOL)
    values = [float(ob.laplacian_eigenmaps_loss(x, W)) for x in random_tables(6, d, 200, 16)]
    assert min(values) > best


# ----------------------------------------------------------- batch forms vs population forms

def test_batch_forms_are_consistent_estimates(ctx):
    """Monte-Carlo: n = 40000 sampled triples (x, a, a+); relative tolerance 3% (observed
    deviations are <= 1.3% for this seed)."""
    J, s, mu, nu = ctx
    rng = np.random.default_rng(17)
    n = 40000
    px = J.sum(1)
    x = rng.choice(N, size=n, p=px)
    cond = np.cumsum(J / px[:, None], axis=1)
    draw = lambda: np.minimum((rng.uniform(size=(n, 1)) > cond[x]).sum(1), M - 1)  # noqa: E731
    a, a_pos = draw(), draw()
    psi = random_tables(M, D, 1, 18)[0]
    phi = random_tables(N, D, 1, 19)[0]
    ia, ip = torch.as_tensor(a), torch.as_tensor(a_pos)
    pairs = [
        (ob.spectral_contrastive_loss(psi, J),
         ob.spectral_contrastive_loss_batch(psi[ia], psi[ip])),
        (ob.non_contrastive_loss(psi, J), ob.non_contrastive_loss_batch(psi[ia], psi[ip])),
        (ob.vicreg_loss(psi, J), ob.vicreg_loss_batch(psi[ia], psi[ip])),
        (ob.lora_loss(phi, psi, J), ob.lora_loss_batch(phi[torch.as_tensor(x)], psi[ia])),
    ]
    for pop, batch in pairs:
        pop, batch = float(pop), float(batch)
        assert abs(batch - pop) < 0.03 * max(1.0, abs(pop)), (pop, batch)
    # the graph batch form (Eq. (3)) is half the non-contrastive batch form
    z, zp = psi[ia], psi[ip]
    assert float(ob.laplacian_eigenmaps_loss_batch(z, zp)) == pytest.approx(
        0.5 * float(ob.non_contrastive_loss_batch(z, zp)), abs=1e-14)


# ------------------------------------------------------------------------------ validation

def test_validation_messages(ctx):
    J, s, mu, nu = ctx
    psi = t(nu[:, 1:D + 1])
    with pytest.raises(ValueError, match="J must sum to 1"):
        ob.spectral_contrastive_loss(psi, J * 2)
    with pytest.raises(ValueError, match="J must be nonnegative"):
        ob.spectral_contrastive_loss(psi, J - J.max())
    bad = J.copy()
    bad[:, 0] = 0
    with pytest.raises(ValueError, match="positive marginals"):
        ob.spectral_contrastive_loss(psi, bad / bad.sum())
    with pytest.raises(ValueError, match="psi must have 9 rows"):
        ob.non_contrastive_loss(t(mu[:, :D]), J)
    with pytest.raises(TypeError, match="psi must be a torch.Tensor"):
        ob.non_contrastive_loss(nu[:, 1:D + 1], J)
    with pytest.raises(ValueError, match="singular"):
        ob.non_contrastive_loss(t(np.repeat(nu[:, 1:2], 2, axis=1)), J)
    with pytest.raises(ValueError, match="descending"):
        ob.spectral_contrastive_minimum(s[::-1], D)
    with pytest.raises(ValueError, match="at least 10 entries"):
        ob.non_contrastive_minimum(s, 9)
    with pytest.raises(ValueError, match="d must be an integer"):
        ob.lora_minimum(s, 0)
    with pytest.raises(ValueError, match="symmetric"):
        ob.laplacian_eigenmaps_loss(t(mu[:, :2]), J[:, :9].T @ J[:, :9] + np.triu(np.ones((9, 9))))
    with pytest.raises(ValueError, match="same shape"):
        ob.spectral_contrastive_loss_batch(psi, psi[:4])
    with pytest.raises(ValueError, match="ridge must be"):
        ob.supervised_risk(t(mu[:, :D]), J, ridge=-1.0)


@pytest.mark.parametrize("bias", [True, False])
def test_balanced_risk_equals_weighted_least_squares_imbalanced(bias):
    """``balanced_risk`` against plain weighted least squares (numpy lstsq), imbalanced classes.

    Independent of the library's closed-form head: one row per pair ``(x, a)`` with weight
    ``J[x, a] / sqrt(P_A(a))``, features ``[phi(x), 1]`` (``phi(x)`` alone without a bias) and
    one-hot target ``e_a``; the rows are scaled by the square root of their weight and solved by
    ``np.linalg.lstsq``. The Theorem-7 counterexample of chapter ``ch02_supervised`` rests on this
    risk. Tolerance 1e-10.
    """
    rng = np.random.default_rng(11)
    n, classes, d = 10, 4, 2
    cond = rng.dirichlet(4 * np.array([0.55, 0.25, 0.15, 0.05]), size=n)
    px = rng.dirichlet(np.ones(n))
    J = px[:, None] * cond
    pa = J.sum(0)
    assert pa.max() / pa.min() > 3                     # the classes are clearly imbalanced
    phi = rng.normal(size=(n, d))
    xs, as_ = np.divmod(np.arange(n * classes), classes)
    w = J[xs, as_] / np.sqrt(pa[as_])
    feats = phi[xs] if not bias else np.column_stack([phi[xs], np.ones(xs.size)])
    target = np.eye(classes)[as_]
    coef = np.linalg.lstsq(np.sqrt(w)[:, None] * feats, np.sqrt(w)[:, None] * target,
                           rcond=None)[0]
    expected = float((w[:, None] * (feats @ coef - target) ** 2).sum())
    got = float(ob.balanced_risk(t(phi), J, bias=bias))
    assert got == pytest.approx(expected, abs=TOL)
    # the weight matters: the unweighted risk is a different number here
    assert abs(float(ob.supervised_risk(t(phi), J, bias=bias)) - got) > 1e-3


# ------------------------------------------------------------------ VICReg invariance convention

def test_vicreg_invariance_mean_is_inv_coeff_over_d(ctx):
    """'mean' (Bardes et al.'s reference code, F.mse_loss) equals 'sum' with inv_coeff / d."""
    J, s, mu, nu = ctx
    rng = np.random.default_rng(5)
    z = torch.as_tensor(rng.normal(size=(50, 6)))
    zp = z + 0.3 * torch.as_tensor(rng.normal(size=(50, 6)))
    mean = ob.vicreg_loss_batch(z, zp, invariance="mean")
    assert float(mean) == pytest.approx(float(ob.vicreg_loss_batch(z, zp, inv_coeff=25 / 6)),
                                        rel=1e-14)
    # the invariance term of the reference implementation: 25 * F.mse_loss(z, z')
    only_inv = ob.vicreg_loss_batch(z, zp, var_coeff=0.0, cov_coeff=0.0, invariance="mean")
    assert float(only_inv) == pytest.approx(
        25 * float(torch.nn.functional.mse_loss(z, zp)), rel=1e-14)
    assert ob.VICREG_INVARIANCE == ("sum", "mean")
    psi = t(nu[:, 1:D + 1])
    assert float(ob.vicreg_loss(psi, J, invariance="mean")) == pytest.approx(
        float(ob.vicreg_loss(psi, J, inv_coeff=25 / D)), rel=1e-14)
    assert float(ob.vicreg_loss(psi, J)) == float(ob.vicreg_loss(psi, J, invariance="sum"))
    with pytest.raises(ValueError, match="invariance must be one of"):
        ob.vicreg_loss_batch(z, zp, invariance="avg")
    with pytest.raises(ValueError, match="invariance must be one of"):
        ob.vicreg_loss(psi, J, invariance="avg")
