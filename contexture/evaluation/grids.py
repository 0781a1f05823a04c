"""Association levels of the four context types of Sec. 5.3 (grids assumed; the paper's are not
stated).

The paper evaluates 35 settings per context type, "from very weak to very strong" association
(Sec. 5.1, 5.3). The book puts all four types on one axis, the **neighbourhood size** ``K``: how
many sample points a point is associated with.

* KNN and KNN_mask use ``K`` itself. Level ``l`` has ``K_l``, rounded from a log-spaced grid
  between ``k_min = 2`` (very strong: x and its nearest neighbour) and ``max_fraction * n``
  (default ``n / 4``, weak), made strictly increasing.
* RBF and RBF_mask use the ``gamma_l`` at which the median over the points of the *effective*
  neighbourhood size ``1 / sum_a P+(a | x)^2`` equals ``K_l`` (for KNN that quantity is exactly K).
  It is found on a log-spaced scan of gamma (monotone interpolation), on at most 600 pretrain
  rows. The masked RBF uses the gammas of the unmasked one.

Level 0 is the strongest association, the last level the weakest: the order of the paper's x-axes
(-gamma and K/N, Fig. 2). Used by the real-data chapters (Figs 2, 6, 8-11, Table 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contexture.base.checks import check_choice, check_float, check_int

__all__ = ["CONTEXT_TYPES", "LevelGrid", "check_level_indices", "knn_levels", "rbf_gammas"]

CONTEXT_TYPES = ("rbf", "knn", "rbf_mask", "knn_mask")
"""The context types of Sec. 5.3, in the order of the paper's list."""

K_MIN = 2
"""Smallest neighbourhood size of the grid (K = 1 would be P+ = identity, A = X)."""


def knn_levels(n: int, n_levels: int = 35, max_fraction: float = 0.25) -> np.ndarray:
    """Neighbourhood sizes ``K_0 < K_1 < ...`` from 2 to ``floor(max_fraction * n)``.

    ``round(geomspace(2, K_max, n_levels))``, then pushed up where rounding repeats a value and
    pulled down from the top so that the grid is strictly increasing inside ``[2, K_max]``.
    Raises when ``K_max - 1 < n_levels`` (not enough distinct sizes). Assumed grid (Sec. 5.1,
    5.3: "from very weak to very strong"); the KNN x-axis K/N of Figs 2 and 8. Used for the
    real-data experiments.
    """
    n = check_int("n", n, lo=4)
    n_levels = check_int("n_levels", n_levels, lo=1)
    max_fraction = check_float("max_fraction", max_fraction, lo=0.0, hi=1.0, lo_open=True)
    k_max = int(np.floor(max_fraction * n))
    if k_max - K_MIN + 1 < n_levels:
        raise ValueError(f"n_levels must be at most {max(k_max - K_MIN + 1, 0)} for n = {n} and "
                         f"max_fraction = {max_fraction} (neighbourhood sizes 2..{k_max}), got "
                         f"{n_levels}")
    k = np.rint(np.geomspace(K_MIN, k_max, n_levels)).astype(np.int64)
    for i in range(1, k.size):
        k[i] = max(k[i], k[i - 1] + 1)
    k[-1] = min(k[-1], k_max)
    for i in range(k.size - 2, -1, -1):
        k[i] = min(k[i], k[i + 1] - 1)
    return k


def _median_neff(ds: np.ndarray, gamma: float) -> float:
    w = np.exp(-gamma * ds)  # each row holds its own zero distance, so max weight is 1
    s1 = w.sum(axis=1)
    s2 = np.einsum("ij,ij->i", w, w)
    return float(np.median(s1 * s1 / s2))


def rbf_gammas(
    D_pre: np.ndarray,
    k: np.ndarray,
    rng: np.random.Generator,
    *,
    n_rows: int = 600,
    n_scan: int = 96,
) -> np.ndarray:
    r"""RBF bandwidths matched to neighbourhood sizes (module docstring; assumed grid).

    ``D_pre`` holds the squared distances between the ``n`` pretrain points (zero diagonal),
    ``k`` the target sizes. For each ``k_l`` returns the gamma at which the median, over at most
    ``n_rows`` pretrain points (drawn with ``rng``), of :math:`1/\sum_aP^+(a|x)^2` equals
    ``k_l``, with :math:`P^+(a|x)\propto e^{-\gamma\|x-a\|^2}` over the sample. The median is
    non-increasing in gamma (the Renyi-2 entropy of a Gibbs law decreases with the inverse
    temperature); it is scanned at ``n_scan`` log-spaced gammas from
    ``0.01 / median(D)`` (almost uniform) to ``100 / median nearest-neighbour D`` (almost the
    identity) and interpolated in log-log scale. Sizes outside the scanned range get the end
    value (e.g. when most points have duplicates, size 2 is unreachable). Assumed grid for the
    RBF contexts of Sec. 5.3 (Figs 2, 9). Used for the real-data experiments.
    """
    n = D_pre.shape[0]
    if D_pre.shape != (n, n):
        raise ValueError(f"D_pre must be square, got shape {D_pre.shape}")
    rows = np.arange(n) if n <= n_rows else np.sort(rng.choice(n, size=n_rows, replace=False))
    ds = D_pre[rows]
    positive = ds[ds > 0]
    if positive.size == 0:
        raise ValueError("the pretrain points all coincide; an RBF grid needs distinct points")
    nearest = np.where(ds > 0, ds, np.inf).min(axis=1)
    lo = 1e-2 / float(np.median(positive))
    hi = 1e2 / float(np.median(nearest[np.isfinite(nearest)]))
    hi = max(hi, 1e4 * lo)
    scan = np.geomspace(lo, hi, n_scan)
    neff = np.minimum.accumulate(np.array([_median_neff(ds, g) for g in scan]))
    # np.interp needs increasing abscissae: reverse, and drop repeated sizes (flat stretches)
    x, y = np.log(neff[::-1]), np.log(scan[::-1])
    keep = np.concatenate([[True], np.diff(x) > 0])
    return np.exp(np.interp(np.log(np.asarray(k, dtype=np.float64)), x[keep], y[keep]))


@dataclass(frozen=True, eq=False)
class LevelGrid:
    """The association levels of one context type on one pretrain sample.

    ``k`` (int, increasing) is the neighbourhood size of each level; ``gamma`` the matched RBF
    bandwidths (decreasing; None for the KNN types); ``n`` the number of pretrain points.
    The 35 settings per context type of Sec. 5.3 (assumed values).
    Used for the real-data experiments.
    """

    context: str
    k: np.ndarray
    gamma: np.ndarray | None
    n: int

    def __post_init__(self) -> None:
        check_choice("context", self.context, CONTEXT_TYPES)
        if self.context.startswith("rbf") and self.gamma is None:
            raise ValueError(f"an {self.context!r} grid needs gamma values")

    @property
    def n_levels(self) -> int:
        """Number of levels."""
        return int(self.k.size)

    @property
    def neighbourhood(self) -> np.ndarray:
        """``K_l / n``: the shared association axis (larger = weaker; the paper's K/N)."""
        return self.k / self.n

    @property
    def values(self) -> np.ndarray:
        """The context hyperparameter of each level: gamma (RBF types) or K (KNN types)."""
        return self.gamma if self.context.startswith("rbf") else self.k.astype(np.float64)

    def check_levels(self, levels: object) -> np.ndarray:
        """Validated, sorted level indices (``None`` = all); see :func:`check_level_indices`."""
        return check_level_indices(levels, self.n_levels)


def check_level_indices(levels: object, n_levels: int) -> np.ndarray:
    """``levels`` (None = all, an int, or a sequence of distinct ints in ``[0, n_levels - 1]``)
    as a sorted int array; raises naming the bad entry. Levels of the Sec. 5.3 grids; chapters:
    the real-data chapters."""
    if levels is None:
        return np.arange(n_levels)
    if isinstance(levels, int | np.integer) and not isinstance(levels, bool):
        levels = (levels,)
    if not isinstance(levels, tuple | list | np.ndarray) or len(levels) == 0:
        raise ValueError(f"levels must be None or a non-empty sequence of level indices in "
                         f"[0, {n_levels - 1}], got {levels!r}")
    out = [check_int(f"levels[{i}]", v, lo=0, hi=n_levels - 1) for i, v in enumerate(levels)]
    if len(set(out)) != len(out):
        raise ValueError(f"levels must not repeat an index, got {tuple(out)}")
    return np.array(sorted(out), dtype=np.int64)
