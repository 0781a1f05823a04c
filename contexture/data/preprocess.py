"""Preprocessing, defined once and used by every chapter (via :func:`contexture.data.load`).

The paper does not state its feature preprocessing; the authors' related code standardises
numerics and one-hot encodes categoricals. The book's rule:

* **numeric feature**: missing values → the median of the fit rows; then z-score with the mean and
  standard deviation (``ddof=0``) of the fit rows. A constant column (std 0) becomes all zeros.
* **categorical feature** with levels ``L`` (the level list stored in the canonical metadata, plus a
  ``<missing>`` level if the column has any missing value anywhere in the data):
  one 0/1 indicator column per level; with exactly two levels, a single 0/1 column for the
  second level. Indicator columns are not standardised.
* **image** (MNIST): pixels / 255 in [0, 1]; no standardisation.
* **target**: classification → integer labels 0..K-1 (order of ``classes``); regression → z-scored
  with the fit rows' mean and standard deviation (``standardize_target=True``, the default, since
  the paper's MSE values look normalised), with ``target_mean`` / ``target_scale`` kept to invert.

"Fit rows" are the pretrain split when a split is requested (no statistic of the downstream or
test rows leaks into the features), otherwise all rows. The level lists are metadata fixed at
preparation time, so the output width does not depend on the split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contexture.data.canonical import CanonicalTable

__all__ = ["MISSING_LEVEL", "Preprocessor", "fit_preprocessor", "output_width"]

MISSING_LEVEL = "<missing>"


def _levels(name: str, categories: dict[str, list[str]], has_missing: bool) -> list[str]:
    levels = list(categories[name])
    return levels + [MISSING_LEVEL] if has_missing else levels


def output_width(n_levels: int) -> int:
    """Number of indicator columns of a categorical feature with ``n_levels`` levels."""
    return 1 if n_levels == 2 else n_levels


@dataclass(frozen=True)
class Preprocessor:
    """Fitted preprocessing statistics; :meth:`transform` maps canonical ``X`` to float64 features.

    Used by :func:`contexture.data.load` (Sec. 5.3 / Table 1 experiments and App. E, chapter
    ``datasets``); see the module docstring for the rule.
    """

    kind: str
    feature_names_in: tuple[str, ...]
    numeric_index: np.ndarray
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    categorical_index: np.ndarray
    levels: tuple[tuple[str, ...], ...]
    has_missing: tuple[bool, ...]
    feature_names_out: tuple[str, ...]
    n_fit_rows: int

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the preprocessed float64 matrix for canonical feature rows ``X``."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_in):
            raise ValueError(f"X must have shape (n, {len(self.feature_names_in)}), "
                             f"got {X.shape}")
        if self.kind == "image":
            return X.astype(np.float64) / 255.0
        n = X.shape[0]
        blocks: list[np.ndarray] = []
        order: list[int] = []  # column position of each block, to keep the input order
        if self.numeric_index.size:
            num = X[:, self.numeric_index].astype(np.float64, copy=True)
            miss = np.isnan(num)
            if miss.any():
                num[miss] = np.broadcast_to(self.medians, num.shape)[miss]
            num = (num - self.means) / self.scales
            for k, j in enumerate(self.numeric_index):
                blocks.append(num[:, k:k + 1])
                order.append(int(j))
        for k, j in enumerate(self.categorical_index):
            levels = self.levels[k]
            codes = X[:, j].astype(np.float64)
            miss = np.isnan(codes)
            idx = np.where(miss, len(levels) - 1 if self.has_missing[k] else -1,
                           np.nan_to_num(codes, nan=0.0)).astype(np.int64)
            if np.any(idx < 0) or np.any(idx >= len(levels)):
                raise ValueError(f"feature {self.feature_names_in[j]!r} has codes outside its "
                                 f"{len(levels)} levels")
            onehot = np.zeros((n, len(levels)), dtype=np.float64)
            onehot[np.arange(n), idx] = 1.0
            blocks.append(onehot[:, 1:2] if len(levels) == 2 else onehot)
            order.append(int(j))
        if not blocks:
            return np.zeros((n, 0))
        return np.hstack([blocks[i] for i in np.argsort(order, kind="stable")])


def fit_preprocessor(table: CanonicalTable, rows: np.ndarray | None = None) -> Preprocessor:
    """Fit the book's preprocessing (module docstring) on ``rows`` of ``table`` (all if None)."""
    X = table.X if rows is None else table.X[rows]
    names = tuple(table.feature_names)
    cat = np.asarray(table.categorical, dtype=bool)
    num_idx = np.flatnonzero(~cat)
    cat_idx = np.flatnonzero(cat)
    if table.kind == "image":
        empty = np.zeros(0)
        return Preprocessor("image", names, num_idx, empty, empty, empty, np.zeros(0, int),
                            (), (), names, int(X.shape[0]))
    num = X[:, num_idx].astype(np.float64)
    medians = np.zeros(num.shape[1])
    for k in range(num.shape[1]):
        present = num[:, k][~np.isnan(num[:, k])]
        medians[k] = np.median(present) if present.size else 0.0
    filled = np.where(np.isnan(num), medians, num)
    means = filled.mean(axis=0) if filled.shape[0] else np.zeros(num.shape[1])
    scales = filled.std(axis=0) if filled.shape[0] else np.ones(num.shape[1])
    scales = np.where(scales > 0, scales, 1.0)
    full_missing = np.isnan(table.X[:, cat_idx].astype(np.float64)).any(axis=0)
    levels, has_missing, out_names = [], [], []
    name_of = {}
    for k, j in enumerate(cat_idx):
        lv = _levels(names[j], table.categories, bool(full_missing[k]))
        levels.append(tuple(lv))
        has_missing.append(bool(full_missing[k]))
        shown = lv[1:] if len(lv) == 2 else lv
        name_of[int(j)] = [f"{names[j]}={v}" for v in shown]
    for j in range(len(names)):
        out_names.extend(name_of.get(j, [names[j]]))
    return Preprocessor("tabular", names, num_idx, medians, means, scales, cat_idx,
                        tuple(levels), tuple(has_missing), tuple(out_names), int(X.shape[0]))
