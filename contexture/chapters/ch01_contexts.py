"""Companion of chapter ``ch01_contexts``: contexts with closed-form spectra (Sec. 1-2).

The closed forms the chapter checks -- translation on a cycle, symmetric label noise, Gaussian
noise and the hypercube contexts -- live in :mod:`contexture.contexts.analytic` (derivations in
its module docstring); the first two are re-exported here. This module adds :func:`shift_law`,
the shift distribution of the translation context. Definition 5 on a finite context is checked
with :func:`contexture.base.linalg.weighted_eigh` (kernel PCA on the dual kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contexture.base.checks import check_int, check_probability_vector
from contexture.contexts.analytic import (  # closed forms shared with contexture.contexts.analytic
    cycle_fourier_modes,
    cycle_translation_context,
    cycle_translation_spectrum,
    label_noise_context,
    label_noise_spectrum,
)

__all__ = [
    "cycle_fourier_modes",
    "cycle_translation_context",
    "cycle_translation_spectrum",
    "label_noise_context",
    "label_noise_spectrum",
    "shift_law",
]


def shift_law(m: int, offsets: Any, weights: Any) -> np.ndarray:
    """Shift law q on Z_m with ``q[o mod m] += w`` for each (offset, weight) pair.

    ``weights`` must be a probability vector (nonnegative, sum 1); offsets are integers (negative
    allowed). Chapter ``ch01_contexts`` (translation on a cycle).
    """
    m = check_int("m", m, lo=2)
    w = check_probability_vector("weights", weights)
    offs = np.asarray(offsets)
    if offs.shape != w.shape or not np.issubdtype(offs.dtype, np.integer):
        raise ValueError(f"offsets must be {w.size} integers (one per weight), got {offsets!r}")
    q = np.zeros(m)
    np.add.at(q, offs % m, w)
    return q
