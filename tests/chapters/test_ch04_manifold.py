"""Checks of contexture.chapters.ch04_manifold and of every claim asserted in chapter ch04_manifold.

Small exact graphs and point clouds (float64). Spans are compared by principal angles in
L^2(P_X), so the checks are invariant under sign flips and rotations. Tolerances: 1e-10 for exact
identities, 1e-8 for objective values reached by gradient descent, 1e-6 rad for learned spans;
the manifold checks use the chapter's thresholds (canonical correlations >= 0.95 / 0.85,
|Spearman| >= 0.9).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import max_angle
from scipy.stats import spearmanr

from contexture.base.linalg import weighted_eigh
from contexture.chapters.ch04_manifold import (
    cycle_weights,
    eigenmaps_solution,
    gaussian_weights,
    knn_weights,
    lazy_weights,
    noisy_circle,
    random_feasible,
    random_graph_weights,
    rayleigh_trace,
    swiss_roll,
    theorem12_margin,
    walk_spectrum,
)
from contexture.contexts import graph_context, knn_context
from contexture.learning.encoders import LookupEncoder
from contexture.learning.objectives import (
    laplacian_eigenmaps_loss,
    laplacian_eigenmaps_minimum,
    whiten,
)
from contexture.learning.training import train
from contexture.metrics import canonical_correlations

TOL = 1e-10
TRAIN_TOL = 1e-8
ANGLE_TOL = 1e-6
D = 2


def eq3(phi, W, whiten_phi=True):
    return float(laplacian_eigenmaps_loss(torch.tensor(np.asarray(phi)), W, whiten_phi=whiten_phi))


def eigenmaps_gd(W, dim, steps=800, lr=0.05):
    torch.set_num_threads(1)
    h = train(lambda: LookupEncoder(W.shape[0], dim, init_scale=0.5, seed=1),
              lambda e, W: laplacian_eigenmaps_loss(e(), W), W, steps, lr=lr, seed=1,
              progress=False, schedule="cosine")
    px = W.sum(1) / W.sum()
    return h, whiten(h.encoder(), px).detach().numpy()


@pytest.fixture(scope="module")
def graph():
    W = random_graph_weights(10, 0.3, 3)  # the chapter's default graph
    return W, graph_context(W), walk_spectrum(W)


# -- graph context and the walk operator (Sec. 3.3) --------------------------------------------

def test_graph_context_marginals(graph):
    # consistency check: graph_context implements the definitions of Sec. 3.3
    W, ctx, _ = graph
    deg = W.sum(1)
    np.testing.assert_allclose(ctx.px, deg / deg.sum(), atol=TOL)
    np.testing.assert_allclose(ctx.expectation_operator(), W / deg[:, None], atol=TOL)
    np.testing.assert_allclose(ctx.pa, ctx.px, atol=TOL)


def test_walk_operator_self_adjoint_and_spectrum(graph):
    W, ctx, spec = graph
    T = ctx.expectation_operator()
    DT = ctx.px[:, None] * T
    assert np.abs(DT - DT.T).max() <= TOL
    np.testing.assert_allclose(spec.operator, T, atol=TOL)
    F = spec.functions
    np.testing.assert_allclose(F.T @ (ctx.px[:, None] * F), np.eye(10), atol=TOL)
    sv = ctx.svd(9)
    np.testing.assert_allclose(sv.s, np.sort(np.abs(spec.eigenvalues))[::-1], atol=TOL)
    np.testing.assert_allclose(ctx.kernel_x_operator(), T @ T, atol=TOL)
    assert np.all(np.diff(spec.eigenvalues[1:]) <= 1e-12)


def test_theorem12_identity_shift_and_minimum(graph):
    W, ctx, spec = graph
    rng = np.random.default_rng(0)
    phi_star, m = eigenmaps_solution(W, D)
    for _ in range(10):
        f = random_feasible(ctx.px, D, rng)
        np.testing.assert_allclose(f.T @ (ctx.px[:, None] * f), np.eye(D), atol=TOL)
        value = eq3(f, W)
        assert abs(value - (D - rayleigh_trace(f, W))) <= TOL
        assert abs(eq3(f + rng.normal(size=D), W, whiten_phi=False) - value) <= TOL
        assert value >= m - TOL
    assert abs(eq3(phi_star, W) - m) <= TOL
    # consistency check: the library's formula d - sum lambda_i agrees with the companion's
    assert abs(laplacian_eigenmaps_minimum(spec.eigenvalues, D) - m) <= TOL
    # independent: the nontrivial eigenvalues of D^{-1/2} W D^{-1/2} (similar to T), by eigvalsh
    deg = W.sum(1)
    lam = np.sort(np.linalg.eigvalsh(W / np.sqrt(np.outer(deg, deg))))[::-1]
    assert abs(lam[0] - 1.0) <= TOL
    assert abs((D - lam[1:D + 1].sum()) - m) <= TOL


def test_gd_finds_top_algebraic_eigenspace_not_contexture(graph):
    W, ctx, spec = graph
    h, phi = eigenmaps_gd(W, D)
    phi_star, m = eigenmaps_solution(W, D)
    assert abs(h.final_loss - m) <= TRAIN_TOL
    assert max_angle(phi, phi_star, ctx.px) <= ANGLE_TOL
    sv = ctx.svd(D)
    assert theorem12_margin(spec.eigenvalues, D) < -0.1
    assert max_angle(phi, sv.mu[:, 1:D + 1], ctx.px) > np.pi / 2 - ANGLE_TOL


# -- the caveat on C_6 and the lazy repair ----------------------------------------------------

def test_c6_walk_spectrum_has_minus_one():
    W = cycle_weights(6)
    spec, ctx = walk_spectrum(W), graph_context(W)
    np.testing.assert_allclose(spec.eigenvalues, [1, .5, .5, -.5, -.5, -1], atol=TOL)
    np.testing.assert_allclose(ctx.svd(5).s, [1, 1, .5, .5, .5, .5], atol=TOL)
    a = (-1.0) ** np.arange(6)
    np.testing.assert_allclose(W @ a / W.sum(1), -a, atol=TOL)


@pytest.mark.parametrize("n", [4, 6, 8])
def test_even_cycle_eigenvalues(n):
    spec = walk_spectrum(cycle_weights(n))
    expected = np.sort(np.cos(2 * np.pi * np.arange(n) / n))[::-1]
    np.testing.assert_allclose(spec.eigenvalues, expected, atol=TOL)


def test_theorem12_as_printed_fails_on_c6():
    W = cycle_weights(6)
    ctx = graph_context(W)
    h, phi = eigenmaps_gd(W, D)
    phi_star, m = eigenmaps_solution(W, D)
    assert abs(m - 1.0) <= TOL
    assert abs(h.final_loss - m) <= TRAIN_TOL
    assert max_angle(phi, phi_star, ctx.px) <= ANGLE_TOL
    a = (-1.0) ** np.arange(6)
    assert abs(max_angle(phi, a, ctx.px) - np.pi / 2) <= ANGLE_TOL
    assert eq3(ctx.svd(D).mu[:, 1:D + 1], W) > m + 0.1


def test_lazy_walk_repairs_theorem12():
    W = cycle_weights(6)
    Wl = lazy_weights(W, 0.5)
    spec, spec_l = walk_spectrum(W), walk_spectrum(Wl)
    ctx, ctx_l = graph_context(W), graph_context(Wl)
    np.testing.assert_allclose(spec_l.eigenvalues[1:], 0.5 + 0.5 * spec.eigenvalues[1:], atol=TOL)
    assert spec_l.eigenvalues.min() >= -TOL
    np.testing.assert_allclose(ctx_l.px, ctx.px, atol=TOL)
    rng = np.random.default_rng(1)
    for _ in range(5):
        f = random_feasible(ctx.px, D, rng)
        assert abs(eq3(f, Wl) - 0.5 * eq3(f, W)) <= TOL
    assert theorem12_margin(spec_l.eigenvalues, D) >= 0
    _, phi_l = eigenmaps_gd(Wl, D)
    mu_l = ctx_l.svd(D).mu[:, 1:D + 1]
    assert max_angle(phi_l, mu_l, ctx.px) <= ANGLE_TOL
    phi_c, _ = eigenmaps_solution(W, D)
    assert max_angle(phi_c, mu_l, ctx.px) <= ANGLE_TOL


def test_margin_predicts_outcome_on_random_graphs():
    rng = np.random.default_rng(1)
    fails = agrees = 0
    for _ in range(60):
        alpha = rng.uniform(0.0, 0.5)
        W = lazy_weights(random_graph_weights(10, rng.uniform(0.1, 0.9), rng), alpha)
        spec = walk_spectrum(W)
        sv = graph_context(W).svd(D)
        margin = theorem12_margin(spec.eigenvalues, D)
        angle = max_angle(spec.functions[:, 1:D + 1], sv.mu[:, 1:D + 1], spec.px)
        if abs(margin) <= 1e-6:
            continue
        assert (margin >= 0) == (angle < ANGLE_TOL), (margin, angle)
        fails += margin < 0
        agrees += margin >= 0
    assert fails > 0 and agrees > 0


def test_theorem12_margin_values():
    lam = np.array([1.0, 0.5, 0.5, -0.5, -0.5, -1.0])
    assert theorem12_margin(lam, 2) == pytest.approx(-0.5)
    assert theorem12_margin(0.5 + 0.5 * lam, 2) == pytest.approx(0.5)
    assert theorem12_margin(lam, 5) == np.inf


# -- kernel PCA on the dual kernel (Lemma 3) ---------------------------------------------------

def test_kernel_pca_equals_svd_on_knn_context():
    X, _ = noisy_circle(200, 0.05, 0)
    ctx = knn_context(X, 10)
    sv = ctx.svd(6)
    lam, mu = weighted_eigh(ctx.kernel_x(), ctx.px, top=7)
    np.testing.assert_allclose(lam, sv.s**2, atol=TOL)
    np.testing.assert_allclose(mu[:, 0], np.ones(200), atol=1e-8)
    assert max_angle(mu[:, 1:], sv.mu[:, 1:], ctx.px) <= ANGLE_TOL
    np.testing.assert_allclose(mu.T @ (ctx.px[:, None] * mu), np.eye(7), atol=1e-8)


def test_kernel_pca_on_graphs(graph):
    W, ctx, _ = graph
    sv = ctx.svd(D)
    lam, mu = weighted_eigh(ctx.kernel_x(), ctx.px, top=D + 1)
    np.testing.assert_allclose(lam, sv.s**2, atol=TOL)
    assert max_angle(mu[:, 1:], sv.mu[:, 1:D + 1], ctx.px) <= ANGLE_TOL
    ctx_c = graph_context(cycle_weights(6))
    lam_c, _ = weighted_eigh(ctx_c.kernel_x(), ctx_c.px, top=6)
    np.testing.assert_allclose(lam_c, [1, 1, .25, .25, .25, .25], atol=TOL)


# -- manifolds ---------------------------------------------------------------------------------

def test_circle_contexture_is_fourier():
    X, theta = noisy_circle(300, 0.05, 0)
    W = gaussian_weights(X, 0.1)
    ctx, spec = graph_context(W), walk_spectrum(W)
    sv = ctx.svd(4)
    assert spec.eigenvalues.min() >= -TOL
    assert max_angle(spec.functions[:, 1:3], sv.mu[:, 1:3], ctx.px) <= ANGLE_TOL
    h1 = np.column_stack([np.cos(theta), np.sin(theta)])
    h2 = np.column_stack([np.cos(2 * theta), np.sin(2 * theta)])
    assert canonical_correlations(sv.mu[:, 1:3], h1, ctx.px).min() >= 0.95
    assert canonical_correlations(sv.mu[:, 3:5], h2, ctx.px).min() >= 0.85
    knn = knn_context(X, 20).svd(2)
    assert canonical_correlations(knn.mu[:, 1:3], h1).min() >= 0.95


def test_knn_graph_not_psd_but_margin_predicts():
    X, _ = noisy_circle(300, 0.05, 0)
    W = knn_weights(X, 10)
    assert np.array_equal(W, W.T) and np.all(np.diag(W) == 0)
    spec = walk_spectrum(W)
    assert spec.eigenvalues.min() < -0.1
    margin = theorem12_margin(spec.eigenvalues, D)
    angle = max_angle(spec.functions[:, 1:D + 1], graph_context(W).svd(D).mu[:, 1:D + 1],
                      spec.px)
    if abs(margin) > 1e-6:
        assert (margin >= 0) == (angle < ANGLE_TOL)


def test_swiss_roll_first_function_unrolls():
    X, t = swiss_roll(600, 0.2, 2)
    sv = graph_context(knn_weights(X, 8)).svd(2)
    assert abs(spearmanr(sv.mu[:, 1], t).statistic) >= 0.9


# -- validation --------------------------------------------------------------------------------

def test_validation_messages():
    with pytest.raises(ValueError, match="symmetric"):
        walk_spectrum(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="isolated"):
        walk_spectrum(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="alpha"):
        lazy_weights(cycle_weights(4), 1.0)
    with pytest.raises(ValueError, match="n must be"):
        cycle_weights(2)
    with pytest.raises(ValueError, match="d must be"):
        eigenmaps_solution(cycle_weights(4), 4)
    with pytest.raises(ValueError, match="descending"):
        theorem12_margin([1.0, 0.1, 0.5], 1)
    with pytest.raises(ValueError, match="symmetric"):
        weighted_eigh(np.array([[1.0, 0.0], [1.0, 1.0]]), [0.5, 0.5])
    with pytest.raises(ValueError, match="rows"):
        rayleigh_trace(np.ones((3, 1)), cycle_weights(4))
    with pytest.raises(ValueError, match="bandwidth"):
        gaussian_weights(np.zeros((3, 2)), 0.0)


def test_samples_are_deterministic():
    a, ta = noisy_circle(50, 0.1, 7)
    b, tb = noisy_circle(50, 0.1, 7)
    assert np.array_equal(a, b) and np.array_equal(ta, tb)
    x, t = swiss_roll(50, 0.0, 3)
    # without noise the points lie on the Archimedean spiral r = angle (in the x-z plane),
    # t is the angle along it, t in [1.5 pi, 4.5 pi], and the height is in [0, 21]
    r = np.hypot(x[:, 0], x[:, 2])
    np.testing.assert_allclose(r, t, atol=1e-12)
    np.testing.assert_allclose(np.angle(np.exp(1j * (np.arctan2(x[:, 2], x[:, 0]) - t))), 0.0,
                               atol=1e-12)
    assert np.all((t >= 1.5 * np.pi) & (t <= 4.5 * np.pi))
    assert np.all((x[:, 1] >= 0.0) & (x[:, 1] <= 21.0))
    W = random_graph_weights(8, 0.0, 0)
    assert np.count_nonzero(np.triu(W)) == 7  # a spanning tree
    assert walk_spectrum(W).eigenvalues[-1] == pytest.approx(-1.0)  # trees are bipartite
