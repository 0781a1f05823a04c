"""Closed-form optima of the supervised risks of Sec. 3.1 (Eq. (1), Theorems 6-8), the corrected
reading of Theorem 7, and the finite contexts used to test them (arXiv v2 numbering).

All functions work on a finite context given by its joint matrix ``J`` (``N x M``, nonnegative,
sum 1, positive marginals ``px = J.sum(1)``, ``pa = J.sum(0)``); functions on ``X`` are ``N``-row
tables, inner products are those of ``L^2(P_X)``. The risks themselves are
:func:`contexture.learning.objectives.supervised_risk` and
:func:`contexture.learning.objectives.balanced_risk`;
this module provides what they are compared with:

* :func:`supervised_optimum` -- Theorems 6 and 8: the minimiser of Eq. (1) spans the top-``d``
  eigenspace of the Lemma-18 operator ``T Lambda T*`` and the minimum is
  ``E||A||^2 - sum_{j<=d} lambda_j`` (from the proofs);
* :func:`balance_factor`, :func:`balanced_optimum` -- Theorem 7 as it actually holds: the
  minimiser of the class-balanced risk is a generalised eigenproblem weighted by
  ``c(x) = E[P_A(A)^{-1/2} | x]``, which is the contexture when ``c`` is constant;
* :func:`random_label_context`, :func:`constant_factor_context`, :func:`class_indicators` --
  the label contexts of the checks (randomised imbalanced labels, an imbalanced context with
  constant ``c``, neural-collapse / SELI class indicators);
* :func:`fit_lookup` -- gradient descent on a risk with a lookup-table encoder, tracking the
  principal angles to a predicted span;
* :func:`span_angles` -- principal angles between spans, optionally modulo constants.

Chapter ``ch02_supervised``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from contexture.base.checks import (
    as_rng,
    check_float,
    check_int,
    check_matrix,
    check_probability_vector,
    check_table,
)
from contexture.base.linalg import dense, weighted_eigh
from contexture.contexts import FiniteContext
from contexture.learning.encoders import LookupEncoder
from contexture.learning.objectives import supervised_kernel
from contexture.learning.training import TrainHistory, train
from contexture.metrics import principal_angles

__all__ = [
    "LookupFit",
    "SupervisedOptimum",
    "balance_factor",
    "balanced_optimum",
    "centre",
    "class_indicators",
    "constant_factor_context",
    "fit_lookup",
    "random_label_context",
    "span_angles",
    "supervised_optimum",
]


# --------------------------------------------------------------------------------- helpers

def _joint(J: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a joint matrix; return ``(J, px, pa)``."""
    arr = check_matrix("J", dense(J), nonnegative=True)
    total = float(arr.sum())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"J must sum to 1 (tolerance 1e-09), got sum {total!r}")
    px, pa = arr.sum(1), arr.sum(0)
    for marg, label in ((px, "px = J.sum(1)"), (pa, "pa = J.sum(0)")):
        if np.any(marg <= 0):
            i = int(np.argmin(marg))
            raise ValueError(f"J must have positive marginals, but {label} is {marg[i]!r} at "
                             f"index {i}")
    return arr, px, pa


def _weights(name: str, p: Any, n: int) -> np.ndarray:
    arr = check_probability_vector(name, p)
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {arr.shape[0]}")
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be strictly positive, got {arr.min()!r}")
    return arr


def centre(F: Any, px: Any) -> np.ndarray:
    """``F - E_{P_X} F`` column by column (the tilde of Sec. 3): removes the constant part.

    ``F`` is ``N x d`` (1-D is one column) and ``px`` the weights of ``L^2(P_X)``. Chapter
    ``ch02_supervised`` (biased heads compare spans modulo constants).
    """
    arr = check_table("F", F)
    p = _weights("px", px, arr.shape[0])
    return arr - p @ arr


def span_angles(F: Any, G: Any, px: Any, *, modulo_constants: bool = False) -> np.ndarray:
    """Principal angles (radians, increasing) between ``span F`` and ``span G`` in ``L^2(P_X)``.

    With ``modulo_constants=True`` both tables are centred first, so that ``span{1, F}`` is
    compared with ``span{1, G}``: the notion of "learning the contexture" (Definition 5) for a
    biased head, whose bias absorbs ``mu_0``. Wraps :func:`contexture.metrics.principal_angles`.
    Chapter ``ch02_supervised``.
    """
    f, g = check_table("F", F), check_table("G", G)
    if f.shape[0] != g.shape[0]:
        raise ValueError(f"F and G must have the same number of rows, got {f.shape[0]} and "
                         f"{g.shape[0]}")
    p = _weights("px", px, f.shape[0])
    if modulo_constants:
        f, g = f - p @ f, g - p @ g
    return principal_angles(f, g, weights=p)


# ------------------------------------------------------------------- Theorems 6 and 8

@dataclass(frozen=True)
class SupervisedOptimum:
    """Closed-form minimiser of a supervised risk over ``d``-dimensional encoders.

    ``value``: the minimum; ``phi``: an optimal encoder (``N x d``), orthonormal in the metric of
    the problem; ``eigenvalues``: all eigenvalues of the problem (descending); ``gap``:
    ``eigenvalues[d-1] - eigenvalues[d]`` (the minimiser's span is unique iff ``gap > 0``);
    ``second_moment``: the target term the eigenvalues are subtracted from.
    """

    value: float
    phi: np.ndarray
    eigenvalues: np.ndarray
    gap: float
    second_moment: float


def supervised_optimum(J: Any, d: int, targets: Any | None = None, *,
                       bias: bool = False) -> SupervisedOptimum:
    """Minimum and minimiser of Eq. (1) over ``d``-dimensional encoders (Theorems 6 and 8).

    With ``m(x) = E[A | x]`` (one-hot labels when ``targets`` is None, Theorem 6; real targets
    ``M x d_A``, Theorem 8) the Lemma-18 operator is ``T Lambda T* f = k diag(px) f`` with
    ``k(x, x') = <m(x), m(x')>``, centred under ``P_A`` when ``bias`` (Theorem 8's centred
    linear kernel). The minimiser spans its top-``d`` eigenspace and the minimum is
    ``E||A||^2 - sum_{j<=d} lambda_j`` (``E||A - E A||^2`` with a bias; from the proofs). ``phi``
    are the top-``d`` eigenfunctions, orthonormal in ``L^2(P_X)``. Chapter ``ch02_supervised``.
    """
    arr, px, pa = _joint(J)
    N, M = arr.shape
    d = check_int("d", d, lo=1, hi=N)
    Y = np.eye(M) if targets is None else check_matrix(
        "targets", np.asarray(targets, dtype=np.float64).reshape(M, -1))
    if bias:
        Y = Y - pa @ Y
    second = float(pa @ (Y * Y).sum(1))
    lam, V = weighted_eigh(supervised_kernel(arr, Y, bias=False), px)
    gap = float(lam[d - 1] - lam[d]) if d < N else float(lam[d - 1])
    return SupervisedOptimum(value=second - float(lam[:d].sum()), phi=V[:, :d].copy(),
                             eigenvalues=lam, gap=gap, second_moment=second)


# ------------------------------------------------------------------------- Theorem 7

def balance_factor(J: Any) -> np.ndarray:
    """``c(x) = E[P_A(A)^{-1/2} | x]``, the factor that makes Theorem 7 a weighted problem.

    In the class-balanced risk ``R_bal`` the importance weight ``P_A(A)^{-1/2}`` multiplies the
    quadratic term ``||W Phi(X) + b||^2`` as ``c(X)`` after averaging over ``A | X``; the proof of
    Theorem 7 implicitly takes ``c`` constant, which fails for randomised imbalanced labels.
    ``c`` is constant e.g. for balanced classes. Chapter ``ch02_supervised``.
    """
    arr, px, pa = _joint(J)
    return (arr / px[:, None]) @ pa ** -0.5


def balanced_optimum(J: Any, d: int) -> SupervisedOptimum:
    """Exact minimum and minimiser of the class-balanced risk (Theorem 7, corrected reading).

    ``R_bal(Phi) = min_{W,b} E[P_A(A)^{-1/2} ||W Phi(X) + b - A||^2]`` with one-hot ``A``.
    Writing ``w(a) = P_A(a)^{-1/2}``, ``r(x) = px(x) c(x)`` (:func:`balance_factor`),
    ``Z = sum_a sqrt(P_A(a))`` and ``B = J diag(w) (I - 1 ybar^T)`` with
    ``ybar = sqrt(pa) / Z``, the risk is ``Z - 1/Z - tr[(Phi~^T D_r Phi~)^{-1} Phi~^T B B^T Phi~]``
    (``Phi~`` centred under ``r``), so the minimiser spans the top-``d`` eigenspace of the
    **generalised** eigenproblem ``B B^T v = gamma diag(r) v`` and the minimum is
    ``Z - 1/Z - sum_{j<=d} gamma_j``. The constant has ``gamma = 0`` and every eigenvector with
    ``gamma > 0`` is ``r``-centred. When ``c`` is constant this is ``T_{k_X^+} v = c gamma v``,
    i.e. the contexture, as Theorem 7 states; otherwise it is not.
    ``phi`` is normalised to ``phi^T diag(r) phi = I``. Chapter ``ch02_supervised``.
    """
    arr, px, pa = _joint(J)
    N, M = arr.shape
    d = check_int("d", d, lo=1, hi=N - 1)
    w = pa ** -0.5
    Jw = arr * w[None, :]
    r = Jw.sum(1)
    Z = float(np.sqrt(pa).sum())
    ybar = np.sqrt(pa) / Z
    B = Jw - r[:, None] * ybar[None, :]
    # B B^T v = gamma diag(r) v  <=>  (diag(r)^{-1} B B^T diag(r)^{-1}) diag(r) v = gamma v
    gamma, V = weighted_eigh((B @ B.T) / np.outer(r, r), r)
    gap = float(gamma[d - 1] - gamma[d])
    return SupervisedOptimum(value=Z - 1.0 / Z - float(gamma[:d].sum()), phi=V[:, :d].copy(),
                             eigenvalues=gamma, gap=gap, second_moment=Z - 1.0 / Z)


# ---------------------------------------------------------------------------- contexts

def random_label_context(n_points: int, class_weights: Any, *, concentration: float = 1.0,
                         seed: int | np.random.Generator = 0, px: Any | None = None,
                         balanced: bool = False) -> FiniteContext:
    """Randomised labels: ``P+(. | x_i) ~ Dirichlet(concentration * C * class_weights)``.

    ``class_weights`` (length ``C >= 2``, positive) sets the expected class proportions, so
    unequal weights give imbalanced classes ``P_A``; small ``concentration`` makes labels nearly
    deterministic. ``px`` defaults to uniform. With ``balanced=True`` the drawn conditional is
    rescaled (Sinkhorn iterations, rows kept stochastic) until ``P_A`` is uniform to ``1e-14``:
    exactly balanced classes. The setting of Theorems 6-7 with "labels may be randomised"; used
    for the Theorem-7 counterexample. Chapter ``ch02_supervised``.
    """
    n = check_int("n_points", n_points, lo=2)
    cw = check_matrix("class_weights", class_weights, ndim=1, nonnegative=True)
    if cw.size < 2 or np.any(cw <= 0):
        raise ValueError(f"class_weights must hold at least 2 positive entries, got {cw!r}")
    conc = check_float("concentration", concentration, lo=0.0, lo_open=True)
    rng = as_rng(seed)
    alpha = conc * cw.size * cw / cw.sum()
    cond = rng.dirichlet(alpha, size=n)
    cond = np.maximum(cond, 1e-12)
    cond /= cond.sum(1, keepdims=True)
    p = np.full(n, 1.0 / n) if px is None else _weights("px", px, n)
    if balanced:
        target = 1.0 / cw.size
        for _ in range(100_000):
            pa = p @ cond
            if np.abs(pa - target).max() <= 1e-14:
                break
            cond = cond * (target / pa)[None, :]
            cond /= cond.sum(1, keepdims=True)
        else:  # pragma: no cover - Sinkhorn converges for strictly positive matrices
            raise RuntimeError("could not balance the classes (Sinkhorn did not converge)")
    return FiniteContext.from_conditional(cond, p)


def constant_factor_context(pa: Any, n_points: int, *, spread: float = 0.9,
                            seed: int | np.random.Generator = 0) -> FiniteContext:
    """An imbalanced randomised-label context whose balance factor ``c(x)`` is constant.

    Rows are ``P+(. | x_i) = pa + sum_k t_ik v_k`` with ``v_k`` an orthonormal basis of the
    vectors orthogonal to both ``1`` and ``pa^{-1/2}`` and ``t`` centred over the (uniformly
    weighted) points, so that ``P_A = pa`` and ``c(x) = sum_a P(a|x) pa(a)^{-1/2}`` equals
    ``sum_a sqrt(pa(a))`` for every ``x``. ``spread`` in ``(0, 1)`` scales the rows towards the
    boundary of the simplex (the largest step keeping every entry at least ``(1-spread)`` times
    its ``pa`` value). Needs ``C >= 3`` classes. Shows that Theorem 7 holds for imbalanced
    classes once ``c`` is constant. Chapter ``ch02_supervised``.
    """
    p = check_probability_vector("pa", pa)
    C = p.size
    if C < 3 or np.any(p <= 0):
        raise ValueError(f"pa must have at least 3 strictly positive entries, got {p!r}")
    n = check_int("n_points", n_points, lo=2)
    spread = check_float("spread", spread, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    rng = as_rng(seed)
    basis = np.linalg.qr(np.column_stack([np.ones(C), p ** -0.5]))[0]
    full = np.linalg.qr(np.column_stack([basis, rng.normal(size=(C, C - 2))]))[0]
    V = full[:, 2:]
    t = rng.normal(size=(n, C - 2))
    t -= t.mean(0)
    step = t @ V.T
    scale = spread * np.min(p[None, :] / np.maximum(-step, 1e-300))
    cond = p[None, :] + scale * step
    cond /= cond.sum(1, keepdims=True)
    return FiniteContext.from_conditional(cond, np.full(n, 1.0 / n))


def class_indicators(y: Any, n_classes: int | None = None, *,
                     centred: bool = False) -> np.ndarray:
    """``N x C`` table of ``I[y_i = c]``; ``centred`` subtracts ``1/C`` (the ETF of Sec. 3.1).

    The neural-collapse remark after Theorem 7: with ``C`` balanced deterministic classes the
    equiangular tight frame ``phi_c(x) = I[x in class c] - 1/C`` spans the top eigenspace of the
    centred problem (biased head, ``d = C - 1``), the raw indicators that of Theorem 6
    (unbiased head, ``d = C``). Chapter ``ch02_supervised``.
    """
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"y must be a non-empty 1-D integer array, got {labels!r}")
    C = int(labels.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, lo=1)
    if labels.min() < 0 or labels.max() >= C:
        raise ValueError(f"y must hold labels in [0, {C - 1}], got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    ind = (labels[:, None] == np.arange(C)[None, :]).astype(np.float64)
    return ind - 1.0 / C if centred else ind


# ------------------------------------------------------------------ gradient descent

@dataclass
class LookupFit:
    """Result of :func:`fit_lookup`: the learned ``table`` (``N x d``), its final ``risk``, the
    final principal ``angles`` to the reference span, and the training ``history`` (whose
    ``records`` hold ``risk`` and ``max_angle`` every ``callback_every`` steps)."""

    table: np.ndarray
    risk: float
    angles: np.ndarray
    history: TrainHistory


def fit_lookup(risk: Callable[[torch.Tensor], torch.Tensor], n_points: int, d: int,
               reference: Any, px: Any, *, modulo_constants: bool, steps: int = 2000,
               lr: float = 0.05, seed: int = 0, init_scale: float = 1.0,
               callback_every: int = 0) -> LookupFit:
    """Minimise ``risk(table)`` over a free ``n_points x d`` table by full-batch AdamW.

    The lookup encoder (:class:`contexture.learning.encoders.LookupEncoder`) can represent every
    function
    on the finite ``X``, so gradient descent on the population risk (closed-form head inside
    ``risk``) should reach the span predicted by Theorems 6-8. Uses
    :func:`contexture.learning.training.train` with a cosine learning-rate schedule and records the
    risk
    and the largest principal angle to ``reference`` (in ``L^2(P_X)``, modulo constants if
    asked) every ``callback_every`` steps. Chapter ``ch02_supervised``.
    """
    n = check_int("n_points", n_points, lo=2)
    d = check_int("d", d, lo=1, hi=n)
    ref = check_matrix("reference", np.asarray(reference, dtype=np.float64).reshape(n, -1))
    p = _weights("px", px, n)
    if not callable(risk):
        raise TypeError(f"risk must be callable as risk(table) -> scalar tensor, got {risk!r}")

    def angle_of(table: np.ndarray) -> np.ndarray:
        return span_angles(table, ref, p, modulo_constants=modulo_constants)

    def callback(enc: torch.nn.Module, step: int) -> dict[str, float]:
        table = enc().detach()
        return {"risk": float(risk(table)), "max_angle": float(angle_of(table.numpy()).max())}

    hist = train(lambda: LookupEncoder(n, d, init_scale=init_scale, seed=seed),
                 lambda enc, _: risk(enc()), None, steps, lr=lr, seed=seed, progress=False,
                 schedule="cosine", callback=callback, callback_every=callback_every)
    table = hist.encoder().detach().numpy().copy()
    return LookupFit(table=table, risk=float(hist.final_loss), angles=angle_of(table),
                     history=hist)
