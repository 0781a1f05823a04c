"""Sec. 4.2 (scaling and diminishing returns): the checks of chapter ch06_scaling, on small cases.

Closed forms (Gaussian-noise context, Mehler's formula) are compared with quadrature; spans are
compared by principal angles (sign- and rotation-invariant). Tolerances are stated per test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import quad
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from contexture.chapters.ch06_scaling import (
    _nested_basis,
    class_contrastive_minimum,
    class_optimum,
    fourier_feature_coordinates,
    mu_coordinates,
    polynomial_features,
    random_fourier_features,
    scaling_curve,
    step_coordinates,
    thm16_eps,
)
from contexture.contexts import knn_context
from contexture.contexts.analytic import (
    gaussian_noise_context,
    hermite_functions,
    mehler_density_ratio,
)
from contexture.learning.objectives import spectral_contrastive_loss
from contexture.metrics import (
    cca_alignment,
    principal_angles,
    ratio_trace,
    ratio_trace_matrices,
    span_alignment,
    worst_case_error,
    worst_case_error_exact,
)

D = 3
RHO = 0.8
K = 60  # Hermite modes kept for the closed-form Gaussian context (plus one slack direction)


def _closed_form(rho: float = RHO, k: int = K) -> np.ndarray:
    return np.r_[rho ** np.arange(1, k + 1), 0.0]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Many tiny eigenproblems: one BLAS thread avoids oversubscription on shared machines.
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def grid():
    g = gaussian_noise_context(0.5, 30, marginals="exact")
    return g, g.svd(29)


@pytest.fixture(scope="module")
def knn():
    x = np.sort(np.random.default_rng(3).standard_normal(60))
    ctx = knn_context(x[:, None], 8)
    return x, ctx.svd(59)


# --------------------------------------------------------------------------------------------
# closed forms of the Gaussian context
# --------------------------------------------------------------------------------------------

def test_hermite_functions_are_orthonormal_under_gaussian_quadrature() -> None:
    # 40-node Gauss-Hermite is exact for degree <= 79; tolerance 1e-12.
    x, w = hermegauss(40)
    M = hermite_functions(x, 29)
    np.testing.assert_allclose(M.T @ (w[:, None] * M) / w.sum(), np.eye(30), atol=1e-12)


def test_mehler_ratio_is_the_spectral_sum_of_lemma_4() -> None:
    # Lemma 4 with s_k = rho^k: sum_k rho^k mu_k(x) mu_k(a); 200 terms, tolerance 1e-10.
    x = np.linspace(-2.0, 2.0, 7)
    M = hermite_functions(x, 199)
    series = (M * 0.6 ** np.arange(200)) @ M.T
    np.testing.assert_allclose(mehler_density_ratio(x, x, 0.6), series, rtol=1e-10, atol=1e-12)


def test_fourier_coordinates_match_quadrature_and_have_no_tail() -> None:
    # Closed-form <cos(w x + b), mu_k> vs 100-node quadrature (k <= 30); tolerance 1e-12.
    rff = random_fourier_features(12, seed=1, frequency_scale=2.0)
    U, means, tails = fourier_feature_coordinates(rff, 120)
    x, w = hermegauss(100)
    w = w / w.sum()
    F = rff(x)
    np.testing.assert_allclose(U[:30], hermite_functions(x, 30)[:, 1:].T @ (w[:, None] * F),
                               atol=1e-12)
    np.testing.assert_allclose(means, w @ F, atol=1e-12)
    assert tails.max() < 1e-12


def test_fourier_features_are_nested_in_m() -> None:
    a = random_fourier_features(9, seed=4)
    b = random_fourier_features(3, seed=4)
    np.testing.assert_array_equal(a.frequencies[:3], b.frequencies)
    np.testing.assert_array_equal(a.phases[:3], b.phases)


def test_step_coordinates_match_direct_integration() -> None:
    # <1[x>0], mu_k> by adaptive quadrature for k = 1..10; tolerance 1e-10.
    u, tail = step_coordinates(200)
    for k in range(1, 11):
        val = quad(lambda t, k=k: hermite_functions(np.array([t]), k)[0, k]
                   * math.exp(-t * t / 2) / math.sqrt(2 * math.pi), 0.0, np.inf)[0]
        assert abs(u[k - 1] - val) < 1e-10
    assert abs(u @ u + tail - 0.25) < 1e-15  # ||1[x>0] - 1/2||^2 = 1/4
    assert tail > 1e-3  # slow decay: the slack direction is needed


def test_quadrature_context_is_a_valid_gaussian_context(grid) -> None:
    # Marginals = weights (1e-13 relative), symmetric, nonnegative; s_k = rho^k and
    # span(mu_1..mu_3) = span(He_1..He_3) to 1e-10 (all s_k to 1e-9) for rho = 0.5, 30 nodes.
    g, sv = grid
    J = np.asarray(g.joint)
    assert J.min() >= 0.0
    np.testing.assert_allclose(J, J.T, atol=1e-15)
    np.testing.assert_allclose(J.sum(1), g.weights, rtol=1e-13)
    np.testing.assert_allclose(sv.s, 0.5 ** np.arange(30), atol=1e-9)
    herm = hermite_functions(g.x_nodes, D)[:, 1:]
    assert principal_angles(sv.mu[:, 1:D + 1], herm, g.weights).max() < 1e-10


# --------------------------------------------------------------------------------------------
# Theorem 16 and the class optimum (Proposition, derived in the chapter)
# --------------------------------------------------------------------------------------------

def test_thm16_formula_equals_exact_calculator_with_slack_direction() -> None:
    s = _closed_form()
    eps = thm16_eps(s, 0.5)
    top = np.eye(K + 1)[:, :D]
    assert abs(worst_case_error_exact(top, s, eps).error - worst_case_error(s, D, eps)) < 1e-9


def test_polynomial_classes_align_exactly_at_degree_d() -> None:
    # Alignment = min(p, d)/d, error = Theorem 16 optimum and RT = Ky Fan for p >= d (1e-9).
    s = _closed_form()
    eps = thm16_eps(s, 0.5)
    err_star = worst_case_error(s, D, eps)
    degrees = list(range(1, 7))
    c = scaling_curve(np.eye(K + 1)[:, :6], degrees, s, D, eps)
    p = np.asarray(degrees)
    np.testing.assert_allclose(c.alignment, np.minimum(p, D) / D, atol=1e-9)
    np.testing.assert_allclose(c.error[p >= D], err_star, atol=1e-9)
    np.testing.assert_allclose(c.ratio_trace[p >= D], np.sum(s[:D] ** 2), atol=1e-12)
    assert np.all(c.error[p < D] - err_star > 1e-3)


def test_fourier_classes_obey_the_proposition_and_theorem_16() -> None:
    # Nested classes: RT nondecreasing (1e-12), <= Ky Fan, error >= optimum (1e-9), misaligned
    # optima strictly worse, and alignment reaches 1 - 1e-6 within 20 features.
    s = _closed_form(k=120)
    eps = thm16_eps(s, 0.5)
    err_star = worst_case_error(s, D, eps)
    U, _, _ = fourier_feature_coordinates(random_fourier_features(20, seed=0,
                                                                  frequency_scale=2.0), 120)
    U = np.vstack([U, np.zeros((1, 20))])
    c = scaling_curve(U, range(1, 21), s, D, eps)
    assert np.all(np.diff(c.ratio_trace) > -1e-12)
    assert np.all(c.ratio_trace <= np.sum(s[:D] ** 2) + 1e-12)
    assert np.all(c.error >= err_star - 1e-9)
    mis = 1.0 - c.alignment > 1e-6
    assert np.all(c.error[mis] - err_star > np.abs(c.gap[mis]))
    assert 1.0 - c.alignment[-1] < 1e-6


def test_worst_case_error_is_not_monotone_in_capacity() -> None:
    # A random-feature instance (the chapter counts such steps): with seed 0 and sigma = 2, going
    # from 5 to 6 Fourier features raises the ratio trace but also the worst-case error (> 1e-6).
    s = _closed_form(k=120)
    eps = thm16_eps(s, 0.5)
    U, _, _ = fourier_feature_coordinates(random_fourier_features(6, seed=0,
                                                                  frequency_scale=2.0), 120)
    c = scaling_curve(np.vstack([U, np.zeros((1, 6))]), [5, 6], s, D, eps)
    assert c.ratio_trace[1] > c.ratio_trace[0]
    assert c.error[1] - c.error[0] > 1e-6



def test_nested_classes_where_one_more_feature_raises_the_error() -> None:
    # the chapter's deterministic example: H_1 = span{mu_1..mu_(d-1), mu_d + a mu_K} and
    # H_2 = H_1 + span{mu_(d+1)} with a^2 = 1.1 (s_d^2 / s_(d+1)^2 - 1): the class optimum swaps
    # v for mu_(d+1), the ratio trace rises and so does the worst-case error (by > 1e-6); for
    # rho = 0.8 the optimum of H_1 is still optimal (Theorem 16's "only if" fails), to 1e-8.
    k = 120
    s = _closed_form(k=k)
    eps = thm16_eps(s, 0.5)
    for d in (1, 2, 3):
        a = np.sqrt(1.1 * (s[d - 1] ** 2 / s[d] ** 2 - 1))
        H = np.eye(k + 1)[:, : d + 1].copy()
        H[k - 1, d - 1] = a
        c = scaling_curve(H, [d, d + 1], s, d, eps)
        assert c.ratio_trace[1] > c.ratio_trace[0]
        assert c.error[1] - c.error[0] > 1e-6
        if d >= 2:
            assert c.error[0] == pytest.approx(worst_case_error(s, d, eps), abs=1e-8)

def test_class_optimum_is_invariant_under_invertible_maps_and_coefficients_are_consistent() -> None:
    rng = np.random.default_rng(0)
    s = _closed_form(k=20)
    U = rng.standard_normal((21, 6)) * np.r_[np.ones(8), 0.1 * np.ones(13)][:, None]
    a = class_optimum(U, s, D)
    b = class_optimum(U @ rng.standard_normal((6, 6)), s, D)
    assert principal_angles(a.coords, b.coords).max() < 1e-9
    np.testing.assert_allclose(U @ a.coefficients, a.coords, atol=1e-10)
    np.testing.assert_allclose(a.coords.T @ a.coords, np.eye(D), atol=1e-12)
    C, B = ratio_trace_matrices(a.coords, s)
    assert abs(ratio_trace(C, B) - a.ratio_trace) < 1e-12


def test_nested_basis_of_a_prefix_is_a_prefix() -> None:
    U = np.random.default_rng(1).standard_normal((10, 6))
    U[:, 3] = U[:, 0] + 2 * U[:, 1]  # dependent column: dropped
    Q, R, keep = _nested_basis(U, 1e-10)
    Q3, _, keep3 = _nested_basis(U[:, :3], 1e-10)
    np.testing.assert_array_equal(keep, [0, 1, 2, 4, 5])
    np.testing.assert_allclose(Q[:, :3], Q3, atol=1e-14)
    np.testing.assert_allclose(U[:, keep], Q @ R, atol=1e-12)


def test_span_alignment_is_r2_cca_for_rank_d_and_at_most_r_over_d(grid) -> None:
    g, sv = grid
    rng = np.random.default_rng(2)
    phi = rng.standard_normal((30, D)) + hermite_functions(g.x_nodes, D)[:, 1:]
    co = mu_coordinates(phi, sv)
    top = np.eye(len(co), D)  # mu_1..mu_D in mu-coordinates
    assert abs(span_alignment(co, top) - cca_alignment(phi, sv.mu[:, 1:D + 1], g.weights)) < 1e-9
    assert span_alignment(co @ rng.standard_normal((D, D)), top) == pytest.approx(
        span_alignment(co, top), abs=1e-12)
    assert span_alignment(np.eye(29)[:, :1], np.eye(29, D)) == pytest.approx(1 / D, abs=1e-15)
    # on centred function values with weights P_X (complete basis) it is the same number
    assert span_alignment(phi - g.weights @ phi, sv.mu[:, 1:D + 1], g.weights) == pytest.approx(
        span_alignment(co, top), abs=1e-9)


def test_contrastive_loss_inside_a_class_is_minimised_by_the_ritz_span(grid) -> None:
    # Proposition (L_C in a class): value at the scaled Ritz optimum = -1/2 sum lambda^2
    # (library loss, 1e-12), and BFGS from random starts never goes lower (1e-9).
    g, sv = grid
    F = random_fourier_features(4, seed=0, frequency_scale=2.0)(g.x_nodes)
    opt = class_optimum(mu_coordinates(F, sv), sv.s[1:], D)
    target = class_contrastive_minimum(opt.ritz)
    Fc = F - g.weights @ F
    psi = Fc @ opt.coefficients * np.sqrt(opt.ritz)
    J = torch.tensor(np.asarray(g.joint))
    assert abs(float(spectral_contrastive_loss(torch.tensor(psi), J)) - target) < 1e-12
    U = mu_coordinates(F, sv)
    C, B = U.T @ U, U.T @ (sv.s[1:, None] ** 2 * U)

    def loss(a: np.ndarray) -> float:
        A = a.reshape(4, D)
        M = A.T @ C @ A
        return float(-np.trace(A.T @ B @ A) + 0.5 * np.sum(M * M))

    rng = np.random.default_rng(0)
    best = min(minimize(loss, rng.standard_normal(4 * D), method="BFGS",
                        options={"gtol": 1e-12}).fun for _ in range(5))
    assert best >= target - 1e-9
    assert best <= target + 1e-7


def test_fixed_task_plateau_does_not_depend_on_rho() -> None:
    # Same singular functions for every rho: the aligned probe error on 1[x>0] agrees to 1e-12.
    u, tail = step_coordinates(K)
    task = np.r_[u, np.sqrt(tail)]
    errs = []
    for rho in (0.8, 0.5):
        s = _closed_form(rho)
        c = scaling_curve(np.eye(K + 1)[:, :5], [3, 5], s, D, thm16_eps(s, 0.5), task=task)
        errs.append(c.task_error)
    np.testing.assert_allclose(errs[0], errs[1], atol=1e-12)


def test_a_single_task_can_prefer_a_misaligned_encoder() -> None:
    # Theorem 16 is worst-case: with seed 0 and sigma = 2, the 5-feature Fourier class optimum
    # (misaligned) has a lower error on 1[x > 0] than every aligned encoder (margin 1e-6).
    s = _closed_form(k=120)
    eps = thm16_eps(s, 0.5)
    u, tail = step_coordinates(120)
    task = np.r_[u, np.sqrt(tail)]
    U, _, _ = fourier_feature_coordinates(random_fourier_features(5, seed=0,
                                                                  frequency_scale=2.0), 120)
    rff = scaling_curve(np.vstack([U, np.zeros((1, 5))]), [5], s, D, eps, task=task)
    aligned = scaling_curve(np.eye(121)[:, :D], [D], s, D, eps, task=task)
    assert 1.0 - rff.alignment[0] > 1e-6
    assert rff.task_error[0] < aligned.task_error[0] - 1e-6


def test_knn_context_full_class_attains_theorem_16(knn) -> None:
    x, sv = knn
    s = sv.s[1:]
    eps = thm16_eps(s, 0.5)
    err_star = worst_case_error(s, D, eps)
    full = scaling_curve(np.eye(59), [59], s, D, eps)
    assert full.alignment[0] == pytest.approx(1.0, abs=1e-12)
    assert full.error[0] == pytest.approx(err_star, abs=1e-9)
    poly = scaling_curve(mu_coordinates(polynomial_features(x, 8), sv), [1, 2, 4, 8], s, D, eps)
    assert np.all(poly.error >= err_star - 1e-9)
    assert np.all(np.diff(poly.ratio_trace) > -1e-12)


def test_random_encoders_never_beat_theorem_16_or_ky_fan() -> None:
    # The bounds asserted for the trained networks hold for any encoder (1e-9).
    s = _closed_form(k=20)
    eps = thm16_eps(s, 0.3)
    rng = np.random.default_rng(5)
    for _ in range(5):
        co = rng.standard_normal((21, D))
        assert worst_case_error_exact(co, s, eps).error >= worst_case_error(s, D, eps) - 1e-9
        C, B = ratio_trace_matrices(co, s)
        assert ratio_trace(C, B) <= np.sum(s[:D] ** 2) + 1e-12


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: class_optimum(np.ones((4, 2)), [0.9, 0.5, 0.1], 1), "rows"),
    (lambda: class_optimum(np.zeros((3, 2)), [0.9, 0.5, 0.1], 1), "constant"),
    (lambda: thm16_eps([0.9, 0.5], 1.5), "fraction"),
    (lambda: scaling_curve(np.eye(3), [], [0.9, 0.5, 0.1], 1, 0.2), "sizes"),
    (lambda: class_contrastive_minimum([0.5, -0.1]), "nonnegative"),
])
def test_invalid_arguments_raise_clear_errors(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors() -> None:
    with pytest.raises(TypeError, match="n_modes"):
        step_coordinates(2.5)
    with pytest.raises(TypeError, match="FourierFeatures"):
        fourier_feature_coordinates(np.ones(3), 5)
    with pytest.raises(TypeError, match="SingularSystem"):
        mu_coordinates(np.ones(3), np.eye(3))


def test_mu_coordinates_needs_a_complete_system(grid) -> None:
    g, sv = grid
    with pytest.raises(ValueError, match="complete"):
        mu_coordinates(np.ones(30), sv.truncate(5))
