"""The four context types of Sec. 5.3 at all association levels, sharing their precomputation.

A context on the pretrain sample ``x_1..x_n`` (``A = X``, ``P_X`` uniform) is a row-stochastic
``P[i, j] = P+(x_j | x_i)``; the same formula gives ``P+(. | x)`` at downstream and test points,
which the Lemma-3 extension needs. The builders here return that conditional for *all* points
(pretrain rows first, then downstream, then test) against the pretrain columns:

* ``rbf``: ``P+(a | x) = exp(-gamma ||x - a||^2) / sum_a' exp(-gamma ||x - a'||^2)``;
* ``knn``: ``1/K`` on the K nearest pretrain points (x itself first when x is a pretrain point;
  ties broken by pretrain order -- assumed, the paper does not say);
* ``rbf_mask`` / ``knn_mask``: the same on the features kept by a random mask, averaged over
  ``n_masks`` masks (paper: 50 for RBF_mask; also assumed for KNN_mask), each hiding
  ``round(mask_fraction * #features)`` whole original features (one-hot columns of a categorical
  feature together; assumed).

:class:`ContextFamily` computes once per dataset what every level shares -- the squared
distances, and for the KNN types the sorted neighbour lists of every point under every mask up
to the largest K -- then builds each level from it (a row-wise softmax, or neighbour counts
updated incrementally from the previous level). :func:`reference_conditional` builds one level
from scratch (the natural implementation; tests and the benchmark compare the two).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from contexture.base.checks import check_choice, check_float, check_int
from contexture.evaluation.grids import CONTEXT_TYPES, LevelGrid
from contexture.evaluation.prepared import PreparedData

__all__ = [
    "ContextFamily",
    "draw_masks",
    "reference_conditional",
    "sample_sq_dists",
    "sq_dists",
    "top_k_sorted",
]

_BLOCK_BYTES = 1 << 21  # row blocks of about 2 MB for the element-wise passes


def sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``||a_i - b_j||^2`` (``||a||^2 + ||b||^2 - 2 a.b``, >= 0).

    The distance of the RBF and KNN contexts of Sec. 5.3. Used for the real-data experiments.
    """
    d = A @ B.T
    d *= -2.0
    d += (A * A).sum(1)[:, None]
    d += (B * B).sum(1)[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def sample_sq_dists(rows: np.ndarray, X_pre: np.ndarray, keep: np.ndarray | None = None,
                    *, full: np.ndarray | None = None) -> np.ndarray:
    """Squared distances of all points (``rows``; pretrain rows first) to the pretrain points.

    With a keep-mask ``keep``, the distances on the kept columns, computed as the full
    distances minus those on the hidden columns (a product over the hidden columns only;
    ``full``, if given, must be ``sample_sq_dists(rows, X_pre)``). Clipped at 0; the pretrain
    block's diagonal is exactly 0 (the Gram formula leaves ~1e-15 there). Sec. 5.3 contexts
    (``A = X``); chapters: the real-data chapters.
    """
    n = X_pre.shape[0]
    if keep is None:
        d = sq_dists(rows, X_pre)
    else:
        d = sample_sq_dists(rows, X_pre) if full is None else full.copy()
        hidden = np.flatnonzero(~np.asarray(keep, dtype=bool))
        if hidden.size:
            a, b = rows[:, hidden], X_pre[:, hidden]
            step = max(256, _BLOCK_BYTES * 4 // (8 * n))
            for r0 in range(0, d.shape[0], step):  # in row blocks: no second n x n array
                blk = d[r0:r0 + step]
                blk -= sq_dists(a[r0:r0 + step], b)
                np.maximum(blk, 0.0, out=blk)
    d[np.arange(n), np.arange(n)] = 0.0
    return d


def top_k_sorted(D: np.ndarray, k: int, n_self: int) -> np.ndarray:
    """The ``k`` nearest columns of each row, nearest first (KNN contexts of Sec. 5.3).

    Order: for rows ``i < n_self`` (pretrain points) column ``i`` itself comes first; then by
    distance; ties by column index. The top ``k`` under this total order are unique, so they do
    not depend on how many neighbours are asked for (``top_k_sorted(D, k)`` equals the first
    ``k`` columns of ``top_k_sorted(D, k')`` for ``k' >= k``). Returns ``(rows, k)`` indices.
    Used for the real-data experiments.
    """
    r, n = D.shape
    k = check_int("k", k, lo=1, hi=n)
    out = np.empty((r, k), dtype=np.int64)
    block = max(1, min(r, _BLOCK_BYTES // (8 * n)))
    for b0 in range(0, r, block):
        d = D[b0:b0 + block].copy()
        b = d.shape[0]
        own = np.arange(b0, b0 + b)
        mine = own < n_self
        d[np.flatnonzero(mine), own[mine]] = -1.0  # self first, even among duplicates
        v = np.partition(d, k - 1, axis=1)[:, k - 1:k]
        lt = d < v
        eq = d == v
        need = k - lt.sum(axis=1, keepdims=True)
        sel = lt | (eq & (np.cumsum(eq, axis=1) <= need))
        cols = np.nonzero(sel)[1].reshape(b, k)  # row-major: increasing column index per row
        order = np.argsort(np.take_along_axis(d, cols, axis=1), axis=1, kind="stable")
        out[b0:b0 + b] = np.take_along_axis(cols, order, axis=1)
    return out


def draw_masks(groups: np.ndarray, mask_fraction: float, n_masks: int,
               rng: np.random.Generator) -> np.ndarray:
    """Boolean keep-masks over the columns (``n_masks x p``), hiding whole feature groups.

    Each mask hides ``round(mask_fraction * G)`` of the ``G`` groups (at least 1, at most
    ``G - 1``), chosen uniformly without replacement (Sec. 5.3: "randomly mask 20% of
    features"). Raises when there are fewer than 2 groups. Used for the real-data experiments.
    """
    mask_fraction = check_float("mask_fraction", mask_fraction, lo=0.0, hi=1.0, lo_open=True,
                                hi_open=True)
    n_masks = check_int("n_masks", n_masks, lo=1)
    ids = np.unique(groups)
    if ids.size < 2:
        raise ValueError(f"masked contexts need at least 2 features, got {ids.size}")
    n_hide = min(max(1, int(round(mask_fraction * ids.size))), ids.size - 1)
    keep = np.ones((n_masks, groups.size), dtype=bool)
    for r in range(n_masks):
        hidden = rng.choice(ids, size=n_hide, replace=False)
        keep[r, np.isin(groups, hidden)] = False
    return keep


def _softmax_rows(neg: np.ndarray) -> np.ndarray:
    """In place: each row of ``neg`` (= -gamma * distance) becomes its softmax."""
    neg -= neg.max(axis=1, keepdims=True)
    np.exp(neg, out=neg)
    neg *= (1.0 / neg.sum(axis=1))[:, None]
    return neg


def reference_conditional(prep: PreparedData, grid: LevelGrid, level: int,
                          masks: np.ndarray | None = None) -> np.ndarray:
    """``P+(x_j | x)`` for all points x (pretrain, downstream, test) at one level, from scratch.

    The natural implementation: distances (per mask) recomputed, each row's softmax or sorted
    neighbour list taken directly. ``masks`` (``n_masks x p`` keep-masks) is required for the
    masked types. Returns a dense ``(n + m + t) x n`` array. The contexts of Sec. 5.3; used by
    :func:`contexture.evaluation.evaluate_reference` (tests and benchmark, not the chapters).
    """
    context = grid.context
    rows, X = prep.rows(), prep.X_pre
    n = X.shape[0]
    draws = [None] if not context.endswith("mask") else list(_check_masks(masks, X.shape[1]))
    out = np.zeros((rows.shape[0], n))
    full = sample_sq_dists(rows, X)
    for keep in draws:
        d = full if keep is None else sample_sq_dists(rows, X, keep, full=full)
        if context.startswith("rbf"):
            out += _softmax_rows(-float(grid.gamma[level]) * d)
        else:
            k = int(grid.k[level])
            idx = top_k_sorted(d, k, n)
            np.add.at(out, (np.repeat(np.arange(rows.shape[0]), k), idx.ravel()), 1.0 / k)
    out /= len(draws)
    return out


def _check_masks(masks: Any, p: int) -> np.ndarray:
    if masks is None:
        raise ValueError("masked contexts need masks (draw_masks)")
    m = np.asarray(masks)
    if m.ndim != 2 or m.shape[1] != p or m.dtype != bool or not m.any(axis=1).all():
        raise ValueError(f"masks must be a boolean (n_masks, {p}) array keeping at least one "
                         f"column per mask, got shape {m.shape} and dtype {m.dtype}")
    return m


class ContextFamily:
    """All levels of one context type of Sec. 5.3 on one prepared dataset, sharing precomputation.

    Parameters
    ----------
    prep : the prepared dataset (:func:`contexture.evaluation.prepare_dataset`).
    grid : its :class:`LevelGrid`.
    masks : keep-masks for the masked types (:func:`draw_masks`).
    k_max : largest K that will be asked for (KNN types; default the grid's largest).
    distances : ``sample_sq_dists(prep.rows(), prep.X_pre)`` if already computed (RBF types).
    timings : optional dict; seconds are added under ``"shared"`` and ``"context"``.

    Shared work: RBF types keep the squared distances of all points to the pretrain points (and,
    for RBF_mask, each mask's distances are ``D - D_hidden``, a product over the hidden columns
    only); KNN types keep each mask's sorted neighbour lists up to ``k_max`` (``uint16`` when
    ``n < 65536``: ``n_masks * rows * k_max * 2`` bytes) and a one-byte count matrix that moves
    from one level to the next by adding the neighbours of ranks ``[K_prev, K)``. The result of
    :meth:`conditional` equals :func:`reference_conditional` up to rounding in the RBF types and
    exactly in the KNN types. The four context types of Sec. 5.3 (Table 1, Figs 2, 6, 8-11);
    chapters: the real-data chapters.
    """

    def __init__(self, prep: PreparedData, grid: LevelGrid, masks: np.ndarray | None = None,
                 *, k_max: int | None = None, distances: np.ndarray | None = None,
                 timings: dict[str, float] | None = None) -> None:
        check_choice("context", grid.context, CONTEXT_TYPES)
        if grid.n != prep.n:
            raise ValueError(f"grid was built for n = {grid.n} pretrain points, the data has "
                             f"{prep.n}")
        self.prep, self.grid, self.context = prep, grid, grid.context
        self.n = prep.n
        self._timings = timings
        t0 = time.perf_counter()
        rows = prep.rows()
        self.n_rows = rows.shape[0]
        self.masks = (_check_masks(masks, rows.shape[1]) if self.context.endswith("mask")
                      else None)
        if self.context.startswith("rbf"):
            self._d = (sample_sq_dists(rows, prep.X_pre) if distances is None
                       else distances)
            if self._d.shape != (self.n_rows, self.n):
                raise ValueError(f"distances must have shape {(self.n_rows, self.n)}, got "
                                 f"{self._d.shape}")
            if self.masks is not None:  # per mask: hidden columns and their squared norms
                self._rows = rows
                self._hidden = []
                for kp in self.masks:
                    hid = np.flatnonzero(~kp)
                    a, b = rows[:, hid], prep.X_pre[:, hid]
                    self._hidden.append((hid, (a * a).sum(1), (b * b).sum(1)))
        else:
            kmax = int(grid.k.max()) if k_max is None else check_int("k_max", k_max, lo=1,
                                                                      hi=self.n)
            dtype = np.uint16 if self.n < 65536 else np.int64
            full = sample_sq_dists(rows, prep.X_pre)
            if self.masks is None:
                self._tables = [top_k_sorted(full, kmax, self.n).astype(dtype)]
            else:
                self._tables = [top_k_sorted(sample_sq_dists(rows, prep.X_pre, kp, full=full),
                                             kmax, self.n).astype(dtype) for kp in self.masks]
            del full
            self._kmax = kmax
            # neighbour counts (at most n_masks each): one byte per entry up to 255 masks
            ctype = np.uint8 if len(self._tables) < 256 else np.uint16
            self._counts = np.zeros((self.n_rows, self.n), dtype=ctype)
            self._k_now = 0
        self._add("shared", t0)

    def _add(self, key: str, t0: float) -> None:
        if self._timings is not None:
            self._timings[key] = self._timings.get(key, 0.0) + time.perf_counter() - t0

    def conditional(self, level: int) -> np.ndarray:
        """``P+(x_j | x)`` at ``level`` for all points (rows) against the pretrain points.

        Dense ``(n + m + t) x n``, a new array. KNN types are fastest when levels are asked in
        increasing order (the counts are then only updated, never rebuilt).
        """
        level = check_int("level", level, lo=0, hi=self.grid.n_levels - 1)
        t0 = time.perf_counter()
        out = (self._rbf(float(self.grid.gamma[level])) if self.context.startswith("rbf")
               else self._knn(int(self.grid.k[level])))
        self._add("context", t0)
        return out

    def _rbf(self, gamma: float) -> np.ndarray:
        r, n = self._d.shape
        block = max(1, _BLOCK_BYTES // (8 * n))
        if self.masks is None:
            out = np.empty((r, n))
            for b0 in range(0, r, block):
                blk = out[b0:b0 + block]
                np.multiply(self._d[b0:b0 + block], -gamma, out=blk)
                _softmax_rows(blk)
            return out
        # -gamma D_r = gamma (D_hidden - D), with D_hidden = [a, |a|^2, 1] [-2b, 1, |b|^2]^T: one
        # product per block and mask; on pretrain rows the row maximum is the self entry, 0
        X_pre, rows = self.prep.X_pre, self._rows
        factors = [np.ascontiguousarray(np.hstack([-2.0 * gamma * X_pre[:, hid],
                                                   np.full((n, 1), gamma), gamma * nb[:, None]]))
                   for hid, _, nb in self._hidden]  # transient: n_masks * n * (hidden + 2)
        out = np.zeros((r, n))
        gd = np.empty((min(block, r), n))
        for b0 in range(0, r, block):
            b1 = min(b0 + block, r)
            g = gd[: b1 - b0]
            np.multiply(self._d[b0:b1], gamma, out=g)
            acc = out[b0:b1]
            ones = np.ones((b1 - b0, 1))
            for (hid, na, _), b_aug in zip(self._hidden, factors, strict=True):
                a_aug = np.hstack([rows[b0:b1, hid], na[b0:b1, None], ones])
                t = a_aug @ b_aug.T
                t -= g
                if b1 > self.n:  # rows of new points: no self entry, shift by the row maximum
                    t -= t.max(axis=1, keepdims=True)
                np.exp(t, out=t)
                t *= (1.0 / t.sum(axis=1))[:, None]
                acc += t
        out /= len(self._hidden)
        return out

    def _knn(self, k: int) -> np.ndarray:
        if k > self._kmax:
            raise ValueError(f"K = {k} exceeds the neighbour lists kept (k_max = {self._kmax})")
        if k < self._k_now:  # going back to a stronger level: rebuild from zero
            self._counts[:] = 0
            self._k_now = 0
        rows = np.arange(self.n_rows)[:, None]
        for table in self._tables:  # within one table a (row, column) pair appears once
            self._counts[rows, table[:, self._k_now:k]] += 1
        self._k_now = k
        out = self._counts.astype(np.float64)
        out *= 1.0 / (k * len(self._tables))
        return out

    @property
    def table_bytes(self) -> int:
        """Bytes held by the neighbour lists (0 for the RBF types)."""
        return int(sum(t.nbytes for t in getattr(self, "_tables", [])))

