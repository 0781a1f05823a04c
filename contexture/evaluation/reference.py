"""The natural implementation of :func:`contexture.evaluation.evaluate_contexts`, for checking.

Each context on its own: its conditional built from scratch (distances and, for the masked
types, every mask's distances recomputed), the dense Gram matrix of the dual kernel
``k_X^+`` (Definition 1), centred as in kernel PCA and diagonalised with
``scipy.linalg.eigh(subset_by_index=...)``, the singular functions extended by Lemma 3
(:math:`\\nu_i=T^*\\mu_i/s_i`, :math:`\\mu_i(x)=s_i^{-1}\\sum_jP^+(x_j|x)\\nu_i(x_j)`), and one
``RidgeCV`` per dimension. Same record as the fast path; tests and
``benchmarks/bench_context_sweep.py`` compare the two.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg as sla

from contexture.base.linalg import column_signs
from contexture.evaluation.cell import (
    S_FLOOR,
    _cosines,
    _finish,
    _level_record,
    _Settings,
    _stack,
)
from contexture.evaluation.families import reference_conditional
from contexture.evaluation.grids import LevelGrid
from contexture.evaluation.prepared import PreparedData
from contexture.evaluation.probe import RIDGE_GRID, ridge_path_reference
from contexture.evaluation.spectrum import usable_dimension
from contexture.metrics import kernel_deviation, lipschitz_estimate

__all__ = ["evaluate_reference"]


def _add(timings: dict[str, float] | None, key: str, t0: float) -> float:
    now = time.perf_counter()
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + now - t0
    return now


def evaluate_reference(
    prep: PreparedData,
    grid: LevelGrid,
    levels: Sequence[int] | int | None = None,
    *,
    masks: np.ndarray | None = None,
    d0: int | None = None,
    ridge_grid: Any = RIDGE_GRID,
    beta: float = 1.0,
    association: bool = False,
    lipschitz_n: int = 1000,
    s_floor: float = S_FLOOR,
    seed: int = 0,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The record of :func:`contexture.evaluation.evaluate_prepared`, computed naively.

    ``grid`` (and ``masks`` for the masked types) must be given: they define the contexts, and
    sharing them isolates the computation being compared. Kernel PCA (Sec. 5.3, Definition 1,
    Lemmas 3-4), probes (one ``RidgeCV`` per ``d``), Eq. (4) and App. F.1 as in the module
    docstring. Slow by design: use a few levels. ``timings`` (optional dict) accumulates
    seconds under ``context``, ``gram``, ``eigh``, ``extension``, ``probe`` and ``metrics``.
    Used by the tests and ``benchmarks/bench_context_sweep.py``, not by the chapters.
    """
    cfg = _Settings(prep, grid.context, d0=d0, ridge_grid=ridge_grid, beta=beta,
                   association=association, lipschitz_n=lipschitz_n, s_floor=s_floor, seed=seed)
    idx = grid.check_levels(levels)
    n, d0 = prep.n, cfg.d0
    m = prep.X_train.shape[0]
    per_level = []
    for level in idx:
        t0 = time.perf_counter()
        P_all = reference_conditional(prep, grid, int(level), masks)
        t0 = _add(timings, "context", t0)
        P = P_all[:n]
        pa = P.mean(axis=0)
        K = (P / pa) @ P.T  # Gram matrix of k_X^+
        Kc = K - K.mean(axis=0)[None, :] - K.mean(axis=1)[:, None] + K.mean()
        Kc /= n
        t0 = _add(timings, "gram", t0)
        lam, V = sla.eigh(Kc, subset_by_index=(n - d0 - 1, n - 1))
        t0 = _add(timings, "eigh", t0)
        lam, V = lam[::-1], V[:, ::-1]
        V = V * column_signs(V)
        s = np.sqrt(np.clip(lam, 0.0, 1.0))
        mu = np.sqrt(n) * V
        d_use = usable_dimension(s[:d0], cfg.s_floor)
        res = np.linalg.norm(Kc @ V - V * lam, axis=0)
        residual = float(res[:d_use].max()) if d_use else 0.0
        nu = (P.T @ (mu[:, :d_use] / n)) / pa[:, None] / s[:d_use]  # T* mu / s
        F = (P_all[n:] @ nu) / s[:d_use]  # Lemma 3
        t0 = _add(timings, "extension", t0)
        path = ridge_path_reference(F[:m], prep.Y_train, F[m:], prep.Y_test, cfg.ridge_grid)
        t0 = _add(timings, "probe", t0)
        out = _level_record(s, path.err, path.index, d0=d0, beta=cfg.beta, d_use=d_use,
                            residual=residual, cos=_cosines(mu[:, :d0], prep.Y_pre))
        out["kernel_deviation"] = kernel_deviation(K) if cfg.association else float("nan")
        out["lipschitz"] = (lipschitz_estimate(K, prep.X_pre, n_sub=cfg.lipschitz_n,
                                               seed=cfg.seed)
                            if cfg.association else float("nan"))
        _add(timings, "metrics", t0)
        per_level.append(out)
    return _finish(_stack(per_level), prep, cfg, grid, idx, 0)
