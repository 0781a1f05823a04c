"""A gallery of contexts with closed-form spectra, for chapter ``ch01_contexts``.

Helpers for the chapter "Contexts and the expectation operator" (Sec. 1-2 of the paper, arXiv v2):
Definition 5 (learning the contexture) on a finite context, and two closed-form contexts that the
chapter derives itself -- translation on a cycle and symmetric label noise. The Gaussian-noise and
hypercube contexts used next to them live in :mod:`contexture.chapters.ch06_scaling` and
:mod:`contexture.chapters.ch07_association_tau`.

Derivations (also written out in the chapter):

* **Translation on a cycle.** X uniform on Z_m, A = X + xi (mod m) with xi ~ q. Then P_A is
  uniform and T[x, a] = P+(a | x) = q(a - x) is circulant. For the Fourier mode
  e_j(a) = exp(2 pi i j a / m), (T e_j)(x) = sum_t q(t) e_j(x + t) = qhat(j) e_j(x) with
  qhat(j) = sum_t q(t) exp(2 pi i j t / m). The e_j are orthonormal in L2(uniform), so T is
  diagonal in that basis up to phases and the singular values are |qhat(j)|, j = 0..m-1 (j = 0 is
  the trivial 1). Real singular functions: sqrt(2) cos / sqrt(2) sin of 2 pi j x / m (j and m - j
  share the modulus).
* **Symmetric label noise.** X = true class, uniform on C classes; A = observed label. The channel
  is M = alpha I + beta 1 1^T (:func:`contexture.contexts.label_noise_channel`), with
  alpha = 1 - eta C/(C-1) when a corrupted label goes to one of the *other* C - 1 classes and
  alpha = 1 - eta when it is redrawn from *all* C classes. With both marginals uniform T = M is
  symmetric: eigenvalue alpha + C beta = 1 on constants and alpha on the (C-1)-dimensional space
  of mean-zero functions, so the nontrivial singular values are |alpha| (multiplicity C - 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contexture.base.checks import check_int, check_probability_vector
from contexture.contexts.analytic import (  # closed forms shared with contexture.contexts.analytic
    cycle_translation_context,
    cycle_translation_spectrum,
    label_noise_context,
    label_noise_spectrum,
)

__all__ = [
    "cycle_fourier_modes",
    "cycle_translation_context",
    "cycle_translation_spectrum",
    "kernel_x_eigenfunctions",
    "label_noise_context",
    "label_noise_spectrum",
    "shift_law",
]


def kernel_x_eigenfunctions(context: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Top ``d + 1`` eigenpairs of :math:`T_{P^+}T_{P^+}^*=T_{k_X^+}` on a finite context.

    Computed independently of the SVD, by ``eigh`` of the symmetrised matrix
    :math:`D^{1/2}K D^{1/2}` (:math:`K=k_X^+`, :math:`D=\mathrm{diag}(P_{\mathcal X})`), and mapped
    back to :math:`L^2(P_{\mathcal X})`-orthonormal functions :math:`D^{-1/2}v`. Returns
    ``(eigenvalues, functions)`` (descending; ``functions`` is ``N x (d+1)``, the first column the
    constant). The finite analogue of Definition 5 (learning the contexture): the span of the
    top-``d`` nontrivial columns equals the span of :math:`\mu_1..\mu_d` when
    :math:`s_d>s_{d+1}`. Chapter ``ch01_contexts``.
    """
    px = np.asarray(context.px, dtype=np.float64)
    d = check_int("d", d, lo=0, hi=px.size - 1)
    K = np.asarray(context.kernel_x(), dtype=np.float64)
    r = np.sqrt(px)
    S = r[:, None] * K * r[None, :]
    lam, V = np.linalg.eigh(0.5 * (S + S.T))
    order = np.argsort(-lam, kind="stable")[: d + 1]
    return lam[order], V[:, order] / r[:, None]


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


def cycle_fourier_modes(m: int, j: int) -> np.ndarray:
    r"""Real Fourier modes :math:`\sqrt2\cos(2\pi jx/m)`, :math:`\sqrt2\sin(2\pi jx/m)` on Z_m.

    Returns ``m x 2`` (``m x 1``, the mode :math:`\cos(\pi x)`, when ``2j = m``), orthonormal in
    :math:`L^2(\mathrm{uniform})`; ``j`` in ``[1, m // 2]``. They span the singular space of
    :func:`cycle_translation_context` at :math:`|\hat q(j)|`. Chapter ``ch01_contexts``.
    """
    m = check_int("m", m, lo=2)
    j = check_int("j", j, lo=1, hi=m // 2)
    x = np.arange(m)
    if 2 * j == m:
        return np.cos(np.pi * x)[:, None]
    ang = 2.0 * np.pi * j * x / m
    return np.sqrt(2.0) * np.column_stack([np.cos(ang), np.sin(ang)])


