"""Label and graph contexts (Sec. 2.1, kinds 1 and 3; Sec. 3.3)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from contexture.base.checks import check_choice, check_float, check_int, check_matrix
from contexture.base.linalg import as_matrix
from contexture.contexts.finite import Context, FiniteContext

__all__ = ["LabelContext", "graph_context", "label_context", "label_noise_channel"]


def label_noise_channel(
    n_classes: int, noise: float, *, flip_to: Literal["other", "any"] = "other"
) -> np.ndarray:
    """Row-stochastic C x C channel ``M[y, c] = P(observed label c | true label y)``.

    Symmetric label noise: keep the label with probability 1 - noise, otherwise draw it
    uniformly from the *other* C - 1 classes (``flip_to="other"``) or from all C classes
    (``flip_to="any"``). ``M = alpha I + beta 1 1^T`` with ``alpha = 1 - noise C/(C-1)``
    ("other") or ``1 - noise`` ("any"); see
    :func:`contexture.contexts.analytic.label_noise_spectrum`.
    """
    c = check_int("n_classes", n_classes, lo=2)
    eta = check_float("noise", noise, lo=0.0, hi=1.0)
    flip_to = check_choice("flip_to", flip_to, ["other", "any"])
    if flip_to == "other":
        m = np.full((c, c), eta / (c - 1))
        np.fill_diagonal(m, 1.0 - eta)
    else:
        m = np.full((c, c), eta / c)
        np.fill_diagonal(m, 1.0 - eta + eta / c)
    return m


class LabelContext(Context):
    """Label context: X = the n labelled points (P_X = 1/n), A = the C classes (Sec. 2.1)."""

    def __init__(self, y: np.ndarray, channel: np.ndarray) -> None:
        super().__init__(np.ascontiguousarray(channel[y]), np.full(y.shape[0], 1.0 / y.shape[0]))
        self.y = y
        self.y.setflags(write=False)
        self.channel = channel
        self.channel.setflags(write=False)

    def conditional_at(self, y_new: Any) -> np.ndarray:
        """``P+(c | x)`` for new points given their true labels (rows of the channel)."""
        return self.channel[_check_labels("y_new", y_new, self.channel.shape[0])].copy()


def _check_labels(name: str, y: Any, n_classes: int | None) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of integer labels, "
                         f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    hi = (int(arr.max()) if n_classes is None else n_classes - 1)
    if arr.min() < 0 or arr.max() > hi:
        raise ValueError(f"{name} must hold labels in [0, {hi}], got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return arr


def label_context(
    y: Any,
    *,
    noise: float = 0.0,
    n_classes: int | None = None,
    flip_to: Literal["other", "any"] = "other",
) -> LabelContext:
    """Label context of a labelled sample: ``P+(c | x_i) = M[y_i, c]``, one-hot when noise = 0.

    Sec. 2.1 kind 1 ("labels ... may be randomised"); the one-hot setting of Theorems 6-7. X is
    the sample (P_X = 1/n), A the C classes; ``M`` is :func:`label_noise_channel`. Every class
    must receive positive mass (with noise = 0 every class must occur in y).
    Chapter ``ch02_supervised`` (Theorems 6-8).
    """
    if n_classes is not None:
        n_classes = check_int("n_classes", n_classes, lo=2)
    labels = _check_labels("y", y, n_classes)
    c = n_classes if n_classes is not None else max(int(labels.max()) + 1, 2)
    channel = label_noise_channel(c, noise, flip_to=flip_to)
    mass = np.bincount(labels, minlength=c) @ channel
    empty = np.flatnonzero(mass <= 0)
    if empty.size:
        raise ValueError(f"class {int(empty[0])} receives no probability (it does not occur in y "
                         f"and noise = 0); every class must have P_A > 0")
    return LabelContext(labels, channel)


def graph_context(W: Any, *, atol: float = 1e-12) -> FiniteContext:
    """Graph context (Sec. 3.3): ``P_X(u) = d(u)/d_sum``, ``P+(v | u) = w(u, v)/d(u)``, A = X.

    ``W`` (N x N, dense or scipy sparse) must be symmetric (within ``atol`` times its largest
    entry), nonnegative, and have no isolated vertex (zero degree). The joint is the edge law
    ``P_w(u, v) = w(u, v)/d_sum``, so ``pa == px``. Chapter ``ch04_manifold`` (Theorem 12).
    """
    w = as_matrix("W", W)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"W must be square, got shape {w.shape}")
    atol = check_float("atol", atol, lo=0.0)
    scale = float(abs(w).max())
    asym = abs(w - w.T)
    asym_max = float(asym.max()) if not sp.issparse(asym) or asym.nnz else 0.0
    if asym_max > atol * max(scale, 1e-300):
        raise ValueError(f"W must be symmetric (tolerance {atol} x max|W|), got "
                         f"max|W - W^T| = {asym_max!r}")
    deg = np.asarray(w.sum(axis=1)).ravel()
    iso = np.flatnonzero(deg <= 0)
    if iso.size:
        raise ValueError(f"W has {iso.size} isolated vertex(es) (zero degree), first at index "
                         f"{int(iso[0])}; every vertex needs an edge")
    w = (w + w.T) * 0.5
    total = float(w.sum())
    joint = w / total
    if not sp.issparse(joint):
        joint = check_matrix("W", joint, ndim=2, nonnegative=True)
    return FiniteContext(joint)
