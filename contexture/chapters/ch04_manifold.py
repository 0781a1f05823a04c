"""Graphs, Laplacian eigenmaps and manifold samples (Sec. 3.3, arXiv v2 numbering).

What chapter ``ch04_manifold`` computes:

* :func:`walk_spectrum` -- the *algebraic* eigen-decomposition of the random-walk operator
  ``T = D^{-1} W`` of a weighted graph, which is self-adjoint in ``L^2(P_X)`` with
  ``P_X = degree / d_sum`` (graph context, Sec. 3.3);
* :func:`eigenmaps_solution` -- the minimiser and minimum of Eq. (3) (Laplacian eigenmaps with
  degree normalisation): the top-``d`` nontrivial eigenfunctions of ``T`` in the algebraic
  order and ``d - sum_{i<=d} lambda_i(T)`` (proof of Theorem 12);
* :func:`rayleigh_trace` -- ``sum_i <phi_i, T phi_i>_{P_X}``, the quantity Eq. (3) maximises;
* :func:`theorem12_margin` -- ``lambda_d - max_{j>d} |lambda_j|``: Eq. (3) learns the contexture
  exactly when it is ``>= 0`` (the corrected reading of Theorem 12, derived here);
* :func:`lazy_weights`, :func:`cycle_weights`, :func:`random_graph_weights` -- the graphs of the
  Theorem 12 caveat (bipartite cycle, lazy walks) and of the random scan;
* kernel PCA on the Gram matrix of the dual kernel ``k_X^+``, which gives the contexture
  exactly (Lemma 3), is :func:`contexture.base.linalg.weighted_eigh`;
* :func:`random_feasible`, :func:`noisy_circle`, :func:`swiss_roll`, :func:`gaussian_weights`,
  :func:`knn_weights` -- feasible encoders for Eq. (3) and the manifold samples and graphs.

Conventions follow the library: functions on the vertices are ``N``-row tables, orthonormal in
``L^2(P_X)``; every eigen/singular function has the library's sign convention
(:func:`contexture.base.linalg.column_signs`: its entry of largest absolute value is positive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from contexture.base.checks import (
    as_rng,
    check_float,
    check_int,
    check_matrix,
    check_probability_vector,
    check_table,
)
from contexture.base.linalg import dense, weighted_eigh

__all__ = [
    "WalkSpectrum",
    "cycle_weights",
    "eigenmaps_solution",
    "gaussian_weights",
    "knn_weights",
    "lazy_weights",
    "noisy_circle",
    "random_feasible",
    "random_graph_weights",
    "rayleigh_trace",
    "swiss_roll",
    "theorem12_margin",
    "walk_spectrum",
]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------

def _check_weights(W: Any, *, atol: float = 1e-12) -> np.ndarray:
    """A dense symmetric nonnegative weight matrix without isolated vertices."""
    w = check_matrix("W", dense(W), ndim=2, nonnegative=True)
    if w.shape[0] != w.shape[1] or w.shape[0] < 2:
        raise ValueError(f"W must be a square matrix with at least 2 vertices, got shape {w.shape}")
    asym = float(np.abs(w - w.T).max())
    if asym > atol * float(w.max()):
        raise ValueError(f"W must be symmetric (an undirected graph, Sec. 3.3), got "
                         f"max|W - W^T| = {asym!r}")
    deg = w.sum(axis=1)
    iso = np.flatnonzero(deg <= 0)
    if iso.size:
        raise ValueError(f"W has {iso.size} isolated vertex(es) (zero degree), first at index "
                         f"{int(iso[0])}; every vertex needs an edge")
    return 0.5 * (w + w.T)



# --------------------------------------------------------------------------------------------
# the random-walk operator T = D^{-1} W (Sec. 3.3, Theorem 12)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class WalkSpectrum:
    """Algebraic eigen-decomposition of ``T = D^{-1} W`` in ``L^2(P_X)`` (Sec. 3.3).

    ``eigenvalues`` (N,): ``lambda_0 = 1`` (the constant) first, then the eigenvalues of ``T``
    on mean-zero functions in descending **algebraic** order (they lie in ``[-1, 1]``).
    ``functions`` (N x N): matching eigenfunctions, orthonormal in ``L^2(P_X)``, column 0 the
    constant 1. ``px`` = degree / d_sum. Singular values of ``T`` are ``|eigenvalues|``.
    """

    eigenvalues: np.ndarray
    functions: np.ndarray
    px: np.ndarray

    @property
    def operator(self) -> np.ndarray:
        """``T = D^{-1} W`` rebuilt from the decomposition: ``F diag(lambda) F^T diag(px)``."""
        return (self.functions * self.eigenvalues) @ self.functions.T * self.px[None, :]


def walk_spectrum(W: Any) -> WalkSpectrum:
    """Eigenvalues and ``L^2(P_X)``-orthonormal eigenfunctions of ``T = D^{-1} W`` (Sec. 3.3).

    ``W`` is a symmetric nonnegative weight matrix (any scale) without isolated vertices. ``T``
    is self-adjoint in ``L^2(P_X)``, ``P_X(u) = d(u) / d_sum`` (Sec. 3.3), because
    ``diag(px) T = W / d_sum`` is symmetric; it preserves the mean, so it maps the mean-zero
    functions to themselves. The decomposition diagonalises ``D^{-1/2} W D^{-1/2}`` on the
    orthogonal complement of ``sqrt(px)``, which keeps the trivial pair in column 0 even for a
    disconnected graph. Chapter ``ch04_manifold`` (Theorem 12 and its caveat).
    """
    w = _check_weights(W)
    deg = w.sum(axis=1)
    px = deg / deg.sum()
    # T = D^{-1} W = K diag(px) with the symmetric K = W d_sum / (deg deg^T)
    lam, F = weighted_eigh(w * (deg.sum() / np.outer(deg, deg)), px, deflate_constants=True)
    eigenvalues = np.r_[1.0, lam]
    functions = np.column_stack([np.ones(w.shape[0]), F])
    return WalkSpectrum(eigenvalues, functions, px)


def eigenmaps_solution(W: Any, d: int) -> tuple[np.ndarray, float]:
    """Minimiser and minimum of Eq. (3), Laplacian eigenmaps with degree normalisation.

    ``min_Phi 1/2 E_{(u,v)~P_w} ||Phi(u) - Phi(v)||^2`` s.t. ``Cov_{P_X}[Phi] = I``. On the
    constraint set the objective is ``d - sum_i <phi_i, T phi_i>`` (proof of Theorem 12), so a
    minimiser is the top-``d`` nontrivial eigenfunctions of ``T`` in the **algebraic** order,
    returned as an ``N x d`` table (``L^2(P_X)``-orthonormal, mean zero), with the minimum
    ``d - sum_{i=1}^{d} lambda_i(T)`` (from the proof of Theorem 12). Chapter ``ch04_manifold``.
    """
    spec = walk_spectrum(W)
    n = spec.px.shape[0]
    d = check_int("d", d, lo=1, hi=n - 1)
    return spec.functions[:, 1:d + 1].copy(), float(d - spec.eigenvalues[1:d + 1].sum())


def rayleigh_trace(phi: Any, W: Any) -> float:
    """``sum_i <phi_i, T phi_i>_{P_X}`` with ``T = D^{-1} W`` and ``P_X`` = degree / d_sum.

    The quantity that Eq. (3) maximises: on the constraint set ``Cov_{P_X}[Phi] = I`` (and for
    centred ``phi``) the objective of Eq. (3) equals ``d - rayleigh_trace(phi, W)`` (proof of
    Theorem 12). Computed directly from ``W``, independently of the objective. Chapter
    ``ch04_manifold``.
    """
    w = _check_weights(W)
    f = check_table("phi", phi, rows=w.shape[0], what="vertex")
    deg = w.sum(axis=1)
    Tf = (w @ f) / deg[:, None]
    px = deg / deg.sum()
    return float(np.sum(px[:, None] * f * Tf))


def theorem12_margin(eigenvalues: Any, d: int) -> float:
    """``lambda_d - max_{j>d} |lambda_j|`` for the algebraic eigenvalues of ``T = D^{-1} W``.

    ``eigenvalues``: descending algebraic eigenvalues with the trivial ``lambda_0 = 1`` at index
    0 (as in :class:`WalkSpectrum`). Corrected reading of Theorem 12 (derived here): the top-``d``
    algebraic eigenfunctions (the Eq. (3) minimiser) are a valid top-``d`` choice of singular
    functions (singular values ``|lambda|``) iff the margin is ``>= 0``; with a margin ``< 0``
    some eigenvalue below the top ``d`` is larger in absolute value than ``lambda_d``, so (without
    ties) Eq. (3) misses part of the contexture. ``T >= 0`` (lazy walks, Gaussian weights)
    always gives a margin ``>= 0``. Returns ``inf`` when ``d = N - 1`` (nothing is left out).
    Chapter ``ch04_manifold``.
    """
    lam = check_matrix("eigenvalues", eigenvalues, ndim=1)
    d = check_int("d", d, lo=1, hi=lam.shape[0] - 1)
    if np.any(np.diff(lam[1:]) > 1e-12):
        raise ValueError("eigenvalues must be sorted in descending order after index 0")
    rest = lam[d + 1:]
    if rest.size == 0:
        return float("inf")
    return float(lam[d] - np.abs(rest).max())


def lazy_weights(W: Any, alpha: float = 0.5) -> np.ndarray:
    """Weights of the lazy walk ``T_alpha = alpha I + (1 - alpha) T``: ``(1-alpha) W + alpha D``.

    Degrees, hence ``P_X``, are unchanged and the eigenfunctions of ``T`` are kept, with
    eigenvalues ``alpha + (1 - alpha) lambda``. For ``alpha >= 1/2`` they are all ``>= 0``, so
    ``T_alpha >= 0`` and Theorem 12 holds as printed (caveat, derived here). ``alpha`` in
    ``[0, 1)``. Chapter ``ch04_manifold``.
    """
    w = _check_weights(W)
    alpha = check_float("alpha", alpha, lo=0.0, hi=1.0, hi_open=True)
    return (1.0 - alpha) * w + alpha * np.diag(w.sum(axis=1))


def cycle_weights(n: int) -> np.ndarray:
    """Adjacency matrix of the cycle ``C_n`` (unit weights, no self-loops), ``n >= 3``.

    ``T`` has eigenvalues ``cos(2 pi k / n)``; for even ``n`` the cycle is bipartite and
    ``lambda = -1`` is an eigenvalue (the alternating function), which is the counterexample to
    Theorem 12 as printed (``C_6``). Chapter ``ch04_manifold``.
    """
    n = check_int("n", n, lo=3)
    w = np.zeros((n, n))
    i = np.arange(n)
    w[i, (i + 1) % n] = 1.0
    w[(i + 1) % n, i] = 1.0
    return w


def random_graph_weights(n: int, edge_prob: float, seed: int | np.random.Generator) -> np.ndarray:
    """A connected random weighted graph: a random spanning tree plus Erdos-Renyi edges.

    Every edge gets a weight uniform in ``[0.1, 1]``; tree edges guarantee connectivity, extra
    edges appear independently with probability ``edge_prob``. Sparse graphs are close to trees
    (bipartite), so their walks have eigenvalues near ``-1``; dense ones do not. Used for the
    scan of the corrected Theorem 12. Chapter ``ch04_manifold``.
    """
    n = check_int("n", n, lo=3)
    edge_prob = check_float("edge_prob", edge_prob, lo=0.0, hi=1.0)
    rng = as_rng(seed)
    adj = np.triu(rng.random((n, n)) < edge_prob, k=1)
    perm = rng.permutation(n)
    for k in range(1, n):  # random recursive tree on a random vertex order
        a, b = perm[k], perm[rng.integers(0, k)]
        adj[min(a, b), max(a, b)] = True
    w = np.where(adj, rng.uniform(0.1, 1.0, size=(n, n)), 0.0)
    return w + w.T


# --------------------------------------------------------------------------------------------
# feasible encoders, manifold samples and graphs
# --------------------------------------------------------------------------------------------

def random_feasible(px: Any, d: int, seed: int | np.random.Generator) -> np.ndarray:
    """A random encoder table on the constraint set of Eq. (3): centred, ``Cov_{P_X} = I``.

    Gaussian ``N x d`` table, centred under ``px`` and whitened in ``L^2(P_X)`` (symmetric
    inverse square root). Used to check the identity of Theorem 12's proof and that no feasible
    encoder beats :func:`eigenmaps_solution`. Chapter ``ch04_manifold``.
    """
    p = check_probability_vector("px", px)
    n = p.shape[0]
    d = check_int("d", d, lo=1, hi=n - 1)
    f = as_rng(seed).standard_normal((n, d))
    f -= p @ f
    C = f.T @ (p[:, None] * f)
    lam, V = np.linalg.eigh(C)
    return f @ (V / np.sqrt(lam)) @ V.T


def noisy_circle(n: int, noise: float, seed: int | np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``(cos theta, sin theta) + noise * N(0, I_2)``, ``theta ~ U[0, 2 pi)``.

    Returns ``(X, theta)``. The manifold example of chapter ``ch04_manifold`` (isotropic
    Gaussian noise, assumed).
    """
    n = check_int("n", n, lo=3)
    noise = check_float("noise", noise, lo=0.0)
    rng = as_rng(seed)
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    X = np.column_stack([np.cos(theta), np.sin(theta)]) + noise * rng.standard_normal((n, 2))
    return X, theta


def swiss_roll(n: int, noise: float, seed: int | np.random.Generator, *, height: float = 21.0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Swiss roll ``(t cos t, h, t sin t) + noise * N(0, I_3)``, ``t = 1.5 pi (1 + 2u)``.

    ``u ~ U[0, 1]`` and ``h ~ U[0, height]`` (the scikit-learn parametrisation). Returns
    ``(X, t)``; ``t`` is the coordinate along the roll. Chapter ``ch04_manifold``.
    """
    n = check_int("n", n, lo=3)
    noise = check_float("noise", noise, lo=0.0)
    height = check_float("height", height, lo=0.0, lo_open=True)
    rng = as_rng(seed)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    h = height * rng.random(n)
    X = np.column_stack([t * np.cos(t), h, t * np.sin(t)]) + noise * rng.standard_normal((n, 3))
    return X, t


def _sq_dists(X: np.ndarray) -> np.ndarray:
    sq = np.sum(X * X, axis=1)
    D = sq[:, None] + sq[None, :] - 2.0 * X @ X.T
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return np.maximum(D, 0.0)


def gaussian_weights(X: Any, bandwidth: float) -> np.ndarray:
    """Gaussian edge weights ``w(u, v) = exp(-||x_u - x_v||^2 / (2 bandwidth^2))``, self-loops 1.

    ``W`` is positive semidefinite (the Gaussian kernel is positive definite), so
    ``T = D^{-1} W`` is similar to ``D^{-1/2} W D^{-1/2} >= 0``: Theorem 12 holds as printed on
    such graphs (derived here). Chapter ``ch04_manifold``.
    """
    x = check_matrix("X", X, ndim=2)
    bandwidth = check_float("bandwidth", bandwidth, lo=0.0, lo_open=True)
    return np.exp(-_sq_dists(x) / (2.0 * bandwidth**2))


def knn_weights(X: Any, k: int) -> np.ndarray:
    """Symmetrised k-nearest-neighbour graph: ``w(u, v) = 1`` if either is a K-NN of the other.

    No self-loops; ``W`` is not positive semidefinite in general, so ``T`` may have negative
    eigenvalues (Theorem 12 caveat). Chapter ``ch04_manifold``.
    """
    x = check_matrix("X", X, ndim=2)
    n = x.shape[0]
    k = check_int("k", k, lo=1, hi=n - 1)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)
    w = np.zeros((n, n))
    for i in range(n):
        nb = idx[i][idx[i] != i][:k]
        w[i, nb] = 1.0
    return np.maximum(w, w.T)
