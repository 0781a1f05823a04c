"""Checks of contexture.chapters.ch03_self_supervised and of every claim asserted in chapter
ch03_self_supervised.

Small exact finite contexts (float64). Spans are compared by principal angles in L^2(P), so
the checks are invariant under sign flips and rotations of the encoders. Tolerances: 1e-10 for
exact identities, 1e-8 for losses reached by gradient descent, 1e-4 rad for learned spans.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import dirichlet_context, max_angle
from numpy.polynomial import hermite_e
from torch import nn

from contexture.chapters.ch03_self_supervised import (
    PairSampler,
    WeightedLookupEncoder,
    average_encoder,
    contrastive_optimum,
    dae_optimum,
    invariance_excess,
    lora_optimum,
    non_contrastive_gap,
    right_basis,
    theorem10_terms,
    vicreg_aligned_variances,
    vicreg_span_repair,
)
from contexture.contexts import FiniteContext, knn_context
from contexture.contexts.analytic import gaussian_noise_context
from contexture.learning.encoders import MLP, LookupEncoder
from contexture.learning.objectives import (
    dae_risk,
    lora_loss,
    lora_minimum,
    non_contrastive_loss,
    non_contrastive_loss_batch,
    non_contrastive_minimum,
    spectral_contrastive_loss,
    spectral_contrastive_minimum,
    vicreg_loss,
    whiten,
)
from contexture.learning.training import train
from contexture.metrics import cca_alignment, principal_angles, span_alignment

torch.set_num_threads(1)
TOL = 1e-10  # exact identities
TRAIN_TOL = 1e-8  # losses after gradient descent
ANGLE_TOL = 1e-4  # learned spans (radians)
N, M, D = 10, 14, 2


def centre(F: np.ndarray, p: np.ndarray) -> np.ndarray:
    return F - p @ F


@pytest.fixture(scope="module")
def ctx() -> FiniteContext:
    return dirichlet_context(N, M)


@pytest.fixture(scope="module")
def joint(ctx: FiniteContext) -> np.ndarray:
    return np.asarray(ctx.joint)


@pytest.fixture(scope="module")
def sv(ctx: FiniteContext):
    return ctx.svd(N - 1)


# ------------------------------------------------------------------------ basis, Corollary 9

def test_right_basis_complete_and_kernel(ctx: FiniteContext) -> None:
    s, nu = right_basis(ctx)
    assert s.shape == (M,) and nu.shape == (M, M)
    assert np.abs(nu.T @ (ctx.pa[:, None] * nu) - np.eye(M)).max() < TOL
    assert np.allclose(nu[:, 0], 1.0, atol=TOL) and s[0] == pytest.approx(1.0, abs=TOL)
    assert np.all(s[N:] == 0.0)
    assert np.abs(ctx.conditional @ nu[:, N:]).max() < TOL  # null space of T


def test_corollary9_if(ctx: FiniteContext, sv) -> None:
    rng = np.random.default_rng(1)
    psi = 0.7 + sv.nu[:, 1:D + 1] @ rng.normal(size=(D, D))
    phi = average_encoder(ctx, psi)
    assert max_angle(centre(phi, ctx.px), sv.mu[:, 1:D + 1], ctx.px) < 1e-8


def test_corollary9_needs_positive_sd() -> None:
    rng = np.random.default_rng(2)
    protos = rng.dirichlet(np.full(M, 0.3), size=3)
    low = FiniteContext.from_conditional(rng.dirichlet(np.ones(3), size=N) @ protos,
                                         np.full(N, 1.0 / N))
    sys_ = low.svd(3)
    assert sys_.s[3] < 1e-8
    phi = average_encoder(low, sys_.nu[:, 1:4])
    assert np.linalg.matrix_rank(centre(phi, low.px), tol=1e-8) < 3


def test_corollary9_converse_modulo_kernel(ctx: FiniteContext, sv) -> None:
    rng = np.random.default_rng(3)
    s, nu = right_basis(ctx)
    kernel = nu[:, s < 1e-12]
    psi = sv.nu[:, 1:D + 1] + kernel @ rng.normal(size=(kernel.shape[1], D))
    phi = average_encoder(ctx, psi)
    assert max_angle(centre(phi, ctx.px), sv.mu[:, 1:D + 1], ctx.px) < 1e-8  # Phi is right
    assert max_angle(centre(psi, ctx.pa), sv.nu[:, 1:D + 1], ctx.pa) > 1e-2  # literal fails
    pc = centre(psi, ctx.pa)
    proj = pc - kernel @ (kernel.T @ (ctx.pa[:, None] * pc))
    assert max_angle(proj, sv.nu[:, 1:D + 1], ctx.pa) < 1e-8  # corrected reading


# ------------------------------------------------------------------------------- Theorem 10

def positive_pair_term(ctx: FiniteContext, psi: np.ndarray) -> float:
    """E<Psi~(A), Psi~(A+)> summed over the law of a positive pair (A, A+), Q = P^T diag(px) P.

    Independent of :func:`theorem10_terms`, which computes the same quantity as ||T Psi~||^2.
    """
    P = np.asarray(ctx.conditional)
    Q = P.T @ (ctx.px[:, None] * P)
    pc = psi - ctx.pa @ psi
    return float(np.sum(Q * (pc @ pc.T)))


def test_theorem10_identities(ctx: FiniteContext, joint: np.ndarray) -> None:
    # Each identity of the proof is checked between two independent computations: the torch
    # losses (from the joint law), the coordinates C in the basis of right_basis, and the
    # pair law Q of (A, A+).
    rng = np.random.default_rng(4)
    printed = []
    for _ in range(5):
        psi = rng.normal(size=(M, D))
        t = theorem10_terms(ctx, psi)
        lc = float(spectral_contrastive_loss(torch.tensor(psi), joint))
        assert t.lc == pytest.approx(lc, abs=TOL)
        assert t.lc_identity == pytest.approx(lc, abs=TOL)
        assert t.lc_printed == pytest.approx(2.0 * lc, abs=TOL)  # the dropped factor 1/2
        assert t.negative == pytest.approx(float(np.sum(t.B**2)), abs=TOL)
        assert t.positive == pytest.approx(float(t.s2 @ np.diag(t.B)), abs=TOL)
        assert t.positive == pytest.approx(positive_pair_term(ctx, psi), abs=TOL)
        raw = float(non_contrastive_loss(torch.tensor(psi), joint, whiten_psi=False))
        assert t.sq_distance == pytest.approx(raw, abs=TOL)
        pw = whiten(torch.tensor(psi), ctx.pa.copy()).numpy()
        # on the constraint set L_N + 2 E<Psi~(A), Psi~(A+)> = 2d (not L_N + E<...>, as printed)
        ln = float(non_contrastive_loss(torch.tensor(pw), joint, whiten_psi=False))
        positive = positive_pair_term(ctx, pw)
        assert ln + 2.0 * positive == pytest.approx(2.0 * D, abs=TOL)
        printed.append(ln + positive)
    assert np.ptp(printed) > 1e-3  # "differs by the constant 2d" is a factor-2 slip


def test_contrastive_optimum(ctx: FiniteContext, joint: np.ndarray, sv) -> None:
    rng = np.random.default_rng(5)
    U = np.linalg.qr(rng.normal(size=(D, D)))[0]
    psi = contrastive_optimum(sv, D, U) + 3.0
    lc = float(spectral_contrastive_loss(torch.tensor(psi), joint))
    assert lc == pytest.approx(spectral_contrastive_minimum(sv.s, D), abs=TOL)
    G = centre(psi, ctx.pa).T @ (ctx.pa[:, None] * centre(psi, ctx.pa))
    assert np.allclose(np.sort(np.linalg.eigvalsh(G))[::-1], sv.s[1:D + 1] ** 2, atol=TOL)
    for _ in range(20):  # nothing random beats it
        other = float(spectral_contrastive_loss(torch.tensor(rng.normal(size=(M, D)) * 0.3),
                                                joint))
        assert other >= lc - TOL
    with pytest.raises(ValueError):
        contrastive_optimum(sv, D, np.ones((D, D)))


def test_theorem10_if_direction_needs_the_right_representative(ctx: FiniteContext,
                                                                joint: np.ndarray, sv) -> None:
    # L_C: unit-scale nu_1..nu_d learns the contexture but is not a minimiser
    lc = float(spectral_contrastive_loss(torch.tensor(sv.nu[:, 1:D + 1]), joint))
    gap = lc - spectral_contrastive_minimum(sv.s, D)
    assert gap == pytest.approx(0.5 * float(np.sum((1 - sv.s[1:D + 1] ** 2) ** 2)), abs=TOL)
    assert gap > 1e-3
    # L_N: a feasible Psi with a ker T component learns the contexture but is not a minimiser
    s, nu = right_basis(ctx)
    kernel = nu[:, s < 1e-12]
    rng = np.random.default_rng(10)
    psi = sv.nu[:, 1:D + 1] + kernel @ rng.normal(size=(kernel.shape[1], D))
    pw = whiten(torch.tensor(psi), ctx.pa.copy()).numpy()
    phi = average_encoder(ctx, pw)
    assert max_angle(centre(phi, ctx.px), sv.mu[:, 1:D + 1], ctx.px) < 1e-8
    ln = float(non_contrastive_loss(torch.tensor(pw), joint))
    assert ln - non_contrastive_minimum(sv.s, D) > 1e-3


@pytest.mark.parametrize("which", ["lc", "ln"])
def test_theorem10_gradient_descent(ctx: FiniteContext, joint: np.ndarray, sv,
                                    which: str) -> None:
    if which == "lc":
        loss, minimum = spectral_contrastive_loss, spectral_contrastive_minimum(sv.s, D)
    else:
        loss, minimum = non_contrastive_loss, non_contrastive_minimum(sv.s, D)
    h = train(lambda: LookupEncoder(M, D, init_scale=0.5, seed=1), lambda e, J: loss(e(), J),
              joint, 600, lr=0.05, seed=1, progress=False)
    assert h.final_loss == pytest.approx(minimum, abs=TRAIN_TOL)
    psi = h.encoder().detach().numpy()
    assert max_angle(centre(psi, ctx.pa), sv.nu[:, 1:D + 1], ctx.pa) < ANGLE_TOL
    phi = average_encoder(ctx, psi)
    assert max_angle(centre(phi, ctx.px), sv.mu[:, 1:D + 1], ctx.px) < ANGLE_TOL


# ----------------------------------------------------------------------------------- VICReg

def test_vicreg_span_repair_identity(ctx: FiniteContext, joint: np.ndarray, sv) -> None:
    rng = np.random.default_rng(6)
    for inv in (1.0, 25.0):
        for _ in range(5):
            psi = rng.normal(size=(M, D)) * rng.uniform(0.1, 2.0, size=D)
            fixed = vicreg_span_repair(ctx, psi)
            # same covariance, top span
            G0 = centre(psi, ctx.pa).T @ (ctx.pa[:, None] * centre(psi, ctx.pa))
            G1 = centre(fixed, ctx.pa).T @ (ctx.pa[:, None] * centre(fixed, ctx.pa))
            assert np.abs(G0 - G1).max() < TOL
            assert max_angle(centre(fixed, ctx.pa), sv.nu[:, 1:D + 1], ctx.pa) < 1e-8
            drop = float(vicreg_loss(torch.tensor(psi), joint, inv_coeff=inv)
                         - vicreg_loss(torch.tensor(fixed), joint, inv_coeff=inv))
            excess = invariance_excess(ctx, psi)
            assert excess >= -TOL
            assert drop == pytest.approx(2.0 * inv * excess, abs=1e-9)
    assert abs(invariance_excess(ctx, fixed)) < TOL  # the repair attains the bound
    # inside the top span the excess is zero only when Cov's eigenvectors match nu_1..nu_d
    R = rng.normal(size=(D, D))
    assert invariance_excess(ctx, sv.nu[:, 1:D + 1] @ R) > 1e-6
    assert abs(invariance_excess(ctx, sv.nu[:, 1:D + 1] * [2.0, 0.5])) < TOL


def test_vicreg_aligned_variances_are_optimal(ctx: FiniteContext, joint: np.ndarray,
                                              sv) -> None:
    for inv, var in [(25.0, 25.0), (25.0, 100.0), (1.0, 0.5)]:
        sig2 = vicreg_aligned_variances(sv.s, D, inv_coeff=inv, var_coeff=var)

        def loss(s2: np.ndarray, inv: float = inv, var: float = var) -> float:
            psi = sv.nu[:, 1:D + 1] * np.sqrt(s2)
            return float(vicreg_loss(torch.tensor(psi), joint, inv_coeff=inv, var_coeff=var))

        best = loss(sig2)
        for i in range(D):
            for step in (-1e-3, 1e-3):
                trial = sig2.copy()
                trial[i] = min(max(trial[i] + step, 0.0), 1.0)
                assert loss(trial) >= best - 1e-12
    with pytest.raises(ValueError):
        vicreg_aligned_variances(np.ones(4), 2)


def test_vicreg_official_collapses_on_weak_context(ctx: FiniteContext, joint: np.ndarray,
                                                   sv) -> None:
    h = train(lambda: LookupEncoder(M, D, init_scale=0.5, seed=1),
              lambda e, J: vicreg_loss(e(), J, inv_coeff=25.0, var_coeff=25.0, cov_coeff=1.0),
              joint, 800, lr=0.03, seed=1, progress=False)
    psi = h.encoder().detach().numpy()
    G = centre(psi, ctx.pa).T @ (ctx.pa[:, None] * centre(psi, ctx.pa))
    lam = np.linalg.eigvalsh(G)[::-1]
    assert 0 < int(np.sum(lam > 1e-6 * lam[0])) < D  # dimensional collapse
    phi = centre(average_encoder(ctx, psi), ctx.px)
    assert span_alignment(phi, sv.mu[:, 1:D + 1], ctx.px, rtol=1e-6) < 1.0 - 1e-2
    aligned = sv.nu[:, 1:D + 1] * np.sqrt(vicreg_aligned_variances(sv.s, D))
    assert h.final_loss < float(vicreg_loss(torch.tensor(aligned), joint, cov_coeff=1.0))


def test_vicreg_strong_penalties_learn_contexture(ctx: FiniteContext, joint: np.ndarray,
                                                  sv) -> None:
    h = train(lambda: LookupEncoder(M, D, init_scale=0.5, seed=1),
              lambda e, J: vicreg_loss(e(), J, inv_coeff=25.0, var_coeff=100.0, cov_coeff=25.0),
              joint, 800, lr=0.03, seed=1, progress=False)
    psi = h.encoder().detach().numpy()
    phi = centre(average_encoder(ctx, psi), ctx.px)
    assert span_alignment(phi, sv.mu[:, 1:D + 1], ctx.px) == pytest.approx(1.0, abs=1e-3)


# ------------------------------------------------------------------------ alignment measures

def test_span_alignment_penalises_collapse(ctx: FiniteContext, sv) -> None:
    rng = np.random.default_rng(7)
    U = sv.mu[:, 1:D + 2]  # three target functions
    assert span_alignment(U @ rng.normal(size=(3, 3)), U, ctx.px) == pytest.approx(1.0, abs=TOL)
    collapsed = np.repeat(U[:, :1], 3, axis=1) + 1e-12 * rng.normal(size=(N, 3))
    assert span_alignment(collapsed, U, ctx.px) == pytest.approx(1.0 / 3.0, abs=1e-6)
    assert cca_alignment(collapsed, U, ctx.px, rtol=1e-6) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError):
        span_alignment(U, np.zeros((N, 2)), ctx.px)


def test_non_contrastive_gap(ctx: FiniteContext, joint: np.ndarray, sv) -> None:
    rng = np.random.default_rng(8)
    psi = rng.normal(size=(M, D))
    full = float(non_contrastive_loss(torch.tensor(psi), joint)) - non_contrastive_minimum(sv.s, D)
    assert non_contrastive_gap(ctx, psi) == pytest.approx(full, abs=TOL)
    assert abs(non_contrastive_gap(ctx, sv.nu[:, 1:D + 1] @ rng.normal(size=(D, D)))) < TOL
    collapsed = np.repeat(sv.nu[:, 1:2], D, axis=1)
    assert non_contrastive_gap(ctx, collapsed) == pytest.approx(
        2.0 * float(np.sum(sv.s[2:D + 1] ** 2)), abs=1e-8)


# ------------------------------------------------------------------------------------- LoRA

def test_lora_optimum_and_training(ctx: FiniteContext, joint: np.ndarray, sv) -> None:
    k = D + 1
    target = lora_optimum(sv, k)
    u, s, vt = np.linalg.svd(target)
    phi = u[:, :k] * s[:k]
    psi = vt[:k].T
    assert float(lora_loss(torch.tensor(phi), torch.tensor(psi), joint)) == pytest.approx(
        lora_minimum(sv.s, k), abs=TOL)

    def model() -> nn.Module:
        return nn.ModuleDict({"phi": LookupEncoder(N, k, init_scale=0.5, seed=1),
                              "psi": LookupEncoder(M, k, init_scale=0.5, seed=2)})

    h = train(model, lambda m, J: lora_loss(m["phi"](), m["psi"](), J), joint, 800, lr=0.05,
              seed=1, progress=False)
    assert h.final_loss == pytest.approx(lora_minimum(sv.s, k), abs=TRAIN_TOL)
    f = h.encoder["phi"]().detach().numpy()
    g = h.encoder["psi"]().detach().numpy()
    assert np.abs(f @ g.T - target).max() < ANGLE_TOL
    assert max_angle(centre(f, ctx.px), sv.mu[:, 1:D + 1], ctx.px) < ANGLE_TOL


# ------------------------------------------------------------------------- Eq. (2), Thm 11

def test_dae_optimum(ctx: FiniteContext, joint: np.ndarray, sv) -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(N, 2))
    opt = dae_optimum(ctx, x, 2)
    assert np.abs(opt.eigenvalues[2:]).max() < TOL  # rank <= d_X
    assert np.abs(opt.functions.T @ (ctx.pa[:, None] * opt.functions) - np.eye(2)).max() < TOL
    risk = float(dae_risk(torch.tensor(opt.functions), joint, x))
    assert risk == pytest.approx(opt.minimum, abs=TOL)
    for _ in range(10):
        assert float(dae_risk(torch.tensor(rng.normal(size=(M, 2))), joint, x)) >= risk - TOL
    h = train(lambda: LookupEncoder(M, 2, init_scale=0.5, seed=1),
              lambda e, J: dae_risk(e(), J, x), joint, 600, lr=0.05, seed=1, progress=False)
    assert h.final_loss == pytest.approx(opt.minimum, abs=TRAIN_TOL)
    psi = h.encoder().detach().numpy()
    assert max_angle(centre(psi, ctx.pa), opt.functions, ctx.pa) < ANGLE_TOL
    assert max_angle(centre(psi, ctx.pa), sv.nu[:, 1:3], ctx.pa) > 1e-2  # not the contexture
    unbiased = dae_optimum(ctx, x, 2, bias=False)
    assert float(dae_risk(torch.tensor(unbiased.functions), joint, x, bias=False)) == \
        pytest.approx(unbiased.minimum, abs=TOL)


@pytest.mark.parametrize("rho", [0.6, -0.8])
def test_gaussian_noise_context_theorem_11(rho: float) -> None:
    ctx = gaussian_noise_context(rho, 40, marginals="exact")
    t = ctx.x_nodes
    sys_ = ctx.svd(4)
    assert np.allclose(sys_.s[1:], np.abs(rho) ** np.arange(1, 5), atol=1e-8)  # s_k = |rho|^k
    assert np.allclose(ctx.pa, ctx.px, atol=1e-12)
    for k in range(1, 5):
        he = hermite_e.hermeval(t, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))
        assert max_angle(sys_.nu[:, [k]], he, ctx.pa) < 1e-6  # nu_k = He_k / sqrt(k!)
    opt = dae_optimum(ctx, t, 1)
    assert opt.minimum == pytest.approx(1.0 - rho**2, abs=1e-8)
    assert max_angle(opt.functions, t, ctx.pa) < 1e-6  # Theorem 11: He_1
    assert abs(opt.eigenvalues[1]) < 1e-10  # rank 1 = d_X
    with pytest.raises(ValueError):
        gaussian_noise_context(1.0, 10, marginals="exact")


def test_gaussian_dae_training() -> None:
    rho = 0.6
    ctx = gaussian_noise_context(rho, 20, marginals="exact")
    t = ctx.x_nodes
    J = np.asarray(ctx.joint)
    he12 = np.stack([t, (t**2 - 1) / math.sqrt(2)], axis=1)
    finals = {}
    for d in (1, 2):
        h = train(lambda d=d: WeightedLookupEncoder(20, d, ctx.pa, init_scale=0.5, seed=1),
                  lambda e, J: dae_risk(e(), J, t), J, 600, lr=0.05, seed=1, progress=False,
                  schedule="cosine")
        finals[d] = (h.final_loss, centre(h.encoder().detach().numpy(), ctx.pa))
    assert finals[1][0] == pytest.approx(1.0 - rho**2, abs=TRAIN_TOL)
    assert max_angle(finals[1][1], t, ctx.pa) < ANGLE_TOL  # learns He_1
    assert finals[2][0] == pytest.approx(1.0 - rho**2, abs=TRAIN_TOL)  # no gain from d = 2
    assert float(principal_angles(finals[2][1], t, ctx.pa).max()) < ANGLE_TOL  # contains He_1
    assert max_angle(finals[2][1], he12, ctx.pa) > 1e-2  # ... but not He_2


def test_weighted_lookup_encoder() -> None:
    w = np.array([0.5, 0.3, 0.2])
    enc = WeightedLookupEncoder(3, 2, w, init_scale=1.0, seed=0)
    raw = LookupEncoder(3, 2, init_scale=1.0, seed=0)
    assert torch.allclose(enc(), raw() / torch.as_tensor(np.sqrt(w))[:, None])
    with pytest.raises(ValueError):
        WeightedLookupEncoder(3, 2, np.array([0.5, 0.5, 0.0]))


# ------------------------------------------------------------------------- sampled pairs, MLP

def test_pair_sampler_frequencies(ctx: FiniteContext) -> None:
    sampler = PairSampler(ctx)
    g = torch.Generator().manual_seed(0)
    x, a, ap = sampler(200_000, generator=g)
    J = np.asarray(ctx.joint)
    counts = np.zeros((N, M))
    np.add.at(counts, (x.numpy(), a.numpy()), 1.0)
    assert np.abs(counts / 200_000 - J).max() < 5e-3  # ~ 4 standard errors at worst
    pair = np.zeros((M, M))
    np.add.at(pair, (a.numpy(), ap.numpy()), 1.0)
    P = np.asarray(ctx.conditional)
    assert np.abs(pair / 200_000 - P.T @ (ctx.px[:, None] * P)).max() < 5e-3
    x2, _, _ = sampler(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x2, x[:5])


def test_mlp_on_sampled_knn_pairs() -> None:
    """Training on sampled pairs improves the encoder, measured before and after.

    A random MLP is already fairly aligned with the smoothest singular functions (CCA 0.967
    here), so an absolute threshold would pass untrained. Measured: the misalignment 1 - CCA
    falls from 0.033 to 0.0046 (7x; at least 5.9x over 3 samples x 2 initialisations) and the
    exact population L_N gap of the view table from 0.126 to 0.038 (3.3x; at least 3.3x).
    """
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(150, 2)) * np.array([1.5, 1.0])
    knn = knn_context(X, 20)
    sys_ = knn.svd(2)
    sampler = PairSampler(knn)
    xt = torch.as_tensor(X[knn.a_index], dtype=torch.float32)

    def loss(enc: nn.Module, _: object) -> torch.Tensor:
        _, a, ap = sampler(256)
        return non_contrastive_loss_batch(enc(xt[a]), enc(xt[ap]))

    def measure(enc: nn.Module, _: int) -> dict[str, float]:
        psi = enc(xt).double().numpy()
        return {"cca": cca_alignment(average_encoder(knn, psi), sys_.mu[:, 1:], knn.px),
                "gap": non_contrastive_gap(knn, psi)}  # exact L_N excess, not sampled

    h = train(lambda: MLP(2, 32, 2, 2), loss, None, 200, lr=3e-3, seed=0, progress=False,
              callback=measure, callback_every=200)
    (k0, before), (k1, after) = h.records[0], h.records[-1]
    assert (k0, k1) == (0, 200)
    assert 1.0 - after["cca"] < (1.0 - before["cca"]) / 4  # misalignment shrinks >= 4x
    assert after["gap"] < before["gap"] / 2  # the population L_N gap at least halves
    assert after["cca"] > 0.98


# ---------------------------------------------------------------------------------- errors

def test_argument_validation(ctx: FiniteContext, sv) -> None:
    with pytest.raises(TypeError):
        average_encoder(np.eye(3), np.ones((3, 1)))
    with pytest.raises(ValueError):
        average_encoder(ctx, np.ones((M + 1, 2)))
    with pytest.raises(ValueError):
        theorem10_terms(ctx, np.full((M, 2), np.nan))
    with pytest.raises(ValueError):
        vicreg_span_repair(ctx, np.ones((M, N)))
    with pytest.raises(ValueError):
        dae_optimum(ctx, np.ones((N + 1, 2)), 1)
    with pytest.raises(ValueError):
        lora_optimum(sv, 0)
    with pytest.raises(ValueError):
        PairSampler(ctx)(0)
