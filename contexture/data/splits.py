"""Deterministic random splits: the paper's 70/15/15 pretrain / downstream-train / test.

App. E (abalone, the experiment of Fig. 1) splits 70/15/15 into pretrain / downstream-labelled /
downstream-test; Sec. 5.3 (Table 1) splits randomly without stating proportions, and the book uses
70/15/15 there too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from contexture.base.checks import as_rng, check_float, check_int

__all__ = ["PAPER_FRACTIONS", "Split", "split_indices"]

#: pretrain / downstream-train / test proportions (App. E).
PAPER_FRACTIONS = (0.70, 0.15, 0.15)


class Split(NamedTuple):
    """Sorted row indices of the three disjoint parts (their union is ``range(n)``)."""

    pretrain: np.ndarray
    train: np.ndarray
    test: np.ndarray


def split_indices(
    n: int,
    seed: int | np.random.Generator,
    fractions: tuple[float, float, float] = PAPER_FRACTIONS,
) -> Split:
    """Split ``range(n)`` at random into pretrain / downstream-train / test parts.

    Implements the 70/15/15 split of App. E (used for every dataset of Table 1, Sec. 5.3; chapter
    ``datasets``). Sizes are ``round(f0 * n)`` and ``round(f1 * n)``, the test part takes the rest.
    The same ``(n, seed, fractions)`` always gives the same split.
    """
    n = check_int("n", n, lo=3)
    rng = as_rng(seed)
    if len(fractions) != 3:
        raise ValueError(f"fractions must have 3 entries, got {len(fractions)}")
    f = [check_float(f"fractions[{i}]", v, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
         for i, v in enumerate(fractions)]
    if abs(sum(f) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {tuple(fractions)} (sum {sum(f)!r})")
    n_pre, n_tr = int(round(f[0] * n)), int(round(f[1] * n))
    if min(n_pre, n_tr, n - n_pre - n_tr) < 1:
        raise ValueError(f"n must be large enough for three non-empty parts with fractions "
                         f"{tuple(fractions)}, got {n}")
    perm = rng.permutation(n)
    return Split(np.sort(perm[:n_pre]), np.sort(perm[n_pre:n_pre + n_tr]),
                 np.sort(perm[n_pre + n_tr:]))
