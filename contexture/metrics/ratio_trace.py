r"""Appendix C: evaluating an arbitrary encoder (ratio trace, trace gap, Theorem 24).

Coordinates follow :mod:`contexture.metrics.optimality`: ``s`` holds the nontrivial singular
values ``s_1..s_K`` and ``coords`` (``K x d``, fewer rows allowed = zero-padded) holds the
encoder's centred coordinate functions in the :math:`\mu_1..\mu_K` basis. Then
:math:`C_\Phi=\mathrm{Cov}_{P_{\mathcal X}}[\Phi]=` ``coords.T @ coords`` and, since
:math:`T^*\mu_i=s_i\nu_i`, :math:`B_\Phi=\mathrm{Cov}_{P_{\mathcal A}}[T^*\Phi]=`
``coords.T @ diag(s**2) @ coords``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from contexture.base.checks import check_choice, check_float, check_matrix
from contexture.base.validate import check_coords, check_rtol, check_spectrum

__all__ = [
    "generalized_eigenvalues",
    "ky_fan_check",
    "ratio_trace",
    "ratio_trace_matrices",
    "thm24_bound",
    "trace_gap",
    "trace_gap_terms",
]

_SYM_TOL = 1e-8  # relative asymmetry tolerated in C and B
_NULL_TOL = 1e-6  # B must vanish on null(C) up to this (relative) tolerance


def _check_pair(C: Any, B: Any, rtol: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validate (C, B); return C's retained eigenvectors scaled by lambda^{-1/2}, and B."""
    c = check_matrix("C", C, ndim=2)
    b = check_matrix("B", B, ndim=2)
    rtol = check_rtol(rtol)
    if c.shape[0] != c.shape[1]:
        raise ValueError(f"C must be a square matrix, got shape {c.shape}")
    if b.shape != c.shape:
        raise ValueError(f"B must have the same shape as C {c.shape}, got {b.shape}")
    for name, m in (("C", c), ("B", b)):
        scale = max(float(np.abs(m).max()), 1e-300)
        if np.abs(m - m.T).max() > _SYM_TOL * scale:
            raise ValueError(f"{name} must be symmetric (relative tolerance {_SYM_TOL}), got "
                             f"max |{name} - {name}^T| = {np.abs(m - m.T).max()!r}")
    c, b = (c + c.T) / 2.0, (b + b.T) / 2.0
    lam, V = np.linalg.eigh(c)
    if lam[-1] <= 0.0:
        raise ValueError("C must be positive semidefinite with a positive eigenvalue, got "
                         f"largest eigenvalue {lam[-1]!r}")
    if lam[0] < -1e-8 * lam[-1]:
        raise ValueError(f"C must be positive semidefinite, got eigenvalue {lam[0]!r}")
    keep = lam > rtol * lam[-1]
    N = V[:, ~keep]
    if N.shape[1]:
        leak = float(np.abs(N.T @ b @ N).max())
        if leak > _NULL_TOL * max(lam[-1], float(np.abs(b).max())):
            raise ValueError(f"B must vanish on the null space of C (B = Cov[T* Phi] <= C = "
                             f"Cov[Phi]), got |N^T B N| up to {leak!r}")
    W = V[:, keep] / np.sqrt(lam[keep])
    return c, b, W, rtol


def ratio_trace(C: Any, B: Any, *, rtol: float = 1e-10) -> float:
    r"""Ratio trace :math:`\mathrm{RT}(\Phi;P^+)=\mathrm{Tr}(C_\Phi^{-1}B_\Phi)` (Definition 21).

    ``C`` = :math:`\mathrm{Cov}_{P_{\mathcal X}}[\Phi]`, ``B`` =
    :math:`\mathrm{Cov}_{P_{\mathcal A}}[T^*\Phi]` (e.g. from :func:`ratio_trace_matrices`).
    If ``C`` is singular, Definition 21 uses a maximal linearly independent subset of the
    :math:`\phi_i`; equivalently (RT is invariant under invertible linear maps) we restrict to
    the eigenvectors of ``C`` with eigenvalue above ``rtol`` times the largest, after checking that
    ``B`` vanishes on the discarded null space. Invariant under :math:`\Phi\mapsto M\Phi`, and
    equal to :math:`s_1^2+\dots+s_d^2` (its maximum, Lemma 22) for the contexture encoder.
    Chapter ``ch05_optimality`` (App. C).
    """
    _, b, W, _ = _check_pair(C, B, rtol)
    return float(np.trace(W.T @ b @ W))


def generalized_eigenvalues(B: Any, C: Any, *, rtol: float = 1e-10) -> np.ndarray:
    r"""Eigenvalues of :math:`B v=\lambda Cv` on the range of ``C``, in decreasing order.

    App. D's spectrum estimator (step 4) and the inner supremum of Definition 23: by Ky Fan, the
    maximal ratio trace over ``d'``-dimensional subspaces of :math:`\mathrm{span}\Phi` is the
    sum of the top ``d'`` of these. ``C`` is reduced as in :func:`ratio_trace` (relative
    tolerance ``rtol``); returns ``rank(C)`` values. Chapters ``ch05_optimality``
    (App. C) and *Estimating the spectrum* (App. D).
    """
    _, b, W, _ = _check_pair(C, B, rtol)
    return np.linalg.eigvalsh(W.T @ b @ W)[::-1].copy()


def ratio_trace_matrices(coords: Any, s: Any) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(C_\Phi, B_\Phi)` of Definition 21 from :math:`\mu`-coordinates.

    ``C = coords.T @ coords`` and ``B = coords.T @ diag(s**2) @ coords`` (module docstring).
    Chapter ``ch05_optimality`` (App. C).
    """
    s_arr = check_spectrum("s", s, sorted_desc=False)
    c = check_coords("coords", coords, s_arr.size)
    return c.T @ c, c.T @ ((s_arr**2)[:, None] * c)


def ky_fan_check(coords: Any, s: Any, *, atol: float = 1e-8) -> tuple[float, float]:
    r"""Lemma 22 (Ky Fan): :math:`\sum_i\|T^*\phi_i\|^2_{P_{\mathcal A}}\le s_1^2+\dots+s_d^2`.

    ``coords`` must hold ``d`` orthonormal centred functions (``coords.T @ coords = I`` within
    ``atol``). Returns ``(lhs, rhs)``; the lemma says ``lhs <= rhs``. Chapter ``ch05_optimality``
    (App. C).
    """
    atol = check_float("atol", atol, lo=0.0, lo_open=True)
    C, B = ratio_trace_matrices(coords, s)
    d = C.shape[0]
    dev = float(np.abs(C - np.eye(d)).max())
    if dev > atol:
        raise ValueError(f"coords must have orthonormal columns (Lemma 22), got "
                         f"max |coords^T coords - I| = {dev!r} > atol={atol!r}")
    s2 = check_spectrum("s", s) ** 2
    return float(np.trace(B)), float(s2[:d].sum())


def trace_gap_terms(coords: Any, s: Any, *, rtol: float = 1e-10) -> np.ndarray:
    r"""Terms of Definition 23: entry ``d'`` is :math:`\sum_{i\le d'+1}s_i^2-\sum_{i\le d'}
    \lambda_i(B_\Phi,C_\Phi)`, for ``d' = 0..r`` with ``r = rank(C_Phi)``.

    For fixed ``d'`` the supremum of the ratio trace over linearly independent
    :math:`f_1..f_{d'}\in\mathrm{span}\Phi` is the sum of the top ``d'`` generalised
    eigenvalues (Ky Fan), so each entry is the infimum for that ``d'``. Needs ``len(s) >= r+1``
    (append zeros to ``s`` if the basis is complete). Chapter ``ch05_optimality``.
    """
    s_arr = check_spectrum("s", s)
    C, B = ratio_trace_matrices(coords, s_arr)
    lam = generalized_eigenvalues(B, C, rtol=rtol)
    r = lam.size
    if s_arr.size < r + 1:
        raise ValueError(f"s must hold at least rank(C_Phi) + 1 = {r + 1} singular values "
                         f"(s_(d'+1) is needed for d' = {r}), got {s_arr.size}; append zeros "
                         f"if mu_1..mu_K is a complete basis")
    head = np.cumsum(s_arr[: r + 1] ** 2)
    return head - np.concatenate([[0.0], np.cumsum(lam)])


def trace_gap(coords: Any, s: Any, *, include_zero: bool = True, rtol: float = 1e-10) -> float:
    r"""Trace gap :math:`\mathrm{TG}(\Phi;P^+)` of Definition 23.

    Read as :math:`\inf_{d'\le d}\inf_{f_1..f_{d'}}\{s_1^2+\dots+s_{d'+1}^2-
    \mathrm{Tr}(C_F^{-1}B_F)\}` with :math:`B_F=\mathrm{Cov}_{P_{\mathcal A}}[T^*F]` (the
    printed :math:`\mathrm{Cov}[F]` is a typo) and linearly independent
    :math:`f_i\in\mathrm{span}\Phi` (so :math:`d'\le\mathrm{rank}\,C_\Phi`); this equals
    ``min(trace_gap_terms(coords, s))``. ``d' = 0`` (the empty family, term :math:`s_1^2`) is
    included by default, so :math:`\mathrm{TG}\le s_1^2`; it never changes whether Theorem 24's
    precondition :math:`\mathrm{TG}<s_1^2` holds. ``include_zero=False`` starts at ``d' = 1``.
    For the contexture encoder :math:`\mathrm{TG}=s_{d+1}^2`. Chapter ``ch05_optimality``
    (App. C, Theorem 24).
    """
    terms = trace_gap_terms(coords, s, rtol=rtol)
    if not include_zero:
        if terms.size < 2:
            raise ValueError("include_zero=False needs an encoder of rank >= 1")
        terms = terms[1:]
    return float(terms.min())


def thm24_bound(
    s: Any, tg: float, eps: float, reading: Literal["printed", "sqrt"] = "printed"
) -> float:
    r"""Upper bound of Theorem 24 on :math:`\mathrm{err}(\Phi;\mathcal F_\epsilon)` from the TG.

    * ``reading="printed"``: :math:`\frac{s_1^2-(1-\epsilon)^2+s_1\mathrm{TG}}{s_1^2-\mathrm{TG}^2}`
      as printed in arXiv v2. With TG of Definition 23 this can fail (near-contexture encoders
      violate it; see the counterexample in ``ch05_optimality``).
    * ``reading="sqrt"``: :math:`\frac{s_1^2-(1-\epsilon)^2+s_1\sqrt{\mathrm{TG}}}{s_1^2-
      \mathrm{TG}}`, the reading consistent with the proof (norm-level gap).

    ``s`` holds the nontrivial singular values (only ``s[0]`` = :math:`s_1` is used); the
    theorem's preconditions :math:`0\le\mathrm{TG}<s_1^2` and :math:`1-s_1<\epsilon\le1` are
    enforced. Chapter ``ch05_optimality`` (App. C).
    """
    s_arr = check_spectrum("s", s)
    check_choice("reading", reading, ["printed", "sqrt"])
    s1 = float(s_arr[0])
    tg = check_float("tg", tg, lo=0.0, hi=s1**2, hi_open=True)
    eps = check_float("eps", eps, lo=1.0 - s1, hi=1.0, lo_open=True)
    num = s1**2 - (1.0 - eps) ** 2
    if reading == "printed":
        return float((num + s1 * tg) / (s1**2 - tg**2))
    return float((num + s1 * np.sqrt(tg)) / (s1**2 - tg))
