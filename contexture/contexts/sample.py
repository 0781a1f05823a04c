"""Sample-based contexts on a data matrix X (n x p): A = X (the sample itself), P_X = 1/n.

These are the four context families of the paper's Sec. 5.3 experiments (KNN, RBF, KNN_mask,
RBF_mask; Table 1). Each is a :class:`~contexture.contexts.finite.Context` whose rows are the
sample points and whose columns are the context points ``X[a_index]``; each also knows
``P+(. | x)`` for new points x (:meth:`SampleContext.conditional_at`), which gives the
out-of-sample extension of Lemma 3 (:meth:`SampleContext.extend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from contexture.base.checks import as_rng, check_float, check_int, check_matrix
from contexture.contexts.finite import Context, Matrix

if TYPE_CHECKING:  # pragma: no cover
    from contexture.spectra import SingularSystem

__all__ = [
    "KNNContext",
    "MaskedKNNContext",
    "MaskedRBFContext",
    "RBFContext",
    "SampleContext",
    "knn_context",
    "knn_mask_context",
    "rbf_context",
    "rbf_mask_context",
]

RBF_MAX_DENSE = 10_000
"""Largest n for a dense RBF context (8 n^2 bytes: 800 MB at n = 10,000)."""


def _check_x(X: Any) -> np.ndarray:
    x = check_matrix("X", X, ndim=2)
    if x.shape[0] < 2:
        raise ValueError(f"X must have at least 2 rows (points), got shape {x.shape}")
    return np.ascontiguousarray(x)


def _check_new(x_new: Any, p: int) -> np.ndarray:
    x = check_matrix("X_new", x_new, ndim=2)
    if x.shape[1] != p:
        raise ValueError(f"X_new must have {p} columns (features), got shape {x.shape}")
    return x



def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    np.maximum(d, 0.0, out=d)
    return d


def _knn_indices(x: np.ndarray, k: int, include_self: bool, n_jobs: int | None) -> np.ndarray:
    """Indices (n x k) of the k nearest sample points of each sample point (see knn_context)."""
    n = x.shape[0]
    nn = NearestNeighbors(n_neighbors=k if include_self else k + 1, n_jobs=n_jobs).fit(x)
    idx = nn.kneighbors(x, return_distance=False)
    me = np.arange(n)[:, None]
    is_self = idx == me
    if include_self:
        missing = ~is_self.any(axis=1)  # only with duplicate points: force self in, drop farthest
        idx[missing, -1] = np.arange(n)[missing]
        return idx
    keep = ~is_self
    absent = keep.all(axis=1)
    keep[absent, -1] = False
    return idx[keep].reshape(n, k)


def _drop_empty_columns(cond: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    mass = np.asarray(cond.sum(axis=0)).ravel()
    a_index = np.flatnonzero(mass > 0)
    if a_index.size == cond.shape[1]:
        return cond, a_index
    return sp.csr_matrix(cond[:, a_index]), a_index


class SampleContext(Context):
    """A context on a sample: X = the rows of ``X``, A = ``X[a_index]``, P_X uniform (Sec. 5.3).

    Subclasses implement :meth:`conditional_at`. ``a_index`` is ``arange(n)`` unless some sample
    point receives no context mass (possible only for KNN contexts with ``include_self=False``),
    in which case it is dropped from A.
    """

    def __init__(self, X: np.ndarray, conditional: Matrix, a_index: np.ndarray) -> None:
        n = X.shape[0]
        super().__init__(conditional, np.full(n, 1.0 / n))
        self._x = X
        self._x.setflags(write=False)
        self._a_index = a_index
        self._a_index.setflags(write=False)

    @property
    def X(self) -> np.ndarray:
        """The sample (n x p), read-only."""
        return self._x

    @property
    def a_index(self) -> np.ndarray:
        """Rows of X that form the context space A (columns of the conditional)."""
        return self._a_index

    def conditional_at(self, X_new: Any) -> Matrix:
        """``P+(a_j | x)`` for new points (rows) and the context points a_j (columns)."""
        raise NotImplementedError

    def extend(self, system: SingularSystem, X_new: Any) -> np.ndarray:
        """mu_i at new points by Lemma 3: ``mu_i(x) = s_i^{-1} sum_j P+(a_j | x) nu_i(a_j)``.

        Wraps :func:`contexture.spectra.extend` with :meth:`conditional_at`: the out-of-sample
        embedding of test points (the paper does not say how it embedded them).
        """
        from contexture.spectra import extend

        return extend(system, self.conditional_at(X_new))


class KNNContext(SampleContext):
    """KNN context: P+(a | x) = 1/K on the K nearest sample points of x (Sec. 4.2, 5.3)."""

    def __init__(self, X: np.ndarray, k: int, include_self: bool, n_jobs: int | None) -> None:
        n = X.shape[0]
        idx = _knn_indices(X, k, include_self, n_jobs)
        cond = sp.csr_matrix((np.full(n * k, 1.0 / k), idx.ravel(), np.arange(0, n * k + 1, k)),
                             shape=(n, n))
        cond.sort_indices()
        cond, a_index = _drop_empty_columns(cond)
        super().__init__(X, cond, a_index)
        self.k = k
        self.include_self = include_self
        self._n_jobs = n_jobs

    def conditional_at(self, X_new: Any) -> sp.csr_matrix:
        """Uniform 1/K on the K nearest points of A to each new point (CSR, n_new x M)."""
        x = _check_new(X_new, self.X.shape[1])
        pts = self.X[self.a_index]
        idx = NearestNeighbors(n_neighbors=self.k, n_jobs=self._n_jobs).fit(pts).kneighbors(
            x, return_distance=False)
        m = x.shape[0]
        return sp.csr_matrix((np.full(m * self.k, 1.0 / self.k), idx.ravel(),
                              np.arange(0, m * self.k + 1, self.k)), shape=(m, pts.shape[0]))


def knn_context(
    X: Any, k: int, *, include_self: bool = True, n_jobs: int | None = None
) -> KNNContext:
    """KNN context on a sample: ``P+(a | x) = 1/K`` if a is among the K nearest neighbours of x.

    The "KNN" context of Sec. 5.3 and of Fig. 1 (A = X, P_X = 1/n). Euclidean distance; stored
    as scipy CSR (n*K nonzeros), so n = 28,155 with K = 30 takes about 10 MB.

    ``include_self`` (default **True**): whether x counts as its own nearest neighbour (at
    distance 0), i.e. the K neighbours are the K nearest *sample points* to x. The paper does not
    say. We default to True because then (i) P+(. | x) is the same function of x for training and
    new points, so the Lemma-3 out-of-sample extension reproduces mu on the training set; (ii)
    every point has P_A > 0 (with False, a point that is nobody's neighbour gets P_A = 0 and is
    dropped from A; see ``a_index``); (iii) it matches RBF, whose kernel includes a = x. With
    duplicate points the query point is forced into (True) or out of (False) its own list.
    Chapters ``ch01_contexts``, ``ch03_self_supervised``, ``ch04_manifold``, ``ch06_scaling`` and
    ``ch07_association_tau``.
    """
    x = _check_x(X)
    n = x.shape[0]
    if not isinstance(include_self, bool):
        raise TypeError(f"include_self must be a bool, got {include_self!r}")
    k = check_int("k", k, lo=1, hi=n if include_self else n - 1)
    return KNNContext(x, k, include_self, n_jobs)


class RBFContext(SampleContext):
    """RBF context: P+(a | x) proportional to exp(-gamma ||x - a||^2) over the sample (Sec. 5.3)."""

    def __init__(self, X: np.ndarray, gamma: float, truncate: float | None) -> None:
        self.gamma = gamma
        self.truncate = truncate
        super().__init__(X, self._rows(X), np.arange(X.shape[0]))

    def _rows(self, x: np.ndarray) -> Matrix:
        pts = self._x if hasattr(self, "_x") else x
        if self.truncate is None:
            d = _sq_dists(x, pts)
            d -= d.min(axis=1, keepdims=True)  # stabilise: the nearest point gets weight 1
            np.multiply(d, -self.gamma, out=d)
            np.exp(d, out=d)
            d /= d.sum(axis=1, keepdims=True)
            return d
        radius = np.sqrt(-np.log(self.truncate) / self.gamma)
        g = NearestNeighbors(radius=radius).fit(pts).radius_neighbors_graph(x, mode="distance")
        g = sp.csr_matrix(g)
        g.sort_indices()
        counts = np.diff(g.indptr)
        if np.any(counts == 0):
            i = int(np.flatnonzero(counts == 0)[0])
            raise ValueError(f"point {i} has no sample point within the truncation radius "
                             f"{radius:.4g} (exp(-gamma r^2) = truncate = {self.truncate}); "
                             f"lower truncate")
        g.data = np.exp(-self.gamma * g.data**2)
        g = sp.csr_matrix(sp.diags(1.0 / np.asarray(g.sum(axis=1)).ravel()) @ g)
        return g

    def conditional_at(self, X_new: Any) -> Matrix:
        """RBF weights of new points against the sample, normalised per row."""
        return self._rows(_check_new(X_new, self.X.shape[1]))


def rbf_context(
    X: Any, gamma: float, *, truncate: float | None = None, max_dense: int = RBF_MAX_DENSE
) -> RBFContext:
    """RBF context: ``P+(a | x) = exp(-gamma ||x - a||^2) / sum_a' exp(-gamma ||x - a'||^2)``.

    The "RBF" context of Sec. 5.3 (A = X, normalised over the sample, P_X = 1/n). Dense: O(n^2 p)
    time and 8 n^2 bytes (140 MB at n = 4,177); refused above ``max_dense`` (default 10,000)
    unless ``truncate`` is given. ``truncate = t`` keeps only pairs with exp(-gamma ||x-a||^2) >= t
    (a radius-neighbours graph, stored CSR) -- this *changes* the context slightly (each dropped
    weight is below t relative to the self weight 1). Larger gamma = stronger association.
    Chapters ``ch01_contexts``, ``ch05_optimality`` and ``ch07_association_tau``.
    """
    x = _check_x(X)
    gamma = check_float("gamma", gamma, lo=0.0, lo_open=True)
    if truncate is not None:
        truncate = check_float("truncate", truncate, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    max_dense = check_int("max_dense", max_dense, lo=2)
    if truncate is None and x.shape[0] > max_dense:
        raise ValueError(f"a dense RBF context needs n <= max_dense = {max_dense} (8 n^2 bytes), "
                         f"got n = {x.shape[0]}; pass truncate=... for a sparse approximation")
    return RBFContext(x, gamma, truncate)


def _draw_masks(p: int, fraction: float, n_masks: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean keep-masks (n_masks x p), each hiding round(fraction p) features (1 .. p-1)."""
    n_hide = int(round(fraction * p))
    if fraction > 0:
        n_hide = max(1, n_hide)
    n_hide = min(n_hide, p - 1)
    keep = np.ones((n_masks, p), dtype=bool)
    for r in range(n_masks):
        keep[r, rng.permutation(p)[:n_hide]] = False
    return keep


def _check_mask_args(x: np.ndarray, mask_fraction: float, n_masks: int) -> tuple[float, int]:
    if x.shape[1] < 2:
        raise ValueError(f"masked contexts need at least 2 features, got X of shape {x.shape}")
    mask_fraction = check_float("mask_fraction", mask_fraction, lo=0.0, hi=1.0, hi_open=True)
    n_masks = check_int("n_masks", n_masks, lo=1)
    return mask_fraction, n_masks


class MaskedRBFContext(SampleContext):
    """RBF_mask: P+ averaged over random feature masks of an RBF on the kept features (Sec. 5.3)."""

    def __init__(self, X: np.ndarray, gamma: float, masks: np.ndarray) -> None:
        self.gamma = gamma
        self.masks = masks
        self.masks.setflags(write=False)
        super().__init__(X, self._rows(X, X), np.arange(X.shape[0]))

    def _rows(self, x: np.ndarray, pts: np.ndarray) -> np.ndarray:
        acc = np.zeros((x.shape[0], pts.shape[0]))
        for keep in self.masks:
            d = _sq_dists(x[:, keep], pts[:, keep])
            d -= d.min(axis=1, keepdims=True)
            np.multiply(d, -self.gamma, out=d)
            np.exp(d, out=d)
            d /= d.sum(axis=1, keepdims=True)
            acc += d
        acc /= len(self.masks)
        return acc

    def conditional_at(self, X_new: Any) -> np.ndarray:
        """Average over the same stored masks of the masked RBF rows of new points."""
        return self._rows(_check_new(X_new, self.X.shape[1]), self.X)


def rbf_mask_context(
    X: Any,
    gamma: float,
    *,
    mask_fraction: float = 0.2,
    n_masks: int = 50,
    seed: int | np.random.Generator = 0,
    max_dense: int = RBF_MAX_DENSE,
) -> MaskedRBFContext:
    """RBF_mask context: ``P+(a|x) = mean_r softmax_a(-gamma ||(x - a)[keep_r]||^2)``.

    The "RBF_mask" context of Sec. 5.3: mask 20% of the features, RBF on the rest, average P+
    over 50 masks. Each
    mask hides ``round(mask_fraction * p)`` features (at least 1 if the fraction is positive, at
    most p - 1) chosen uniformly without replacement; one mask is applied to x and a alike.
    The masks (``.masks``, keep = True) are drawn from ``seed`` and reused for new points. Dense:
    O(n_masks n^2 p) time, 8 n^2 bytes. Table 1 of the paper.
    """
    x = _check_x(X)
    gamma = check_float("gamma", gamma, lo=0.0, lo_open=True)
    mask_fraction, n_masks = _check_mask_args(x, mask_fraction, n_masks)
    max_dense = check_int("max_dense", max_dense, lo=2)
    if x.shape[0] > max_dense:
        raise ValueError(f"a dense RBF_mask context needs n <= max_dense = {max_dense}, "
                         f"got n = {x.shape[0]}")
    return MaskedRBFContext(x, gamma, _draw_masks(x.shape[1], mask_fraction, n_masks, as_rng(seed)))


class MaskedKNNContext(SampleContext):
    """KNN_mask: P+ averaged over random feature masks of a KNN context on the kept features."""

    def __init__(self, X: np.ndarray, k: int, masks: np.ndarray, include_self: bool,
                 n_jobs: int | None) -> None:
        n = X.shape[0]
        self.k = k
        self.include_self = include_self
        self.masks = masks
        self.masks.setflags(write=False)
        self._n_jobs = n_jobs
        cols = np.concatenate([_knn_indices(np.ascontiguousarray(X[:, keep]), k, include_self,
                                            n_jobs).ravel() for keep in masks])
        rows = np.tile(np.repeat(np.arange(n), k), len(masks))
        w = 1.0 / (k * len(masks))
        cond = sp.csr_matrix((np.full(rows.size, w), (rows, cols)), shape=(n, n))
        cond.sum_duplicates()
        cond.sort_indices()
        cond, a_index = _drop_empty_columns(cond)
        super().__init__(X, cond, a_index)

    def conditional_at(self, X_new: Any) -> sp.csr_matrix:
        """Average over the stored masks of uniform 1/K rows on the K nearest points of A."""
        x = _check_new(X_new, self.X.shape[1])
        pts = self.X[self.a_index]
        m = x.shape[0]
        cols = []
        for keep in self.masks:
            nn = NearestNeighbors(n_neighbors=self.k, n_jobs=self._n_jobs).fit(pts[:, keep])
            cols.append(nn.kneighbors(x[:, keep], return_distance=False).ravel())
        rows = np.tile(np.repeat(np.arange(m), self.k), len(self.masks))
        w = 1.0 / (self.k * len(self.masks))
        out = sp.csr_matrix((np.full(rows.size, w), (rows, np.concatenate(cols))),
                            shape=(m, pts.shape[0]))
        out.sum_duplicates()
        return out


def knn_mask_context(
    X: Any,
    k: int,
    *,
    mask_fraction: float = 0.2,
    n_masks: int = 50,
    include_self: bool = True,
    seed: int | np.random.Generator = 0,
    n_jobs: int | None = None,
) -> MaskedKNNContext:
    """KNN_mask context: ``P+(a|x) = mean_r 1/K [a among the K nearest of x on features keep_r]``.

    The "KNN_mask" context of Sec. 5.3 (the paper does not state the number of masks; we default
    to 50 as for RBF_mask). Masks as in :func:`rbf_mask_context`; ``include_self`` as in
    :func:`knn_context`. Sparse CSR with at most n K n_masks nonzeros. Table 1 of the paper.
    """
    x = _check_x(X)
    n = x.shape[0]
    if not isinstance(include_self, bool):
        raise TypeError(f"include_self must be a bool, got {include_self!r}")
    k = check_int("k", k, lo=1, hi=n if include_self else n - 1)
    mask_fraction, n_masks = _check_mask_args(x, mask_fraction, n_masks)
    masks = _draw_masks(x.shape[1], mask_fraction, n_masks, as_rng(seed))
    return MaskedKNNContext(x, k, masks, include_self, n_jobs)
