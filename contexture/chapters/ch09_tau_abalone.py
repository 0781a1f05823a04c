r""":math:`\tau` on one dataset: calculators for the chapter ``ch09_tau_abalone``.

Sec. 5.2 of the paper (arXiv v2 numbering) illustrates the metric :math:`\tau` of Eq. (4) on
abalone with three KNN contexts (``A = X``): ``K = 150`` (weak association), ``K = 30``
(moderate) and ``K = 5`` (strong). Fig. 3 sets the spectra and the curves :math:`\tau_d` beside
the downstream error :math:`\mathrm{err}_d` of a linear probe on the exact top-``d`` singular
functions; Fig. 5a shows the cosines between the target and each singular function. The
protocol (kernel PCA on the pretrain split, the Lemma-3 extension, ridge probes for every ``d``)
is :func:`contexture.evaluation.evaluate_prepared`; this module adds what only the chapter needs:

* :func:`knn_grid` -- a :class:`~contexture.evaluation.LevelGrid` at explicit neighbourhood
  sizes (the library's grids are log-spaced from ``K = 2``);
* :func:`tau_abalone_cell`, :func:`build`, :data:`SWEEPS` -- the chapter's sweep, one cell per
  ``K``;
* :func:`tracking` -- whether :math:`\tau_d` tracks :math:`\mathrm{err}_d` over ``d``, made
  precise (rank correlation, the two minimisers, interior minimum, monotone decrease);
* :func:`knn_components` -- the connected components of a KNN context (each adds a singular
  value 1);
* :func:`strength_roles`, :func:`top_share` -- naming the contexts and summarising Fig. 5a.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import rankdata

from contexture.base.checks import check_float, check_int, check_matrix
from contexture.evaluation import (
    RIDGE_GRID,
    LevelGrid,
    check_ridge_grid,
    evaluate_prepared,
    prepare_dataset,
    sample_sq_dists,
    top_k_sorted,
)
from contexture.metrics import tau
from contexture.sweeps import Grid, Sweep

__all__ = [
    "DATASET",
    "SWEEPS",
    "Tracking",
    "build",
    "knn_components",
    "knn_grid",
    "strength_roles",
    "tau_abalone_cell",
    "top_share",
    "tracking",
]

DATASET = "abalone"
"""The dataset of the paper's Sec. 5.2 illustration (Figs 3 and 5a)."""

_PER_LEVEL = ("s", "err", "ridge_index", "target_cosine", "d_usable", "residual", "d_star",
              "err_star", "tau", "tau_d_star", "decay_rate", "sum_s2", "neighbourhood")
_PER_CELL = ("n_pretrain", "n_train", "n_test", "n_features", "d0", "beta", "ridge_grid")


def knn_grid(ks: Sequence[int], n: int) -> LevelGrid:
    """A KNN :class:`~contexture.evaluation.LevelGrid` at the neighbourhood sizes ``ks``.

    ``ks`` must be distinct integers in ``[1, n]`` (``n`` pretrain points); the levels are
    sorted by increasing ``K`` (level 0 = strongest association, the library's convention).
    The paper's Sec. 5.2 uses ``K = 150, 30, 5`` (Figs 3 and 5a). Chapter ``ch09_tau_abalone``.

    Raises
    ------
    ValueError
        for an empty ``ks``, a size outside ``[1, n]`` or a repeated size.
    """
    n = check_int("n", n, lo=4)
    ks = list(ks)
    if not ks:
        raise ValueError("ks must hold at least one neighbourhood size, got []")
    k = [check_int(f"ks[{i}]", v, lo=1, hi=n) for i, v in enumerate(ks)]
    if len(set(k)) != len(k):
        raise ValueError(f"ks must not repeat a size, got {tuple(k)}")
    return LevelGrid(context="knn", k=np.array(sorted(k), dtype=np.int64), gamma=None, n=n)


def tau_abalone_cell(k: int, *, dataset: str = DATASET, n_pretrain_cap: int | None = 3000,
                     n_eval_cap: int | None = 3000, d0: int = 256, seed: int = 0,
                     ridge_grid: Sequence[float] = RIDGE_GRID, beta: float = 1.0
                     ) -> dict[str, Any]:
    r"""One KNN context of Sec. 5.2 evaluated on a dataset (the sweep cell of :func:`build`).

    Prepares the dataset (:func:`contexture.evaluation.prepare_dataset`: seeded 70/15/15 split,
    caps, z-scored targets; assumed), builds the KNN context with ``K = k`` on the pretrain
    points, and runs :func:`contexture.evaluation.evaluate_prepared` (exact top ``d0 + 1``
    singular functions, Lemma-3 extension, ridge probes for ``d = 0..d0``).

    Returns
    -------
    dict with the per-level fields of :func:`contexture.evaluation.evaluate_contexts` for this
    one context (``s``, ``err``, ``target_cosine``, ``tau``, ``tau_d_star``, ``d_star``,
    ``err_star``, ``residual``, ``d_usable``, ``decay_rate``, ...), the cell sizes
    (``n_pretrain``, ``n_train``, ``n_test``, ``d0``, ...) and ``tau_curve``:
    :math:`\tau_d` for ``d = 1..d0`` (Eq. (4), :func:`contexture.metrics.tau`). Fig. 3 (Sec. 5.2);
    chapter ``ch09_tau_abalone``.
    """
    prep = prepare_dataset(dataset, seed=seed, n_pretrain_cap=n_pretrain_cap,
                           n_eval_cap=n_eval_cap)
    grid = knn_grid([k], prep.n)
    rec = evaluate_prepared(prep, "knn", None, d0=d0, grid=grid, ridge_grid=ridge_grid,
                            beta=beta, seed=seed)
    out: dict[str, Any] = {key: rec[key][0] for key in _PER_LEVEL}
    out.update({key: rec[key] for key in _PER_CELL})
    out["tau_curve"] = tau(out["s"], beta=beta, d0=int(rec["d0"]))[2]
    return out


def build(params: Mapping[str, Any]) -> Sweep:
    """The chapter's sweep ``tau_abalone``: one cell per ``K`` of ``params["ks"]``.

    ``params`` holds ``ks``, ``n_pretrain_cap``, ``n_eval_cap``, ``d0``, ``seed`` and
    ``ridge_grid`` (the chapter's parameters); ``beta = 1`` (Eq. (4), as in the paper). Sec. 5.2,
    Fig. 3; chapter ``ch09_tau_abalone``.

    Raises
    ------
    KeyError
        when a parameter is missing; ``ValueError`` for repeated sizes or a bad ridge grid.
    """
    missing = [key for key in ("ks", "n_pretrain_cap", "n_eval_cap", "d0", "seed", "ridge_grid")
               if key not in params]
    if missing:
        raise KeyError(f"chapter parameters lack {missing} for the tau_abalone sweep")
    ks = [check_int(f"ks[{i}]", v, lo=1) for i, v in enumerate(params["ks"])]
    if not ks or len(set(ks)) != len(ks):
        raise ValueError(f"ks must be a non-empty list of distinct sizes, got {ks}")
    fixed = {"dataset": DATASET, "n_pretrain_cap": params["n_pretrain_cap"],
             "n_eval_cap": params["n_eval_cap"], "d0": params["d0"], "seed": params["seed"],
             "ridge_grid": [float(v) for v in check_ridge_grid(params["ridge_grid"])],
             "beta": 1.0}
    return Sweep("tau_abalone", tau_abalone_cell, Grid(k=ks), fixed=fixed)


SWEEPS = {"tau_abalone": build}
"""The sweeps of this chapter, for ``python -m bookbuild sweep tau_abalone``."""


@dataclass(frozen=True)
class Tracking:
    r"""How well :math:`\tau_d` tracks :math:`\mathrm{err}_d` over ``d = 1..n_d`` (Fig. 3).

    ``spearman``: rank correlation of :math:`\tau_d` and :math:`\mathrm{err}_d` over ``d``
    (infinite :math:`\tau_d` rank highest); ``d_tau`` and ``d_err``: the smallest minimisers of
    each; ``excess``: :math:`\mathrm{err}_{d_\tau}-\mathrm{err}_{d_{err}}\ge0` (the price of
    choosing ``d`` by :math:`\tau`); ``tau_interior`` / ``err_interior``: the minimiser lies
    strictly inside ``(1, n_d)`` (the curve first decreases, then increases); ``tau_rise``:
    :math:`\tau_{n_d}-\min_d\tau_d`; ``tau_down_share``: the share of steps ``d -> d + 1``
    (between finite values) on which :math:`\tau_d` decreases; ``tau_monotone``: it never
    increases (a monotone decrease); ``n_d``: the dimensions compared.
    """

    spearman: float
    d_tau: int
    d_err: int
    excess: float
    tau_interior: bool
    err_interior: bool
    tau_rise: float
    tau_down_share: float
    tau_monotone: bool
    n_d: int


def tracking(tau_d: Any, err: Any) -> Tracking:
    r"""Compare the curve :math:`\tau_d` (Eq. (4)) with the probe error :math:`\mathrm{err}_d`.

    ``tau_d[d - 1]`` is :math:`\tau_d` for ``d = 1..`` (``+inf`` allowed, where
    :math:`s_{d+1}=1`); ``err[d]`` is :math:`\mathrm{err}_d` for ``d = 0..`` (NaN past the usable
    dimension). Both are compared on ``d = 1..n_d``, the longest range on which ``err`` is finite
    and ``tau_d`` is defined. The paper's Sec. 5.2 reads Fig. 3 as "tau_d tracks the error" for
    the weak and moderate contexts and "fails to track" for the strong one; :class:`Tracking`
    makes that precise. Chapter ``ch09_tau_abalone``.

    Raises
    ------
    ValueError
        when fewer than 2 dimensions can be compared or ``tau_d`` holds NaN.
    """
    t = np.asarray(tau_d, dtype=np.float64).ravel()
    e = np.asarray(err, dtype=np.float64).ravel()
    if np.isnan(t).any():
        raise ValueError("tau_d must not hold NaN (an infinite tau_d is allowed)")
    finite = np.isfinite(e[1:])
    n_d = min(t.size, int(np.argmin(finite)) if not finite.all() else finite.size)
    if n_d < 2:
        raise ValueError(f"tracking needs at least 2 dimensions with both tau_d and a finite "
                         f"err_d, got {n_d}")
    t, e = t[:n_d], e[1:n_d + 1]
    rt, re_ = rankdata(t), rankdata(e)
    spearman = float(np.corrcoef(rt, re_)[0, 1]) if rt.std() > 0 and re_.std() > 0 \
        else float("nan")
    i_t, i_e = int(np.argmin(t)), int(np.argmin(e))
    steps = np.diff(t[np.isfinite(t)])
    return Tracking(spearman=spearman, d_tau=i_t + 1, d_err=i_e + 1,
                    excess=float(e[i_t] - e[i_e]),
                    tau_interior=0 < i_t < n_d - 1, err_interior=0 < i_e < n_d - 1,
                    tau_rise=float(t[-1] - t[i_t]),
                    tau_down_share=float(np.mean(steps < 0.0)) if steps.size else float("nan"),
                    tau_monotone=bool(np.all(steps <= 0.0)), n_d=n_d)


def strength_roles(ks: Sequence[int]) -> dict[str, int]:
    """Name the contexts by association: ``weak`` (largest K), ``moderate``, ``strong`` (smallest).

    ``moderate`` is the median size (the upper median for an even count). For the paper's
    ``K = 150, 30, 5`` (Sec. 5.2, Fig. 3) this gives 150, 30, 5. Chapter ``ch09_tau_abalone``.

    Raises
    ------
    ValueError
        for fewer than 2 distinct sizes.
    """
    k = sorted({check_int(f"ks[{i}]", v, lo=1) for i, v in enumerate(ks)})
    if len(k) < 2:
        raise ValueError(f"ks must hold at least 2 distinct sizes, got {list(ks)}")
    return {"weak": k[-1], "moderate": k[len(k) // 2], "strong": k[0]}


def top_share(cos: Any, top: int) -> float:
    r"""Share of :math:`\sum_i\cos_i^2` carried by the first ``top`` cosines (Fig. 5a).

    ``cos`` holds :math:`|\cos(f^*,\mu_i)|` for ``i = 1..m`` (orthonormal :math:`\mu_i`, so
    :math:`\sum_i\cos_i^2\le1` is the share of the target's variance in their span). Returns
    :math:`\sum_{i\le top}\cos_i^2/\sum_{i\le m}\cos_i^2`. Sec. 5.2 ("mass in the top few
    eigenfunctions"); chapter ``ch09_tau_abalone``.
    """
    c = np.asarray(cos, dtype=np.float64).ravel()
    top = check_int("top", top, lo=1, hi=c.size)
    total = float(np.sum(c**2))
    check_float("sum of squared cosines", total, lo=0.0, lo_open=True)
    return float(np.sum(c[:top] ** 2) / total)


def knn_components(X_pre: Any, k: int) -> int:
    r"""Connected components of the KNN context with ``K = k`` on the pretrain points.

    With ``A = X`` every point is among its own ``K`` nearest neighbours, so the bipartite graph
    of :math:`P^+(a\mid x)>0` has as many components as the undirected graph joining each
    point to its ``K`` nearest pretrain points (neighbours ordered as in
    :func:`contexture.evaluation.top_k_sorted`). The singular value 1 of :math:`T_{P^+}` has that
    many independent singular functions (the indicators of the components), so a sample whose
    graph falls apart has :math:`s_1=\dots=s_{c-1}=1` besides the trivial :math:`s_0` and
    :math:`\tau_d=\infty` while :math:`s_{d+1}=1` (Eq. (4)). Sec. 5.2 (the strong context of
    Fig. 3); chapter ``ch09_tau_abalone``.
    """
    X = check_matrix("X_pre", X_pre, ndim=2)
    n = X.shape[0]
    k = check_int("k", k, lo=1, hi=n)
    nbr = top_k_sorted(sample_sq_dists(X, X), k, n)
    rows = np.repeat(np.arange(n), k)
    graph = coo_matrix((np.ones(rows.size), (rows, nbr.ravel())), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])
