r"""Evaluating contexts on real data: the protocol of Sec. 5.3 as one sweep cell.

For one dataset and one context type, at each requested association level:

1. the context's conditional on the pretrain points (``A = X``) and at the downstream and test
   points (:mod:`contexture.evaluation.families`; grids in :mod:`contexture.evaluation.grids`);
2. the exact top ``d0 + 1`` nontrivial singular values and functions (kernel PCA on the dual
   kernel, :mod:`contexture.evaluation.spectrum`), extended to the other points by Lemma 3;
3. ridge probes on :math:`\mu_1..\mu_d` for every ``d <= d0`` (:mod:`contexture.evaluation.probe`)
   giving :math:`\mathrm{err}_d`, and :math:`d^*=\arg\min_{d\ge1}\mathrm{err}_d` (chosen on the
   test error itself, as the paper appears to do);
4. :math:`\tau` of Eq. (4) (:func:`contexture.metrics.tau`, ``beta = 1``, ``d0 = 512`` in the
   paper), the decay rate of Sec. 5.1 and, when asked, the expected kernel deviation and the
   Lipschitz estimate of App. F.1.

:func:`evaluate_contexts` is the cell (dataset name in, small record out; the levels of one
call share their distance and neighbour computations); :func:`evaluate_prepared` runs it on a
:class:`~contexture.evaluation.prepared.PreparedData`. The natural implementation of the same
record, one context at a time, is :func:`contexture.evaluation.reference.evaluate_reference`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from contexture.base.checks import check_choice, check_float, check_int
from contexture.data import info
from contexture.evaluation.families import ContextFamily, draw_masks, sample_sq_dists
from contexture.evaluation.grids import (
    CONTEXT_TYPES,
    LevelGrid,
    check_level_indices,
    knn_levels,
    rbf_gammas,
)
from contexture.evaluation.prepared import (
    _TAG_GRID,
    _TAG_MASKS,
    DEFAULT_EVAL_CAP,
    DEFAULT_PRETRAIN_CAP,
    PreparedData,
    prepare_dataset,
    subseed,
)
from contexture.evaluation.probe import RIDGE_GRID, check_ridge_grid, ridge_path
from contexture.evaluation.spectrum import exact_encoder, usable_dimension
from contexture.metrics import decay_rate, lipschitz_estimate, tau

__all__ = [
    "D0_PAPER",
    "evaluate_contexts",
    "evaluate_prepared",
    "level_grid",
    "lipschitz_rows",
    "protocol_masks",
    "resolve_d0",
    "summarise_level",
]

D0_PAPER = 512
"""The paper's maximum dimension d0 (Sec. 5.3)."""

S_FLOOR = 1e-6
"""Singular values below this are not extended (Lemma 3 divides by s^2); assumed."""


def resolve_d0(d0: int | None, n: int) -> int:
    """``d0`` checked against ``n`` pretrain points; ``None`` gives ``min(512, n - 2)``.

    The protocol computes ``d0 + 1`` nontrivial pairs (tau_d at ``d = d0`` needs
    :math:`s_{d_0+1}`), so ``d0 <= n - 2``. Eq. (4), Sec. 5.3; chapters: the real-data chapters.
    """
    if d0 is None:
        return min(D0_PAPER, n - 2)
    return check_int("d0", d0, lo=1, hi=n - 2)


def level_grid(context: str, prep: PreparedData, *, n_levels: int = 35,
               max_fraction: float = 0.25, seed: int = 0,
               distances: np.ndarray | None = None) -> LevelGrid:
    """The :class:`LevelGrid` of ``context`` on ``prep`` (rules in :mod:`.grids`; assumed).

    ``distances``: the squared distances of the pretrain points to themselves (its first ``n``
    rows are used; computed when None). The gamma scan's row subsample is drawn from
    ``seed``'s grid stream. The 35 levels per type of Sec. 5.3; chapters: the real-data chapters.
    """
    context = check_choice("context", context, CONTEXT_TYPES)
    n = prep.n
    k = knn_levels(n, n_levels, max_fraction)
    gamma = None
    if context.startswith("rbf"):
        d = sample_sq_dists(prep.X_pre, prep.X_pre) if distances is None else distances[:n]
        gamma = rbf_gammas(d, k, subseed(seed, _TAG_GRID))
    return LevelGrid(context=context, k=k, gamma=gamma, n=n)


def protocol_masks(prep: PreparedData, *, n_masks: int = 50, mask_fraction: float = 0.2,
                   seed: int = 0) -> np.ndarray:
    """The keep-masks of the masked contexts (:func:`.families.draw_masks`, seed's mask stream).

    RBF_mask and KNN_mask of one dataset and seed use the same masks. Sec. 5.3 (50 masks, 20%
    of the features); chapters: the real-data chapters.
    """
    return draw_masks(prep.groups, mask_fraction, n_masks, subseed(seed, _TAG_MASKS))


def lipschitz_rows(n: int, n_sub: int, seed: int) -> np.ndarray:
    """The subsample of :func:`contexture.metrics.lipschitz_estimate` (same draw, same seed).

    App. F.1 (the Lipschitz estimate on 1000 points); chapters: the real-data chapters.
    """
    if n <= n_sub:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=n_sub, replace=False))


class _Settings:
    """Validated protocol settings shared by the fast and the reference implementations."""

    def __init__(self, prep: PreparedData, context: str, *, d0: int | None, ridge_grid: Any,
                 beta: float, association: bool, lipschitz_n: int, s_floor: float,
                 seed: int) -> None:
        self.context = check_choice("context", context, CONTEXT_TYPES)
        self.d0 = resolve_d0(d0, prep.n)
        self.ridge_grid = check_ridge_grid(ridge_grid)
        self.beta = check_float("beta", beta, lo=0.0, lo_open=True)
        if not isinstance(association, bool):
            raise TypeError(f"association must be a bool, got {association!r}")
        self.association = association
        self.lipschitz_n = check_int("lipschitz_n", lipschitz_n, lo=2)
        self.s_floor = check_float("s_floor", s_floor, lo=0.0)
        self.seed = check_int("seed", seed, lo=0)


def _cosines(mu: np.ndarray, Y_pre: np.ndarray) -> np.ndarray:
    """RMS over target columns of ``|cos(y_c - mean, mu_i)|`` on the pretrain points."""
    if Y_pre.shape[1] == 0:
        return np.full(mu.shape[1], np.nan)
    yc = Y_pre - Y_pre.mean(axis=0)
    norms = np.linalg.norm(yc, axis=0)
    norms[norms == 0] = np.inf
    cos = (mu.T @ yc) / (np.linalg.norm(mu, axis=0)[:, None] * norms[None, :])
    return np.sqrt((cos**2).mean(axis=1))


def summarise_level(s: np.ndarray, err: np.ndarray, *, d0: int, beta: float) -> dict[str, Any]:
    """Scalars of one level: :math:`d^*`, :math:`\\mathrm{err}_{d^*}`, tau (Eq. (4)), decay rate.

    ``s`` holds :math:`s_1..s_{d_0+1}`, ``err`` :math:`\\mathrm{err}_0..\\mathrm{err}_{d_0}`
    (NaN past the usable dimension). :math:`d^*` is the smallest minimiser over ``d >= 1`` (0
    if no ``d >= 1`` is usable); tau is NaN for an independent context (all :math:`s_i = 0`).
    Eq. (4), Sec. 5.1-5.3; chapters: the real-data chapters.
    """
    valid = np.isfinite(err[1:])
    if valid.any():
        d_star = int(np.nanargmin(np.where(valid, err[1:], np.nan))) + 1
        err_star = float(err[d_star])
    else:
        d_star, err_star = 0, float("nan")
    if np.sum(s[:d0] ** 2) > 0:
        t, t_d, _ = tau(s, beta=beta, d0=d0)
    else:  # independent context: Eq. (4) is 0/0
        t, t_d = float("nan"), 0
    return {"d_star": d_star, "err_star": err_star, "tau": t, "tau_d_star": t_d,
            "decay_rate": decay_rate(s[:d0] ** 2), "sum_s2": float(np.sum(s[:d0] ** 2))}


def _stack(per_level: list[dict[str, Any]]) -> dict[str, Any]:
    keys = per_level[0].keys()
    return {k: np.array([lv[k] for lv in per_level]) for k in keys}


def evaluate_prepared(
    prep: PreparedData,
    context: str,
    levels: Sequence[int] | int | None = None,
    *,
    d0: int | None = None,
    n_levels: int = 35,
    max_fraction: float = 0.25,
    n_masks: int = 50,
    mask_fraction: float = 0.2,
    ridge_grid: Any = RIDGE_GRID,
    beta: float = 1.0,
    association: bool = False,
    lipschitz_n: int = 1000,
    s_floor: float = S_FLOOR,
    seed: int = 0,
    grid: LevelGrid | None = None,
    masks: np.ndarray | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_contexts` on prepared data (synthetic arrays, other splits, tests).

    ``grid`` and ``masks`` override the protocol's (:func:`level_grid`,
    :func:`protocol_masks`); ``timings`` (optional dict) accumulates seconds per stage:
    ``shared`` (distances, neighbour lists), ``grid``, ``context`` (per-level conditionals),
    ``gram``, ``eigh``, ``weights``, ``extension`` (Lemma 3 and the residual check),
    ``probe`` and ``metrics``. Other arguments and the record as in :func:`evaluate_contexts`.
    Sec. 5.1-5.3, App. F.1; chapters: the real-data chapters.
    """
    cfg = _Settings(prep, context, d0=d0, ridge_grid=ridge_grid, beta=beta,
                   association=association, lipschitz_n=lipschitz_n, s_floor=s_floor, seed=seed)
    check_level_indices(levels, n_levels if grid is None else grid.n_levels)
    tick = time.perf_counter()
    dist = None
    if grid is None:
        if cfg.context.startswith("rbf"):
            dist = sample_sq_dists(prep.rows(), prep.X_pre)
            _add(timings, "shared", tick)
            tick = time.perf_counter()
        grid = level_grid(cfg.context, prep, n_levels=n_levels, max_fraction=max_fraction,
                          seed=cfg.seed, distances=dist)
    elif grid.context != cfg.context or grid.n != prep.n:
        raise ValueError(f"grid is for context {grid.context!r} on n = {grid.n}, expected "
                         f"{cfg.context!r} on n = {prep.n}")
    idx = grid.check_levels(levels)
    if cfg.context.endswith("mask") and masks is None:
        masks = protocol_masks(prep, n_masks=n_masks, mask_fraction=mask_fraction, seed=cfg.seed)
    _add(timings, "grid", tick)
    family = ContextFamily(prep, grid, masks, k_max=int(grid.k[idx].max()), distances=dist,
                           timings=timings)
    del dist
    per_level = []
    for level in idx:
        P_all = family.conditional(int(level))
        per_level.append(_one_level(prep, cfg, P_all, timings))
        del P_all
    record = _stack(per_level)
    return _finish(record, prep, cfg, grid, idx, family.table_bytes)


def _add(timings: dict[str, float] | None, key: str, t0: float) -> None:
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def _one_level(prep: PreparedData, cfg: _Settings, P_all: np.ndarray,
               timings: dict[str, float] | None) -> dict[str, Any]:
    n, d0 = prep.n, cfg.d0
    P_pre = P_all[:n]
    enc = exact_encoder(P_pre, d0 + 1, kernel_deviation=cfg.association, timings=timings)
    t0 = time.perf_counter()
    d_use = usable_dimension(enc.s[:d0], cfg.s_floor)
    # certificate of the pairs that are extended and probed (below s_floor a pair may mix
    # with the null space, and it is never used)
    residual = float(enc.residuals(P_pre)[:d_use].max()) if d_use else 0.0
    F = enc.extend(P_all[n:], d_use)
    m = prep.X_train.shape[0]
    _add(timings, "extension", t0)
    t0 = time.perf_counter()
    path = ridge_path(F[:m], prep.Y_train, F[m:], prep.Y_test, cfg.ridge_grid)
    _add(timings, "probe", t0)
    t0 = time.perf_counter()
    out = _level_record(enc.s, path.err, path.index, d0=d0, beta=cfg.beta, d_use=d_use,
                        residual=residual, cos=_cosines(enc.mu[:, :d0], prep.Y_pre))
    out["kernel_deviation"] = enc.kernel_deviation
    out["lipschitz"] = float("nan")
    if cfg.association:
        rows = lipschitz_rows(n, cfg.lipschitz_n, cfg.seed)
        pa = P_pre.mean(axis=0)
        k_sub = (P_pre[rows] * (1.0 / pa)[None, :]) @ P_pre[rows].T
        out["lipschitz"] = lipschitz_estimate(k_sub, prep.X_pre[rows], n_sub=rows.size,
                                              seed=cfg.seed)
    _add(timings, "metrics", t0)
    return out


def _level_record(s: np.ndarray, err_used: np.ndarray, index: np.ndarray, *, d0: int,
                  beta: float, d_use: int, residual: float, cos: np.ndarray) -> dict[str, Any]:
    """Per-level arrays padded to ``d0 + 1`` (NaN / -1 past the usable dimension)."""
    err = np.full(d0 + 1, np.nan)
    err[: d_use + 1] = err_used
    ridx = np.full(d0 + 1, -1, dtype=np.int64)
    ridx[: d_use + 1] = index
    out: dict[str, Any] = {"s": np.asarray(s, dtype=np.float64), "err": err, "ridge_index": ridx,
                           "target_cosine": cos, "d_usable": d_use, "residual": residual}
    out.update(summarise_level(np.asarray(s), err, d0=d0, beta=beta))
    return out


def _finish(record: dict[str, Any], prep: PreparedData, cfg: _Settings, grid: LevelGrid,
            idx: np.ndarray, table_bytes: int) -> dict[str, Any]:
    record["lipschitz_scaled"] = record["lipschitz"] * prep.X_pre.shape[1]
    record.update({
        "dataset": prep.name, "context": cfg.context, "level": idx.astype(np.int64),
        "k": grid.k[idx].astype(np.int64), "value": np.asarray(grid.values[idx], np.float64),
        "neighbourhood": grid.neighbourhood[idx], "n_pretrain": prep.n,
        "n_train": int(prep.X_train.shape[0]), "n_test": int(prep.X_test.shape[0]),
        "n_features": int(prep.X_pre.shape[1]), "n_targets": int(prep.Y_train.shape[1]),
        "d0": cfg.d0, "beta": cfg.beta, "ridge_grid": cfg.ridge_grid.copy(),
        "neighbour_table_bytes": table_bytes,
    })
    return record


def evaluate_contexts(
    dataset: str,
    context: str,
    levels: Sequence[int] | int | None = None,
    *,
    d0: int | None = None,
    n_pretrain_cap: int | None = DEFAULT_PRETRAIN_CAP,
    n_eval_cap: int | None = DEFAULT_EVAL_CAP,
    seed: int = 0,
    n_levels: int = 35,
    max_fraction: float = 0.25,
    n_masks: int = 50,
    mask_fraction: float = 0.2,
    ridge_grid: Sequence[float] = RIDGE_GRID,
    beta: float = 1.0,
    association: bool = False,
    lipschitz_n: int = 1000,
    s_floor: float = S_FLOOR,
    clip_d0: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    r"""Evaluate one context type of Sec. 5.3 at several association levels on a real dataset.

    The sweep cell of the real-data experiments (Sec. 5.1-5.3, App. F.1; Table 1 and
    Figs 2-3, 5-6, 8-11), used by the real-data chapters. Pure: the record depends only on the
    arguments (and the data files).

    Parameters
    ----------
    dataset : a name of :func:`contexture.data.names` (Table 1).
    context : ``"rbf"``, ``"knn"``, ``"rbf_mask"`` or ``"knn_mask"`` (the paper's 4 types).
    levels : level indices into the grid of ``n_levels`` levels (0 = strongest association);
        ``None`` = all. Levels of one call share the distances and neighbour lists, so a sweep
        should give each call several levels (e.g. all 35, or chunks of 7).
    d0 : maximum dimension; ``None`` = ``min(512, n - 2)`` (paper: 512). Computes ``d0 + 1``
        nontrivial pairs.
    n_pretrain_cap, n_eval_cap : caps on the pretrain part and on each of the downstream and
        test parts (:func:`~contexture.evaluation.prepared.prepare_dataset`; assumed).
    seed : the split, the caps, the masks and the grid rows (independent streams).
    n_levels, max_fraction : the grid (:mod:`contexture.evaluation.grids`; paper: 35 levels).
    n_masks, mask_fraction : masked types (paper: 50 masks, 20% of the features).
    ridge_grid : per-sample penalties of the probe (:mod:`contexture.evaluation.probe`).
    beta : the weight of Eq. (4) (paper: 1).
    association : also compute the expected kernel deviation (all pretrain pairs) and the
        Lipschitz estimate (on ``lipschitz_n`` pretrain points; paper: 1000) of App. F.1.
    s_floor : singular functions with :math:`s_i<` ``s_floor`` are not extended (assumed).
    clip_d0 : lower ``d0`` to ``n - 2`` on a dataset with fewer pretrain points (instead of
        raising), so that one ``d0`` serves every dataset of a sweep.

    Returns
    -------
    dict with, per requested level (arrays over levels, in increasing level order):
    ``level``, ``k`` (neighbourhood size), ``value`` (gamma or K), ``neighbourhood`` (K/n);
    ``s`` (``L x (d0+1)``: :math:`s_1..s_{d_0+1}`); ``err`` (``L x (d0+1)``: test MSE of the
    probe on :math:`\mu_1..\mu_d` for ``d = 0..d0``, NaN past ``d_usable``); ``ridge_index``
    (selected penalty per d); ``d_star``, ``err_star``; ``tau``, ``tau_d_star``
    (:math:`\arg\min_d\tau_d`); ``decay_rate`` (Sec. 5.1), ``sum_s2``; ``kernel_deviation``,
    ``lipschitz``, ``lipschitz_scaled`` (times the feature dimension; NaN unless
    ``association``); ``target_cosine`` (``L x d0``: RMS over target columns of
    :math:`|\cos(y,\mu_i)|` on the pretrain points, Fig. 5); ``d_usable``; ``residual``
    (eigen-residual certificate). Scalars: ``dataset``, ``context``, ``n_pretrain``,
    ``n_train``, ``n_test``, ``n_features``, ``n_targets``, ``d0``, ``beta``, ``ridge_grid``,
    ``neighbour_table_bytes``.

    Raises
    ------
    contexture.data.UnknownDatasetError
        for an unknown dataset (before any file is read).
    ValueError
        for an unknown context type, a ``d0`` above ``n - 2``, a level outside the grid and
        other invalid settings.
    """
    info(dataset)
    check_choice("context", context, CONTEXT_TYPES)
    check_ridge_grid(ridge_grid)
    prep = prepare_dataset(dataset, seed=seed, n_pretrain_cap=n_pretrain_cap,
                           n_eval_cap=n_eval_cap, data_dir=data_dir)
    if clip_d0 and d0 is not None:
        d0 = min(check_int("d0", d0, lo=1), prep.n - 2)
    return evaluate_prepared(prep, context, levels, d0=d0, n_levels=n_levels,
                             max_fraction=max_fraction, n_masks=n_masks,
                             mask_fraction=mask_fraction, ridge_grid=ridge_grid, beta=beta,
                             association=association, lipschitz_n=lipschitz_n,
                             s_floor=s_floor, seed=seed)
