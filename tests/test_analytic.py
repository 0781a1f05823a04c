"""Closed-form spectra of contexts.analytic against the numerical SVD; the random-crop context."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
import torch
import torch.nn.functional as F

from contexture.contexts import label_context
from contexture.contexts.analytic import (
    cycle_fourier_modes,
    cycle_translation_context,
    cycle_translation_spectrum,
    gaussian_noise_context,
    gaussian_noise_singular_functions,
    gaussian_noise_spectrum,
    hermite_functions,
    hypercube_masking_context,
    hypercube_masking_singular_functions,
    hypercube_masking_spectrum,
    hypercube_points,
    label_noise_context,
    label_noise_spectrum,
    mehler_density_ratio,
    parity_features,
    parity_subsets,
    resampling_context,
    resampling_spectrum,
)
from contexture.contexts.crops import crop_size, random_crops
from contexture.spectra import svd


def projector_distance(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """Spectral norm of P_a - P_b for the L2(p)-orthogonal projectors onto the column spans."""
    w = np.sqrt(p)[:, None]
    qa, qb = sla.orth(a * w), sla.orth(b * w)
    return float(np.linalg.norm(qa @ qa.T - qb @ qb.T, 2))


def eigenspaces(s: np.ndarray, atol: float = 1e-6) -> list[np.ndarray]:
    """Index groups of (numerically) equal singular values."""
    groups, start = [], 0
    for i in range(1, len(s) + 1):
        if i == len(s) or abs(s[i] - s[start]) > atol:
            groups.append(np.arange(start, i))
            start = i
    return groups


# -- Gaussian noise --------------------------------------------------------------------------------


def test_hermite_orthonormal():
    z, w = np.polynomial.hermite_e.hermegauss(40)
    h = hermite_functions(z, 10)
    np.testing.assert_allclose(h.T @ (w[:, None] / w.sum() * h), np.eye(11), atol=1e-12)
    np.testing.assert_allclose(h[:, 3], (z**3 - 3 * z) / math.sqrt(6), atol=1e-12)


@pytest.mark.parametrize(("rho", "n_nodes"), [(0.6, 60), (-0.8, 80)])
def test_gaussian_noise(rho, n_nodes):
    ctx = gaussian_noise_context(rho, n_nodes)
    d = 10
    sysm = svd(ctx, d, solver="dense")
    # s_k = |rho|^k (tolerance 1e-10; the quadrature aliases only terms of size |rho|^n_nodes)
    np.testing.assert_allclose(sysm.s, gaussian_noise_spectrum(rho, d), atol=1e-10)
    mu, nu = gaussian_noise_singular_functions(ctx.x_nodes, ctx.a_nodes, rho, d)
    for k in range(1, d + 1):  # simple singular values: compare each 1-D span (up to sign)
        assert projector_distance(sysm.mu[:, [k]], mu[:, [k]], ctx.px) < 1e-8
        assert projector_distance(sysm.nu[:, [k]], nu[:, [k]], ctx.pa) < 1e-8
    # with the closed-form signs, T nu_k = s_k mu_k holds for the closed forms themselves
    t = ctx.conditional
    np.testing.assert_allclose(t @ nu[:, :6], mu[:, :6] * gaussian_noise_spectrum(rho, 5),
                               atol=1e-8)


@pytest.mark.parametrize(("rho", "n_nodes"), [(0.5, 30), (-0.7, 60), (0.9, 100), (0.6, 300)])
def test_gaussian_exact_marginals(rho, n_nodes):
    # marginals="exact": px = pa = weights to 1e-12 relative, symmetric joint, and the spectrum is
    # still |rho|^k (k <= 10, 1e-12); for rho = 0.9 the plain quadrature joint misses the weights
    # by ~6e-5, which the balancing removes without moving the spectrum.
    ctx = gaussian_noise_context(rho, n_nodes, marginals="exact")
    joint = np.asarray(ctx.joint)
    assert joint.min() >= 0.0
    np.testing.assert_allclose(joint, joint.T, atol=1e-16)
    np.testing.assert_allclose(ctx.px, ctx.weights, rtol=1e-12)
    np.testing.assert_allclose(ctx.pa, ctx.weights, rtol=1e-12)
    assert ctx.marginal_error <= 1e-12
    d = min(10, n_nodes - 1)
    np.testing.assert_allclose(svd(ctx, d, solver="dense").s, gaussian_noise_spectrum(rho, d),
                               atol=1e-12)
    plain = gaussian_noise_context(rho, n_nodes)
    if (rho, n_nodes) == (0.9, 100):
        assert plain.marginal_error > 1e-6


def test_mehler_ratio_matches_the_context():
    # J[i, j] = w_i w_j k(z_i, z_j) with k the Mehler ratio (quadrature form, tolerance 1e-12)
    ctx = gaussian_noise_context(0.6, 30)
    z, w = ctx.x_nodes, ctx.weights
    expected = w[:, None] * mehler_density_ratio(z, z, 0.6) * w[None, :]
    np.testing.assert_allclose(np.asarray(ctx.joint), expected / expected.sum(), atol=1e-12)


def test_gaussian_rejects():
    msg = r"rho must be a finite number in \(-1\.0, 1\.0\), got 1\.0"
    with pytest.raises(ValueError, match=msg):
        gaussian_noise_context(1.0)
    with pytest.raises(ValueError, match=r"n_nodes must be an integer in \[2, 300\], got 301"):
        gaussian_noise_context(0.5, 301)
    with pytest.raises(ValueError, match=r"marginals must be one of .*'exact'.*got 'balanced'"):
        gaussian_noise_context(0.5, marginals="balanced")


# -- Boolean hypercube -----------------------------------------------------------------------------


def test_parities():
    pts = hypercube_points(3)
    assert pts.shape == (8, 3) and len(parity_subsets(3)) == 8
    chi = parity_features(pts)
    np.testing.assert_allclose(chi.T @ chi / 8, np.eye(8), atol=1e-15)


def test_hypercube_masking():
    n, q = 4, 0.8
    ctx = hypercube_masking_context(n, q)
    assert ctx.shape == (16, 81)
    sysm = svd(ctx, 15, solver="dense")
    closed = hypercube_masking_spectrum(n, q)
    np.testing.assert_allclose(sysm.s, closed, atol=1e-12)
    expect = [1] + [0.8944] * 4 + [0.8] * 6 + [0.7155] * 4 + [0.64]  # 4 decimals
    np.testing.assert_allclose(np.round(sysm.s, 4), expect, atol=0)
    mu, nu = hypercube_masking_singular_functions(n, q)
    np.testing.assert_allclose(ctx.conditional @ nu, mu * closed, atol=1e-12)  # T nu_S = s mu_S
    for g in eigenspaces(closed):  # degree-k eigenspaces = span of the degree-k parities
        assert projector_distance(sysm.mu[:, g], mu[:, g], ctx.px) < 1e-10
        assert projector_distance(sysm.nu[:, g], nu[:, g], ctx.pa) < 1e-10


def test_resampling():
    n, p = 4, 0.3
    ctx = resampling_context(n, p)
    sysm = svd(ctx, 15, solver="dense")
    closed = resampling_spectrum(n, p)
    np.testing.assert_allclose(sysm.s, closed, atol=1e-12)
    np.testing.assert_allclose(np.unique(np.round(sysm.s, 4))[::-1], [1, .7, .49, .343, .2401])
    chi = parity_features(hypercube_points(n))
    for g in eigenspaces(closed):
        assert projector_distance(sysm.mu[:, g], chi[:, g], ctx.px) < 1e-10
        assert projector_distance(sysm.nu[:, g], chi[:, g], ctx.pa) < 1e-10


# -- translation on a cycle and label noise --------------------------------------------------------


@pytest.mark.parametrize(
    "law",
    [
        [0.5, 0.25, 0, 0, 0, 0, 0, 0.25],  # lazy symmetric walk: phi = 1/2 + cos(2 pi k/8)/2
        [0.6, 0.3, 0.1, 0, 0, 0, 0],  # asymmetric drift on Z_7: complex phi, |phi| matters
    ],
)
def test_cycle_translation(law):
    w = np.array(law)
    n = len(w)
    ctx = cycle_translation_context(w)
    sysm = svd(ctx, n - 1, solver="dense")
    closed = cycle_translation_spectrum(w)
    np.testing.assert_allclose(sysm.s, closed, atol=1e-12)
    if n == 8:
        k = np.arange(n)
        np.testing.assert_allclose(closed, np.sort(0.5 + 0.5 * np.cos(2 * np.pi * k / n))[::-1],
                                   atol=1e-12)
    # each singular value's eigenspace is spanned by the Fourier modes of its frequencies
    modes, freqs = cycle_fourier_modes(n)
    mod = np.abs(np.fft.fft(w))[freqs]
    for g in eigenspaces(sysm.s):
        cols = np.flatnonzero(np.abs(mod - sysm.s[g[0]]) < 1e-6)
        assert len(cols) == len(g)
        assert projector_distance(sysm.mu[:, g], modes[:, cols], ctx.px) < 1e-10
        assert projector_distance(sysm.nu[:, g], modes[:, cols], ctx.pa) < 1e-10


@pytest.mark.parametrize(("c", "eta", "flip_to", "alpha"),
                         [(5, 0.3, "other", 0.625), (5, 0.3, "any", 0.7), (3, 0.9, "other", 0.35),
                          (4, 0.75, "other", 0.0)])
def test_label_noise(c, eta, flip_to, alpha):
    closed = label_noise_spectrum(c, eta, flip_to=flip_to)
    np.testing.assert_allclose(closed, [1] + [alpha] * (c - 1), atol=1e-15)
    sysm = svd(label_noise_context(c, eta, flip_to=flip_to), c - 1, solver="dense")
    np.testing.assert_allclose(sysm.s, closed, atol=1e-12)
    # the same spectrum from a balanced labelled sample (plus zeros: rank <= C)
    y = np.repeat(np.arange(c), 7)
    sample = svd(label_context(y, noise=eta, flip_to=flip_to), c - 1, solver="dense")
    np.testing.assert_allclose(sample.s, closed, atol=1e-12)


# -- random crops (Fig. 4) -------------------------------------------------------------------------


def test_random_crops():
    imgs = np.random.default_rng(0).random((6, 28, 28))
    assert crop_size(28, 28, 0.5) == (20, 20) and crop_size(28, 28, 0.05) == (27, 27)
    assert crop_size(28, 28, 0.25, semantics="kept") == (14, 14)
    out = random_crops(imgs, 0.5, n_views=3, seed=7)
    assert out.views.shape == (6, 3, 28, 28) and out.views.dtype == np.float32
    assert out.boxes.shape == (6, 3, 4) and np.all(out.boxes[..., 2:] == 20)
    assert np.all(out.boxes[..., :2] >= 0) and np.all(out.boxes[..., :2] <= 8)
    again = random_crops(imgs, 0.5, n_views=3, seed=7, batch_size=4)
    np.testing.assert_array_equal(again.views, out.views)  # seeded and batch-independent
    top, left, h, w = out.boxes[2, 1]
    crop = torch.from_numpy(imgs[2, top : top + h, left : left + w].astype(np.float32))
    manual = F.interpolate(crop[None, None], size=(28, 28), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(out.views[2, 1], manual[0, 0].numpy(), atol=1e-6)
    ident = random_crops(imgs, 0.0, n_views=1)  # nothing removed: the image itself
    np.testing.assert_allclose(ident.views[:, 0], imgs, atol=1e-6)
    with pytest.raises(ValueError, match=r"images must be a non-empty \(n, H, W\) array"):
        random_crops(imgs[0], 0.5)
    with pytest.raises(ValueError, match=r"crop_ratio must be a finite number in \[0\.0, 1\.0\)"):
        random_crops(imgs, 1.0)
