"""Alignment metrics: CCA R^2, mutual KNN, principal angles, subspace distance, span alignment."""

from __future__ import annotations

import numpy as np
import pytest

from contexture.metrics import (
    canonical_correlations,
    cca_alignment,
    mutual_knn_alignment,
    principal_angles,
    span_alignment,
    subspace_distance,
)
from contexture.metrics.alignment import effective_rank


def _centred_orthonormal(n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m))
    Z -= Z.mean(axis=0)
    return np.linalg.qr(Z)[0]


def test_cca_known_canonical_correlations() -> None:
    # Exact construction: canonical correlations are cos(a), cos(b). Tolerance 1e-12.
    q = _centred_orthonormal(200, 4, 0)
    a, b = 0.3, 1.1
    A = q[:, :2] @ np.array([[2.0, 1.0], [0.0, 3.0]]) + 5.0
    B = np.column_stack([np.cos(a) * q[:, 0] + np.sin(a) * q[:, 2],
                         np.cos(b) * q[:, 1] + np.sin(b) * q[:, 3]])
    rho = canonical_correlations(A, B)
    np.testing.assert_allclose(rho, [np.cos(a), np.cos(b)], atol=1e-12)
    assert cca_alignment(A, B) == pytest.approx((np.cos(a) ** 2 + np.cos(b) ** 2) / 2, abs=1e-12)


def test_cca_invariant_under_invertible_maps_and_self_is_one() -> None:
    # Invariance under A -> A M + c (M invertible); tolerance 1e-10.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5))
    A = np.tanh(X @ rng.standard_normal((5, 4)))
    B = X[:, :3] ** 2 + 0.1 * rng.standard_normal((300, 3))
    base = cca_alignment(A, B)
    M, N = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    assert cca_alignment(A @ M + 7.0, B @ N - 2.0) == pytest.approx(base, abs=1e-10)
    assert cca_alignment(A, A @ M) == pytest.approx(1.0, abs=1e-12)
    assert 0.0 <= base <= 1.0
    # d = min rank: a duplicated column does not change the value.
    assert cca_alignment(np.column_stack([A, A[:, 0]]), B) == pytest.approx(base, abs=1e-10)


def test_cca_weights_equal_repeated_rows() -> None:
    # Integer weights == repeating rows; tolerance 1e-10.
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))
    B[:, 0] += A[:, 0]
    counts = rng.integers(1, 4, size=40)
    rep = np.repeat(np.arange(40), counts)
    assert cca_alignment(A, B, weights=counts) == pytest.approx(
        cca_alignment(A[rep], B[rep]), abs=1e-10)


def test_cca_errors() -> None:
    A = np.ones((10, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        cca_alignment(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="A spans no direction"):
        cca_alignment(A, np.arange(10.0))
    with pytest.raises(ValueError, match="weights must have length 10"):
        cca_alignment(np.arange(10.0), np.arange(10.0) ** 2, weights=np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        cca_alignment(np.full((10, 1), np.nan), np.arange(10.0))


def _brute_mknn(A: np.ndarray, B: np.ndarray, k: int) -> tuple[float, float]:
    def nbrs(M: np.ndarray) -> np.ndarray:
        Mc = M - M.mean(axis=0)
        w, V = np.linalg.eigh(Mc.T @ Mc / len(M))
        Z = Mc @ V @ np.diag(w**-0.5) @ V.T
        D = ((Z[:, None] - Z[None]) ** 2).sum(-1)
        np.fill_diagonal(D, np.inf)
        return np.argsort(D, axis=1)[:, :k]

    na, nb = nbrs(A), nbrs(B)
    m = np.array([len(set(x) & set(y)) for x, y in zip(na, nb, strict=True)])
    return float(np.mean(m / k)), float(np.mean(m / (2 * k - m)))


def test_mutual_knn_matches_brute_force_and_is_invariant() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 3))
    A = X @ rng.standard_normal((3, 3))
    B = X + 0.5 * rng.standard_normal((80, 3))
    inter, iou = _brute_mknn(A, B, 5)
    assert mutual_knn_alignment(A, B, k=5) == pytest.approx(inter, abs=1e-12)
    assert mutual_knn_alignment(A, B, k=5, mode="iou") == pytest.approx(iou, abs=1e-12)
    assert iou <= inter
    # Whitening makes the metric invariant under invertible maps (neighbour sets identical).
    M = rng.standard_normal((3, 3))
    assert mutual_knn_alignment(A @ M + 3.0, B, k=5) == pytest.approx(inter, abs=1e-12)
    assert mutual_knn_alignment(A, A @ M, k=5) == pytest.approx(1.0, abs=1e-12)


def test_mutual_knn_errors() -> None:
    A = np.random.default_rng(0).standard_normal((12, 2))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 11\], got 12"):
        mutual_knn_alignment(A, A, k=12)
    with pytest.raises(ValueError, match="mode must be one of"):
        mutual_knn_alignment(A, A, mode="union")  # type: ignore[arg-type]


def test_principal_angles_known_and_weighted() -> None:
    # Exact angles (0, a); small angles to relative 1e-6 (sine formula), others to 1e-12.
    e = np.eye(6)
    for a in (0.4, 1e-8):
        U = e[:, :2] @ np.array([[1.0, 2.0], [0.0, 1.0]])
        V = np.column_stack([np.cos(a) * e[:, 0] + np.sin(a) * e[:, 2], e[:, 1]])
        ang = principal_angles(U, V)
        assert ang[0] == pytest.approx(0.0, abs=1e-12)
        assert ang[1] == pytest.approx(a, rel=1e-6)
    # Weighted L2(P): scaling rows by 1/sqrt(w) turns Euclidean angles into L2(P) angles.
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 2.0, 6)
    w /= w.sum()
    U, V = rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
    np.testing.assert_allclose(principal_angles(U / np.sqrt(w)[:, None], V / np.sqrt(w)[:, None],
                                                weights=w),
                               principal_angles(U, V), atol=1e-12)


def test_subspace_distance_kinds() -> None:
    # Compare with explicit projectors; tolerance 1e-12.
    rng = np.random.default_rng(5)
    U, V = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    P = [Q @ Q.T for Q in (np.linalg.qr(U)[0], np.linalg.qr(V)[0])]
    assert subspace_distance(U, V) == pytest.approx(np.linalg.norm(P[0] - P[1], 2), abs=1e-12)
    assert subspace_distance(U, V, kind="projection_fro") == pytest.approx(
        np.linalg.norm(P[0] - P[1]), abs=1e-12)
    assert subspace_distance(U, V, kind="sin_max") == pytest.approx(
        np.sin(principal_angles(U, V).max()), abs=1e-12)
    W = V[:, :2]
    Pw = np.linalg.qr(W)[0] @ np.linalg.qr(W)[0].T
    assert subspace_distance(U, W) == 1.0
    assert subspace_distance(U, W, kind="projection_fro") == pytest.approx(
        np.linalg.norm(P[0] - Pw), abs=1e-12)
    assert subspace_distance(U, U @ rng.standard_normal((3, 3))) == pytest.approx(0, abs=1e-7)
    with pytest.raises(ValueError, match="kind must be one of"):
        subspace_distance(U, V, kind="chordal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="U spans no direction"):
        subspace_distance(np.zeros((7, 2)), V)


def test_span_alignment_divides_by_the_target_dimension() -> None:
    # Tolerance 1e-12: exact constructions in L^2(w) with non-uniform weights.
    rng = np.random.default_rng(5)
    w = rng.uniform(0.5, 2.0, 40)
    U = rng.standard_normal((40, 3))
    assert span_alignment(U @ rng.standard_normal((3, 3)), U, w) == pytest.approx(1.0, abs=1e-12)
    # an encoder of rank 1 inside span U scores 1/3; CCA (averaging over the smaller rank) says 1
    assert span_alignment(2.0 * U[:, :1], U, w) == pytest.approx(1 / 3, abs=1e-12)
    assert cca_alignment(2.0 * U[:, :1], U, w) == pytest.approx(1.0, abs=1e-12)
    # mean squared cosine of the principal angles, for an arbitrary F of equal width
    F = rng.standard_normal((40, 3))
    cos2 = np.cos(principal_angles(F, U, w)) ** 2
    assert span_alignment(F, U, w) == pytest.approx(cos2.mean(), abs=1e-12)
    # coordinates: the target mu_1..mu_d is np.eye(K, d)
    co = np.vstack([np.diag([1.0, 2.0]), np.zeros((3, 2))])
    co[2, 1] = 2.0  # second column at 45 degrees from the target plane
    assert span_alignment(co, np.eye(5, 2)) == pytest.approx((1 + 0.5) / 2, abs=1e-12)
    with pytest.raises(ValueError, match="U must have full column rank"):
        span_alignment(F, np.column_stack([U[:, 0], U[:, 0]]), w)
    with pytest.raises(ValueError, match="F spans no direction"):
        span_alignment(np.zeros((40, 2)), U, w)


def test_effective_rank_known_spectra_and_invariances() -> None:
    rng = np.random.default_rng(4)
    Q = _centred_orthonormal(400, 6, 4) * np.sqrt(400)      # centred, Cov = I exactly
    assert effective_rank(Q) == pytest.approx(6.0, abs=1e-10)
    # r equal variances and the rest zero: rank r
    half = np.hstack([Q[:, :3], np.zeros((400, 3))])
    assert effective_rank(half) == pytest.approx(3.0, abs=1e-10)
    # variances 4, 1 (p = 0.8, 0.2): exp(entropy)
    p = np.array([0.8, 0.2])
    want = np.exp(-(p * np.log(p)).sum())
    assert effective_rank(Q[:, :2] * np.array([2.0, 1.0])) == pytest.approx(want, abs=1e-10)
    # invariant under rotations and scale, not under a general invertible map
    R = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    A = Q * np.arange(1.0, 7.0)
    assert effective_rank(A @ R * 3.0) == pytest.approx(effective_rank(A), abs=1e-10)
    # one dominant direction: close to 1
    assert effective_rank(Q * np.r_[1e4, np.ones(5)]) < 1.001
    # weights: repeated rows equal weights
    B = rng.normal(size=(30, 4))
    w = rng.integers(1, 4, size=30)
    assert effective_rank(B, weights=w) == pytest.approx(
        effective_rank(np.repeat(B, w, axis=0)), abs=1e-10)


def test_effective_rank_errors() -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        effective_rank(np.ones((1, 3)))
    with pytest.raises(ValueError, match="zero variance"):
        effective_rank(np.ones((5, 3)))
    with pytest.raises(ValueError, match="finite"):
        effective_rank(np.array([[1.0, np.nan], [0.0, 1.0]]))
