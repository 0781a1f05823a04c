"""The data side of the real-data protocol of Sec. 5.3: splits, caps, targets, feature groups.

The paper splits each dataset at random into pretrain / downstream-labelled / test parts without
stating the proportions; the library's seeded 70/15/15 split (App. E) is used (assumed). The
contexts and their singular functions live on the pretrain part (``A = X``, the sample itself);
the ridge probe is fitted on the downstream-labelled part and scored on the test part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from contexture.base.checks import check_choice, check_int, check_matrix
from contexture.data import load
from contexture.data.preprocess import output_width

__all__ = [
    "DEFAULT_EVAL_CAP",
    "DEFAULT_PRETRAIN_CAP",
    "PreparedData",
    "encode_targets",
    "feature_groups",
    "prepare_arrays",
    "prepare_dataset",
    "subseed",
]

DEFAULT_PRETRAIN_CAP = 3000
"""Default cap on the pretrain points (assumed; the paper used whole pretrain splits)."""

DEFAULT_EVAL_CAP = 3000
"""Default cap on the downstream-labelled and on the test points, each (assumed)."""

# Stream tags for derived seeds (one independent stream per use of randomness).
_TAG_PRETRAIN, _TAG_EVAL, _TAG_MASKS, _TAG_GRID = 1, 2, 3, 4


def subseed(seed: int, tag: int) -> np.random.Generator:
    """An independent generator for one use of randomness in the protocol.

    ``np.random.default_rng([seed, tag])``: the caps, the masks and the grid rows each draw from
    their own stream, so that changing one (e.g. the number of masks) leaves the others alone.
    Sec. 5.3 protocol; chapters: the real-data chapters.
    """
    return np.random.default_rng([check_int("seed", seed, lo=0), tag])


@dataclass(frozen=True, eq=False)
class PreparedData:
    """Features and encoded targets of the three parts of one dataset (Sec. 5.3).

    Attributes
    ----------
    name : dataset name (or a label for synthetic arrays).
    X_pre : (n, p) pretrain features; the contexts and their singular functions live here.
    X_train, Y_train : (m, p) features and (m, T) standardised targets of the downstream part.
    X_test, Y_test : (t, p) features and (t, T) targets of the test part (standardised with the
        downstream statistics).
    groups : (p,) original feature of each column (one-hot columns of a categorical feature
        share a group); masks hide whole groups.
    task : ``"classification"`` or ``"regression"``.
    Y_pre : (n, T) targets of the pretrain points, encoded like ``Y_train``; used only to
        describe the task (cosines with the singular functions, Fig. 5), never by the probe.

    Used for the real-data experiments.
    """

    name: str
    X_pre: np.ndarray
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    groups: np.ndarray
    task: str
    Y_pre: np.ndarray

    @property
    def n(self) -> int:
        """Number of pretrain points."""
        return int(self.X_pre.shape[0])

    @property
    def n_groups(self) -> int:
        """Number of original features (mask units)."""
        return int(np.unique(self.groups).size)

    def rows(self) -> np.ndarray:
        """All points stacked: pretrain, then downstream, then test (``n + m + t`` rows)."""
        return np.vstack([self.X_pre, self.X_train, self.X_test])


def feature_groups(preprocessor: Any) -> np.ndarray:
    """Original feature index of every preprocessed column (one-hot blocks share an index).

    Follows the column layout of :class:`contexture.data.Preprocessor` (input order; a
    categorical feature with ``L`` levels gives ``output_width(L)`` columns). Used to mask whole
    features in the masked contexts of Sec. 5.3. Used for the real-data experiments.
    """
    if preprocessor.kind == "image":
        return np.arange(len(preprocessor.feature_names_in))
    width = np.ones(len(preprocessor.feature_names_in), dtype=np.int64)
    for k, j in enumerate(preprocessor.categorical_index):
        width[int(j)] = output_width(len(preprocessor.levels[k]))
    groups = np.repeat(np.arange(width.size), width)
    if groups.size != len(preprocessor.feature_names_out):
        raise ValueError(f"preprocessor layout mismatch: {groups.size} grouped columns vs "
                         f"{len(preprocessor.feature_names_out)} output columns")
    return groups


def encode_targets(
    y_train: Any, y_test: Any, task: str, *, n_classes: int | None = None,
    y_pre: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Probe targets of Sec. 5.3 (the encoding is assumed; the paper does not state it).

    Classification labels ``0..C-1`` become one-hot columns (for ``C = 2`` only the indicator of
    class 1: the other column is its negative after standardisation and has the same MSE);
    regression targets are one column. Every column is then z-scored with the mean and standard
    deviation of the downstream part (a constant column is only centred), so that the constant
    predictor scores an MSE of about 1 on each column. Returns ``(Y_train, Y_test, Y_pre)``,
    each with one row per label; ``Y_pre`` is None when ``y_pre`` is None. Used for
    the real-data experiments.
    """
    task = check_choice("task", task, ["classification", "regression"])
    parts = [np.asarray(y_train), np.asarray(y_test)]
    if y_pre is not None:
        parts.append(np.asarray(y_pre))
    for name, y in zip(("y_train", "y_test", "y_pre"), parts, strict=False):
        if y.ndim != 1 or y.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {y.shape}")
    if task == "classification":
        for name, y in zip(("y_train", "y_test", "y_pre"), parts, strict=False):
            if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
                raise ValueError(f"{name} must hold integer class labels 0..C-1 for "
                                 f"classification, got dtype {y.dtype} and minimum {y.min()!r}")
        top = max(int(y.max()) for y in parts) + 1
        c = top if n_classes is None else check_int("n_classes", n_classes, lo=max(top, 2))
        c = max(c, 2)
        cols = [1] if c == 2 else list(range(c))
        enc = [(y[:, None] == np.asarray(cols)[None, :]).astype(np.float64) for y in parts]
    else:
        enc = [check_matrix(name, y, ndim=1)[:, None]
               for name, y in zip(("y_train", "y_test", "y_pre"), parts, strict=False)]
    mean = enc[0].mean(axis=0)
    scale = enc[0].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    out = [(e - mean) / scale for e in enc]
    return out[0], out[1], (out[2] if y_pre is not None else None)


def _check_groups(groups: Any, p: int) -> np.ndarray:
    if groups is None:
        return np.arange(p)
    g = np.asarray(groups)
    if g.shape != (p,) or not np.issubdtype(g.dtype, np.integer):
        raise ValueError(f"groups must be an integer array of length {p} (one per column), "
                         f"got shape {g.shape} and dtype {g.dtype}")
    return g.astype(np.int64)


def prepare_arrays(
    X_pre: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    task: str,
    y_pre: Any = None,
    groups: Any = None,
    n_classes: int | None = None,
    name: str = "arrays",
) -> PreparedData:
    """:class:`PreparedData` from explicit arrays (synthetic data, tests, other splits).

    Features are used as given; targets are encoded by :func:`encode_targets`. ``groups``
    (default: every column its own feature) defines the mask units. ``y_pre`` (optional) only
    feeds the target cosines of the record. The split roles of Sec. 5.3; chapters:
    the real-data chapters and the tests.
    """
    xs = [check_matrix(nm, x, ndim=2) for nm, x in
          (("X_pre", X_pre), ("X_train", X_train), ("X_test", X_test))]
    p = xs[0].shape[1]
    for nm, x in zip(("X_train", "X_test"), xs[1:], strict=True):
        if x.shape[1] != p:
            raise ValueError(f"{nm} must have {p} columns like X_pre, got shape {x.shape}")
    if xs[0].shape[0] < 4:
        raise ValueError(f"X_pre must have at least 4 rows, got {xs[0].shape[0]}")
    for nm, x, y in (("train", xs[1], y_train), ("test", xs[2], y_test)):
        if len(np.asarray(y)) != x.shape[0]:
            raise ValueError(f"y_{nm} must have one entry per row of X_{nm} ({x.shape[0]}), "
                             f"got {len(np.asarray(y))}")
    if xs[1].shape[0] < 3:
        raise ValueError(f"X_train must have at least 3 rows, got {xs[1].shape[0]}")
    if y_pre is not None and len(np.asarray(y_pre)) != xs[0].shape[0]:
        raise ValueError(f"y_pre must have one entry per row of X_pre ({xs[0].shape[0]}), "
                         f"got {len(np.asarray(y_pre))}")
    Y_train, Y_test, Y_pre = encode_targets(y_train, y_test, task, n_classes=n_classes,
                                            y_pre=y_pre)
    if y_pre is None:
        Y_pre = np.zeros((xs[0].shape[0], 0))
    return PreparedData(name=str(name), X_pre=np.ascontiguousarray(xs[0]),
                        X_train=np.ascontiguousarray(xs[1]), Y_train=Y_train,
                        X_test=np.ascontiguousarray(xs[2]), Y_test=Y_test,
                        groups=_check_groups(groups, p), task=task, Y_pre=Y_pre)


def _cap(idx: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    if cap is None or idx.size <= cap:
        return idx
    return np.sort(rng.choice(idx, size=cap, replace=False))


def prepare_dataset(
    name: str,
    *,
    seed: int = 0,
    n_pretrain_cap: int | None = DEFAULT_PRETRAIN_CAP,
    n_eval_cap: int | None = DEFAULT_EVAL_CAP,
    data_dir: str | os.PathLike[str] | None = None,
) -> PreparedData:
    """Load a dataset of Table 1 and prepare it for the protocol of Sec. 5.3.

    ``contexture.data.load(name, seed=seed)`` gives the seeded 70/15/15 pretrain /
    downstream-labelled / test split (App. E proportions; assumed for Sec. 5.3) with the
    preprocessing fitted on the pretrain rows. The pretrain part is subsampled to at most
    ``n_pretrain_cap`` points and the downstream and test parts to at most ``n_eval_cap`` points
    each (seeded; ``None`` keeps a whole part; assumed, to bound the dense n x n work). An
    unknown name raises :class:`contexture.data.UnknownDatasetError` before anything is read.
    Used by the real-data chapters (Sec. 5.1-5.3, Figs 2-3, 5-6, 8-11, Table 1).
    """
    seed = check_int("seed", seed, lo=0)
    if n_pretrain_cap is not None:
        n_pretrain_cap = check_int("n_pretrain_cap", n_pretrain_cap, lo=4)
    if n_eval_cap is not None:
        n_eval_cap = check_int("n_eval_cap", n_eval_cap, lo=3)
    ds = load(name, seed=seed, data_dir=data_dir)
    split = ds.split
    pre = _cap(split.pretrain, n_pretrain_cap, subseed(seed, _TAG_PRETRAIN))
    rng = subseed(seed, _TAG_EVAL)
    train = _cap(split.train, n_eval_cap, rng)
    test = _cap(split.test, n_eval_cap, rng)
    n_classes = len(ds.classes) if ds.classes is not None else None
    return prepare_arrays(ds.X[pre], ds.X[train], ds.y[train], ds.X[test], ds.y[test],
                          task=ds.task, y_pre=ds.y[pre], groups=feature_groups(ds.preprocessor),
                          n_classes=n_classes, name=name)
