"""Checks of chapter ch02_supervised (Eq. (1), Lemma 18, Theorems 6-8, the Theorem-7 caveat,
neural collapse / SELI) on small exact finite contexts, mirroring every assertion of the chapter.

Tolerances: exact closed-form evaluations in float64 to 1e-10; spans compared by principal
angles in L^2(P_X) (sign- and rotation-invariant) to 1e-7 rad; gradient descent on a lookup
table to 1e-7 in risk and 1e-3 rad in angle (the chapter's ``gd_risk_tol`` / ``gd_angle_tol``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contexture.base.linalg import weighted_eigh
from contexture.chapters.ch02_supervised import (
    balance_factor,
    balanced_optimum,
    centre,
    class_indicators,
    constant_factor_context,
    fit_lookup,
    random_label_context,
    span_angles,
    supervised_optimum,
)
from contexture.contexts import FiniteContext, label_context
from contexture.learning.objectives import balanced_risk, supervised_kernel, supervised_risk

torch.set_num_threads(1)
TOL = 1e-10       # exact evaluations
ANGLE = 1e-7      # closed-form spans
GD_RISK, GD_ANGLE = 1e-7, 1e-3
WEIGHTS = [0.5, 0.25, 0.15, 0.1]


def t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.array(a, dtype=np.float64))


@pytest.fixture(scope="module")
def imb() -> FiniteContext:
    return random_label_context(12, WEIGHTS, seed=0)


@pytest.fixture(scope="module")
def bal() -> FiniteContext:
    return random_label_context(12, WEIGHTS, seed=0, balanced=True)


@pytest.fixture(scope="module")
def cx() -> FiniteContext:
    """The Theorem-7 counterexample of the chapter (N = 8, C = 3, seed 0)."""
    return random_label_context(8, [0.6, 0.3, 0.1], seed=0)


# ------------------------------------------------------------------ Lemma 18, Theorem 6

def test_lemma18_operator(imb):
    TLT = imb.expectation_operator() @ np.diag(imb.pa) @ imb.adjoint_operator()
    k = supervised_kernel(np.asarray(imb.joint))
    assert np.abs(TLT - k * imb.px[None, :]).max() <= TOL


def test_theorem6_minimum_and_span(imb):
    J, d = np.asarray(imb.joint), 2
    opt = supervised_optimum(J, d)
    # independent: eigenvalues of the matrix T diag(P_A) T* built from the operators (numpy)
    TLT = imb.expectation_operator() @ np.diag(imb.pa) @ imb.adjoint_operator()
    lam = np.sort(np.linalg.eigvals(TLT).real)[::-1]
    assert opt.value == pytest.approx(1.0 - lam[:d].sum(), abs=TOL)
    assert float(supervised_risk(t(opt.phi), J, bias=False)) == pytest.approx(opt.value, abs=TOL)
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(d, d)) + 3 * np.eye(d)
    assert float(supervised_risk(t(opt.phi @ mix), J, bias=False)) == pytest.approx(opt.value,
                                                                                   abs=TOL)
    for _ in range(50):
        assert float(supervised_risk(t(rng.normal(size=(12, d))), J, bias=False)) >= \
            opt.value - TOL
    # eigenfunctions are L2(P_X)-orthonormal
    assert np.abs(opt.phi.T @ (imb.px[:, None] * opt.phi) - np.eye(d)).max() <= TOL


def test_theorem6_gradient_descent(imb):
    J, d = np.asarray(imb.joint), 2
    opt = supervised_optimum(J, d)
    fit = fit_lookup(lambda F: supervised_risk(F, t(J), bias=False), 12, d, opt.phi, imb.px,
                     modulo_constants=False, steps=1500, lr=0.1, seed=1, callback_every=500)
    assert fit.risk == pytest.approx(opt.value, abs=GD_RISK)
    assert fit.angles.max() <= GD_ANGLE
    assert [k for k, _ in fit.history.records] == [0, 500, 1000, 1500]


def test_theorem6_balanced_is_contexture(bal, imb):
    assert np.ptp(bal.pa) <= 1e-13
    T, Ts = bal.expectation_operator(), bal.adjoint_operator()
    C = bal.pa.size
    assert np.abs(T @ np.diag(bal.pa) @ Ts - T @ Ts / C).max() <= TOL
    sv = bal.svd(C - 1)
    for d in range(1, C + 1):
        opt = supervised_optimum(np.asarray(bal.joint), d)
        assert span_angles(opt.phi, sv.mu[:, :d], bal.px).max() <= ANGLE
    # imbalanced classes tilt the optimum away from the contexture
    sv = imb.svd(C - 1)
    angles = [span_angles(supervised_optimum(np.asarray(imb.joint), d).phi, sv.mu[:, :d],
                          imb.px).max() for d in range(1, C)]
    assert max(angles) > 1e-2


# ------------------------------------------------------------------------- Theorem 7

def test_balanced_optimum_formula(cx):
    J = np.asarray(cx.joint)
    for d in (1, 2):
        opt = balanced_optimum(J, d)
        assert float(balanced_risk(t(opt.phi), J)) == pytest.approx(opt.value, abs=TOL)
        rng = np.random.default_rng(d)
        for _ in range(50):
            assert float(balanced_risk(t(rng.normal(size=(8, d))), J)) >= opt.value - TOL


def test_theorem7_counterexample(cx):
    """Randomised imbalanced labels: the contexture mu_1 is not the R_bal minimiser."""
    J, px = np.asarray(cx.joint), cx.px
    sv = cx.svd(2)
    assert sv.s[1] - sv.s[2] > 0.1                       # mu_1 is the unique contexture (d = 1)
    c = balance_factor(J)
    assert np.ptp(c) > 0.1                               # c is not constant
    opt = balanced_optimum(J, 1)
    r_mu1 = float(balanced_risk(t(sv.mu[:, 1:2]), J))
    assert r_mu1 - opt.value > 1e-4                      # the printed claim fails
    f = centre(opt.phi, px)[:, 0]
    align = abs(px @ (f * sv.mu[:, 1])) / np.sqrt(px @ f**2)
    assert 1 - align > 1e-4
    # the minimiser leaves span{1, mu_1, mu_2}
    assert span_angles(opt.phi, sv.mu[:, 1:3], px, modulo_constants=True).max() > 1e-4
    fit = fit_lookup(lambda F: balanced_risk(F, t(J)), 8, 1, opt.phi, px,
                     modulo_constants=True, steps=600, lr=0.1, seed=1)
    assert fit.risk == pytest.approx(opt.value, abs=GD_RISK)
    assert fit.angles.max() <= GD_ANGLE


@pytest.mark.parametrize("kind", ["balanced", "constant_c"])
def test_theorem7_holds_when_c_constant(kind, bal):
    ctx = bal if kind == "balanced" else constant_factor_context(np.array(WEIGHTS), 12, seed=0)
    if kind == "constant_c":
        assert np.abs(ctx.pa - np.array(WEIGHTS)).max() <= 1e-12     # imbalanced classes
    J, d = np.asarray(ctx.joint), 2
    c = balance_factor(J)
    assert np.ptp(c) <= 1e-9
    sv = ctx.svd(d)
    opt = balanced_optimum(J, d)
    assert float(balanced_risk(t(sv.mu[:, 1:d + 1]), J)) == pytest.approx(opt.value, abs=TOL)
    assert span_angles(opt.phi, sv.mu[:, 1:d + 1], ctx.px, modulo_constants=True).max() <= ANGLE
    assert np.abs(c[0] * opt.eigenvalues[:d] - sv.s[1:d + 1] ** 2).max() <= TOL


def test_theorem7_deterministic_labels():
    y = np.repeat(np.arange(4), [8, 4, 2, 1])
    ctx = label_context(y)
    J, px = np.asarray(ctx.joint), ctx.px
    sv = ctx.svd(3)
    assert np.abs(sv.s - 1).max() <= TOL
    rng = np.random.default_rng(0)
    for d in (1, 2, 3):
        opt = balanced_optimum(J, d)
        assert span_angles(opt.phi, sv.mu[:, 1:], px, modulo_constants=True).max() <= ANGLE
        risks = [float(balanced_risk(t(sv.mu[:, 1:] @ np.linalg.qr(rng.normal(size=(3, d)))[0]),
                                     J)) for _ in range(30)]
        assert min(risks) >= opt.value - TOL
        if d < 3:   # not every contexture choice is optimal
            assert max(risks) - opt.value > 1e-2
        else:
            assert max(risks) == pytest.approx(opt.value, abs=TOL)


def test_landscape_constant_c_minimum_at_mu1():
    ctx = constant_factor_context(np.array(WEIGHTS), 12, seed=0)
    J, sv = np.asarray(ctx.joint), ctx.svd(2)
    thetas = np.linspace(0, np.pi, 181)
    risks = np.array([float(balanced_risk(t(np.cos(a) * sv.mu[:, 1] + np.sin(a) * sv.mu[:, 2]),
                                          J)) for a in thetas])
    k = int(np.argmin(risks))
    assert min(thetas[k], np.pi - thetas[k]) == 0.0
    assert risks.min() == pytest.approx(balanced_optimum(J, 1).value, abs=TOL)


# ------------------------------------------------------------ neural collapse and SELI

def test_neural_collapse_spans():
    C = 4
    y = np.repeat(np.arange(C), 3)
    ctx = label_context(y)
    J, px = np.asarray(ctx.joint), ctx.px
    opt = supervised_optimum(J, C)
    assert np.abs(opt.eigenvalues[:C + 1] - np.r_[np.full(C, 1 / C), 0]).max() <= TOL
    assert span_angles(opt.phi, class_indicators(y), px).max() <= ANGLE
    etf = class_indicators(y, centred=True)
    opt_b = supervised_optimum(J, C - 1, bias=True)
    assert span_angles(opt_b.phi, etf, px, modulo_constants=True).max() <= ANGLE
    assert float(supervised_risk(t(opt_b.phi), J, bias=True)) == pytest.approx(0.0, abs=TOL)
    fit = fit_lookup(lambda F: supervised_risk(F, t(J), bias=True), 12, C - 1, etf, px,
                     modulo_constants=True, steps=600, lr=0.1, seed=1)
    assert fit.angles.max() <= GD_ANGLE
    assert fit.risk == pytest.approx(0.0, abs=GD_RISK)


def test_consistency_etf_class_means_have_cosine_minus_one_over_c_minus_one():
    """Consistency check of the ETF that ``class_indicators(centred=True)`` builds."""
    C = 4
    y = np.repeat(np.arange(C), 3)
    etf = class_indicators(y, centred=True)
    means = np.array([etf[y == c].mean(0) for c in range(C)])
    cos = means @ means.T / np.outer(*(2 * [np.linalg.norm(means, axis=1)]))
    assert np.abs(cos[~np.eye(C, dtype=bool)] + 1 / (C - 1)).max() <= TOL


def test_seli_kernel_and_largest_classes():
    sizes = [8, 4, 2, 1]
    y = np.repeat(np.arange(4), sizes)
    ctx = label_context(y)
    J, px = np.asarray(ctx.joint), ctx.px
    same = (y[:, None] == y[None, :]).astype(float)
    assert np.abs(supervised_kernel(J) - same).max() <= TOL
    lam, _ = weighted_eigh(same, px)
    assert np.abs(lam[:4] - np.array(sizes) / sum(sizes)).max() <= TOL
    opt = supervised_optimum(J, 2)
    assert span_angles(opt.phi, class_indicators(y)[:, :2], px).max() <= ANGLE


# ------------------------------------------------------------------------- Theorem 8

@pytest.mark.parametrize("bias", [False, True])
def test_theorem8_regression(bias):
    rng = np.random.default_rng(3)
    n, m, dA, d = 12, 6, 3, 2
    ctx = FiniteContext.from_conditional(rng.dirichlet(np.ones(m), size=n), np.full(n, 1 / n))
    J, px, pa = np.asarray(ctx.joint), ctx.px, ctx.pa
    Y = 1.0 + rng.normal(size=(m, dA))
    Ym = Y - pa @ Y if bias else Y
    Lam = Ym @ Ym.T * pa[None, :]
    TLT = ctx.expectation_operator() @ Lam @ ctx.adjoint_operator()
    k = supervised_kernel(J, Y, bias=bias)
    assert np.abs(TLT - k * px[None, :]).max() <= TOL
    opt = supervised_optimum(J, d, Y, bias=bias)
    # independent: E||A||^2 summed over the joint, minus ||E A||^2 for the centred targets
    second = float(np.einsum("xa,ak,ak->", J, Y, Y)) - (float(np.sum((pa @ Y) ** 2)) if bias
                                                         else 0.0)
    lam = np.sort(np.linalg.eigvals(TLT).real)[::-1]     # eigenvalues of the operator matrix
    assert opt.second_moment == pytest.approx(second, abs=TOL)
    assert float(supervised_risk(t(opt.phi), J, Y, bias=bias)) == pytest.approx(
        second - lam[:d].sum(), abs=TOL)
    if bias:
        assert abs(px @ k @ px) <= TOL                    # centred kernel integrates to 0
        assert np.abs(px @ opt.phi).max() <= TOL          # so its eigenfunctions are centred
    fit = fit_lookup(lambda F: supervised_risk(F, t(J), t(Y), bias=bias), n, d, opt.phi, px,
                     modulo_constants=bias, steps=600, lr=0.1, seed=1)
    assert fit.risk == pytest.approx(opt.value, abs=GD_RISK)
    assert fit.angles.max() <= GD_ANGLE


def test_theorem8_contains_theorem6(imb):
    """One-hot targets give Lemma 18's kernel sum_a P(a|x) P(a|x'), computed directly."""
    J = np.asarray(imb.joint)
    cond = J / J.sum(1, keepdims=True)
    direct = np.array([[sum(cond[i, a] * cond[j, a] for a in range(J.shape[1]))
                        for j in range(J.shape[0])] for i in range(J.shape[0])])
    assert np.abs(supervised_kernel(J, np.eye(J.shape[1])) - direct).max() <= TOL
    assert np.abs(supervised_kernel(J) - direct).max() <= TOL


# ------------------------------------------------------------------------ validation

def test_input_validation():
    with pytest.raises(ValueError, match="class_weights"):
        random_label_context(5, [1.0])
    with pytest.raises(ValueError, match="pa must have at least 3"):
        constant_factor_context([0.5, 0.5], 5)
    with pytest.raises(ValueError, match="J must sum to 1"):
        supervised_optimum(np.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="d must be an integer"):
        balanced_optimum(np.full((3, 2), 1 / 6), 3)
    with pytest.raises(ValueError, match="y must hold labels"):
        class_indicators(np.array([0, 3]), 2)
    with pytest.raises(ValueError, match="same number of rows"):
        span_angles(np.ones((3, 1)), np.ones((4, 1)), [1 / 3] * 3)
    with pytest.raises(TypeError, match="risk must be callable"):
        fit_lookup(None, 3, 1, np.ones(3), [1 / 3] * 3, modulo_constants=False)  # type: ignore[arg-type]
