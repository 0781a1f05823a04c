r"""Ridge probes on the top-d singular functions for every d at once (Sec. 5.3).

The probe on dimension ``d`` is ridge regression of the targets on
:math:`[1,\mu_1,\dots,\mu_d]` at the downstream points, with an unpenalised bias:
:math:`\min_{b,w}\|Y-b-F_dw\|^2+\alpha\|w\|^2` (scikit-learn's ``Ridge(fit_intercept=True)``).
The penalty is :math:`\alpha=\lambda m` (``m`` downstream points; the features have unit
:math:`L^2(P_{\mathcal X})` norm, so :math:`\lambda` is a per-sample penalty) with :math:`\lambda`
from ``ridge_grid`` (assumed: :math:`10^{-5},\dots,10`). The penalty is chosen per ``d`` by exact
leave-one-out cross-validation on the downstream part, averaged over the target columns (the
rule of scikit-learn's ``RidgeCV``; assumed -- the paper says only "grid search"), and the error
is the test MSE averaged over test points and target columns.

**Prefix computation.** With ``A = F^T F + diag(0, alpha, ..., alpha)`` for the full
``F = [1, mu_1..mu_D]`` and its Cholesky factor ``A = L L^T``, the leading ``(d+1) x (d+1)``
block of ``L`` is the factor of the ``d``-dimensional problem. When the Lemma 3 extension
makes columns nearly collinear (small ``s_i``) and the Cholesky factorisation of ``A`` fails,
``L = R^T`` is taken instead from a QR factorisation of ``F`` stacked on the penalty rows
``sqrt(alpha) I'``, which never forms the normal equations. So with ``z = L^{-1} F^T Y`` and
``G = F L^{-T}`` (both computed once), the fitted values of every ``d`` are prefix sums,
:math:`\hat Y_d=\sum_{j\le d}G_{:,j}z_j^\top`, the hat-matrix diagonals are
:math:`h_d=\sum_{j\le d}G_{:,j}^2` (giving the leave-one-out residuals
:math:`(Y-\hat Y_d)/(1-h_d)`), and the test predictions are the same prefix sums with
``F_test L^{-T}``. One factorisation per penalty serves all ``D + 1`` dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from contexture.base.checks import check_float, check_matrix

__all__ = ["RIDGE_GRID", "RidgePath", "check_ridge_grid", "ridge_path", "ridge_path_reference"]

RIDGE_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""Per-sample ridge penalties lambda (alpha = lambda * m); assumed (the paper gives none)."""


@dataclass(frozen=True, eq=False)
class RidgePath:
    """Probe errors for ``d = 0..D`` (``d = 0``: the bias alone).

    ``err`` (test MSE) and ``loo`` (leave-one-out MSE on the downstream part) at the selected
    penalty ``index`` (into the ridge grid), each of length ``D + 1``; ``err_all`` and
    ``loo_all`` hold every penalty (``len(grid) x (D + 1)``). The error curve err_d of Sec. 5.3
    (Figs 3, 6); chapters: the real-data chapters.
    """

    err: np.ndarray
    loo: np.ndarray
    index: np.ndarray
    err_all: np.ndarray
    loo_all: np.ndarray


def check_ridge_grid(ridge_grid: Any) -> np.ndarray:
    """The ridge grid as a float array of positive, finite, distinct values, else raise.

    The probe's penalty grid (Sec. 5.3, assumed values); chapters: the real-data chapters.
    """
    g = np.atleast_1d(np.asarray(ridge_grid, dtype=np.float64))
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"ridge_grid must be a non-empty sequence of positive numbers, got "
                         f"{ridge_grid!r}")
    for i, v in enumerate(g):
        check_float(f"ridge_grid[{i}]", float(v), lo=0.0, lo_open=True)
    if np.unique(g).size != g.size:
        raise ValueError(f"ridge_grid must not repeat a value, got {tuple(g)}")
    return g


def _check(F_train: Any, Y_train: Any, F_test: Any, Y_test: Any):
    F, Ft = (np.asarray(v, dtype=np.float64) for v in (F_train, F_test))
    for name, v in (("F_train", F), ("F_test", Ft)):
        if v.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array, got shape {v.shape}")
        if v.shape[1]:  # zero columns is allowed: the bias-only probe
            check_matrix(name, v, ndim=2)
    Y = np.asarray(Y_train, dtype=np.float64)
    Yt = np.asarray(Y_test, dtype=np.float64)
    Y = check_matrix("Y_train", Y[:, None] if Y.ndim == 1 else Y, ndim=2)
    Yt = check_matrix("Y_test", Yt[:, None] if Yt.ndim == 1 else Yt, ndim=2)
    if Ft.shape[1] != F.shape[1]:
        raise ValueError(f"F_test must have {F.shape[1]} columns like F_train, got {Ft.shape}")
    if Y.shape[0] != F.shape[0] or Yt.shape[0] != Ft.shape[0] or Yt.shape[1] != Y.shape[1]:
        raise ValueError(f"targets must have one row per feature row and the same columns: "
                         f"F_train {F.shape}, Y_train {Y.shape}, F_test {Ft.shape}, "
                         f"Y_test {Yt.shape}")
    if F.shape[0] < 3:
        raise ValueError(f"the probe needs at least 3 downstream points, got {F.shape[0]}")
    return F, Y, Ft, Yt


def _select(err_all: np.ndarray, loo_all: np.ndarray) -> RidgePath:
    index = np.argmin(loo_all, axis=0)  # first penalty on ties, like RidgeCV
    cols = np.arange(loo_all.shape[1])
    return RidgePath(err=err_all[index, cols], loo=loo_all[index, cols],
                     index=index.astype(np.int64), err_all=err_all, loo_all=loo_all)


def _qr_factors(Fa: np.ndarray, Y: np.ndarray, both: np.ndarray, alpha: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """``z = L^{-1} Fa^T Y`` and ``G = both L^{-T}`` with ``L = R^T`` from a QR factorisation of
    ``Fa`` stacked on ``sqrt(alpha) I'`` (the bias row left out): the same factor as the
    Cholesky one up to column signs, computed without forming the normal equations."""
    m, p = Fa.shape
    Q, R = np.linalg.qr(np.vstack([Fa, np.sqrt(alpha) * np.eye(p)[1:]]))
    G = sla.solve_triangular(R, both.T, trans="T", lower=False, check_finite=False).T
    return Q[:m].T @ Y, G


def ridge_path(
    F_train: Any, Y_train: Any, F_test: Any, Y_test: Any, ridge_grid: Any = RIDGE_GRID
) -> RidgePath:
    r"""Ridge probes on the leading ``d`` columns of ``F`` for every ``d = 0..D`` (prefix sums).

    ``F_train`` (``m x D``) and ``F_test`` (``t x D``) hold :math:`\mu_1..\mu_D` (no bias
    column: the bias is added and left unpenalised); ``Y_train`` / ``Y_test`` the targets
    (``m`` or ``m x T``). Module docstring for the penalty, its selection and the algorithm:
    ``len(ridge_grid)`` Cholesky factorisations of a ``(D+1) x (D+1)`` matrix (a QR
    factorisation where one fails) and triangular solves with ``m + t`` right-hand sides in
    all, instead of one fit per ``(d, penalty)``.
    Agrees with :func:`ridge_path_reference` (one ``RidgeCV`` per ``d``) to rounding. Sec. 5.3
    (the probe of Table 1 and Figs 2-3, 6); used by :func:`evaluate_contexts` (the real-data
    chapters).
    """
    F, Y, Ft, Yt = _check(F_train, Y_train, F_test, Y_test)
    grid = check_ridge_grid(ridge_grid)
    m, D = F.shape
    Fa = np.hstack([np.ones((m, 1)), F])
    both = np.vstack([Fa, np.hstack([np.ones((Ft.shape[0], 1)), Ft])])
    err_all = np.empty((grid.size, D + 1))
    loo_all = np.empty((grid.size, D + 1))
    A0 = Fa.T @ Fa
    B = Fa.T @ Y
    diag = np.arange(1, D + 1)
    for a, lam in enumerate(grid):
        A = A0.copy()
        A[diag, diag] += lam * m
        try:
            L = sla.cholesky(A, lower=True, check_finite=False)
            z = sla.solve_triangular(L, B, lower=True, check_finite=False)
            G = sla.solve_triangular(L, both.T, lower=True, check_finite=False).T
        except np.linalg.LinAlgError:
            z, G = _qr_factors(Fa, Y, both, lam * m)
        Gtr, Gte = G[:m], G[m:]
        one_minus_h = 1.0 - np.cumsum(Gtr * Gtr, axis=1)
        loo = np.zeros(D + 1)
        err = np.zeros(D + 1)
        for c in range(Y.shape[1]):
            r = Y[:, c:c + 1] - np.cumsum(Gtr * z[:, c], axis=1)
            r /= one_minus_h
            loo += np.einsum("ij,ij->j", r, r)
            e = Yt[:, c:c + 1] - np.cumsum(Gte * z[:, c], axis=1)
            err += np.einsum("ij,ij->j", e, e)
        loo_all[a] = loo / (m * Y.shape[1])
        err_all[a] = err / (Ft.shape[0] * Y.shape[1])
    return _select(err_all, loo_all)


def ridge_path_reference(
    F_train: Any, Y_train: Any, F_test: Any, Y_test: Any, ridge_grid: Any = RIDGE_GRID
) -> RidgePath:
    """The natural implementation of :func:`ridge_path`: one scikit-learn fit per ``d``.

    ``RidgeCV(alphas=lambda * m, fit_intercept=True)`` (efficient exact leave-one-out, one
    penalty for all targets) on the leading ``d`` columns for ``d = 1..D``; ``d = 0`` is the
    mean of the downstream targets (its leave-one-out residual is ``m / (m - 1)`` times the
    plain one). ``err_all`` is filled with the selected penalty's errors only (RidgeCV refits
    one penalty); use it as the reference in tests and in the benchmark. Sec. 5.3 (the probe).
    """
    from sklearn.linear_model import RidgeCV

    F, Y, Ft, Yt = _check(F_train, Y_train, F_test, Y_test)
    grid = check_ridge_grid(ridge_grid)
    m, D = F.shape
    err = np.empty(D + 1)
    loo = np.empty(D + 1)
    index = np.zeros(D + 1, dtype=np.int64)
    mean = Y.mean(axis=0)
    err[0] = float(((Yt - mean) ** 2).mean())
    loo[0] = float((((Y - mean) * (m / (m - 1.0))) ** 2).mean())
    alphas = grid * m
    for d in range(1, D + 1):
        model = RidgeCV(alphas=alphas, fit_intercept=True).fit(F[:, :d], Y)
        pred = np.asarray(model.predict(Ft[:, :d])).reshape(Yt.shape)  # (t,) for one target
        err[d] = float(((pred - Yt) ** 2).mean())
        index[d] = int(np.flatnonzero(alphas == model.alpha_)[0])
        loo[d] = -float(model.best_score_)
    return RidgePath(err=err, loo=loo, index=index, err_all=err[None, :].copy(),
                     loo_all=loo[None, :].copy())
