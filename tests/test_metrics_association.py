"""Sec. 5.1 / App. F: decay rate, kernel deviation, Lipschitz, chi^2, Lemmas 17 and 25."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from contexture.metrics import (
    decay_rate,
    function_lipschitz_estimate,
    kernel_deviation,
    lemma17_bound,
    lemma25_bound,
    lipschitz_estimate,
)


def _rbf_sample(n: int, gamma: float, seed: int):
    """RBF context on a sample (kernel PCA): X, dual-kernel Gram K, s^2 (nontrivial), mu."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    P = np.exp(-gamma * ((X[:, None] - X[None]) ** 2).sum(-1))
    P /= P.sum(1, keepdims=True)
    pa = P.mean(0)
    K = (P / pa) @ P.T
    w, V = np.linalg.eigh(K / n)
    w, V = w[::-1], V[:, ::-1]
    return X, K, np.clip(w[1:], 0, None), np.sqrt(n) * V


def test_decay_rate_recovers_exponential_spectra() -> None:
    # Exact exponential: tolerance 1e-8; Gaussian context s_k = rho^k gives lambda = -2 ln rho.
    i = np.arange(1, 101)
    for lam in (0.01, 0.3, 2.0):
        assert decay_rate(np.exp(-lam * i)) == pytest.approx(lam, rel=1e-8)
    rho = 0.8
    assert decay_rate(rho ** (2 * i)) == pytest.approx(-2 * np.log(rho), rel=1e-8)
    noisy = np.clip(np.exp(-0.1 * i) * (1 + 0.01 * np.random.default_rng(0).standard_normal(100)),
                    0, 1)
    assert decay_rate(noisy) == pytest.approx(0.1, rel=0.02)
    assert decay_rate([0.5]) == pytest.approx(np.log(2), rel=1e-8)
    assert decay_rate([1.0, 1.0, 1.0]) == pytest.approx(0.0, abs=1e-8)  # A = X: no decay
    assert decay_rate(np.zeros(4)) == np.inf  # independent context
    # Exact zeros in the tail are allowed (the fit is on the raw scale, not on log s^2).
    assert decay_rate(np.concatenate([np.exp(-0.5 * i[:10]), np.zeros(5)])) == pytest.approx(
        0.5, rel=1e-3)


def test_decay_rate_errors() -> None:
    with pytest.raises(ValueError, match=r"s2 must hold squared singular values in \[0, 1\]"):
        decay_rate([1.2, 0.5])
    with pytest.raises(ValueError, match="s2 must be a 1-D array"):
        decay_rate(np.ones((2, 2)))


def test_kernel_deviation_dense_and_sparse() -> None:
    K = np.array([[3.0, 0.0], [0.0, 1.5]])
    assert kernel_deviation(K) == pytest.approx((2 + 1 + 1 + 0.5) / 4)
    assert kernel_deviation(sp.csr_matrix(K)) == pytest.approx(kernel_deviation(K))
    assert kernel_deviation(np.ones((3, 3))) == 0.0
    with pytest.raises(ValueError, match="K must be a square Gram matrix"):
        kernel_deviation(np.ones((2, 3)))


def test_lipschitz_estimate_matches_brute_force() -> None:
    # Triple loop over i < j, k on a tiny sample; tolerance 1e-12.
    X, K, _, _ = _rbf_sample(12, 1.0, 0)
    brute = max(abs(K[k, i] - K[k, j]) / np.linalg.norm(X[i] - X[j])
                for i in range(12) for j in range(i + 1, 12) for k in range(12))
    assert lipschitz_estimate(K, X, n_sub=100) == pytest.approx(brute, abs=1e-12)
    assert lipschitz_estimate(sp.csr_matrix(K), X, n_sub=100) == pytest.approx(brute, abs=1e-12)
    # Subsampling is deterministic given the seed and never exceeds the full-sample value.
    a, b = lipschitz_estimate(K, X, n_sub=6, seed=1), lipschitz_estimate(K, X, n_sub=6, seed=1)
    assert a == b <= brute + 1e-12


def test_lipschitz_estimate_coincident_points_and_errors() -> None:
    X, K, _, _ = _rbf_sample(8, 1.0, 1)
    X2 = np.vstack([X, X[:1]])  # a duplicated point is skipped, not divided by zero
    K2 = np.pad(K, ((0, 1), (0, 1)))
    K2[-1, :-1] = K2[:-1, -1] = K[0]
    K2[-1, -1] = K[0, 0]
    assert np.isfinite(lipschitz_estimate(K2, X2))
    with pytest.raises(ValueError, match="at least two distinct points"):
        lipschitz_estimate(np.ones((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="X must have one row per row of K"):
        lipschitz_estimate(K, X[:5])
    with pytest.raises(ValueError, match=r"n_sub must be an integer in \[2, inf\], got 1"):
        lipschitz_estimate(K, X, n_sub=1)


def test_lemma_17_on_a_finite_context() -> None:
    # total = E k(X,X) - 1 = sum_{i>=1} s_i^2 (1e-10) and total <= max |k - 1|.
    for gamma in (0.05, 1.0):
        _, K, s2, _ = _rbf_sample(30, gamma, 3)
        total, eps = lemma17_bound(K)
        assert total == pytest.approx(s2.sum(), abs=1e-10)
        assert total <= eps
    total_w, _ = lemma17_bound(K, weights=np.full(30, 2.0))
    assert total_w == pytest.approx(total, abs=1e-12)
    assert lemma17_bound(sp.csr_matrix(K)) == pytest.approx((total, eps), abs=1e-12)


def test_lemma_25_on_a_finite_sample() -> None:
    # On the sample, |K[k,i] - K[k,j]| <= c L_mu sum s^2 holds exactly (margin 1e-10).
    X, K, s2, mu = _rbf_sample(25, 0.5, 4)
    L_k = lipschitz_estimate(K, X, n_sub=25)
    L_mu = function_lipschitz_estimate(mu[:, 1:], X)
    c = np.abs(mu[:, 1:]).max()
    assert L_k <= lemma25_bound(c, L_mu, np.sqrt(s2)) + 1e-10
    assert lemma25_bound(2.0, 3.0, [0.5, 0.5]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"c must be a finite number in \[0.0, inf\]"):
        lemma25_bound(-1.0, 1.0, [0.5])
