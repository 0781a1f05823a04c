r"""The context-evaluation metric :math:`\tau` of Eq. (4) (Sec. 5.2).

:math:`\tau_d=\frac1{1-s_{d+1}^2}+\beta\frac{\sum_{i\le d}s_i^2}{\sum_{i\le d_0}s_i^2}` and
:math:`\tau=\min_d\tau_d`, over nontrivial singular values only.

Range of ``d`` (the paper does not state it):

* ``d >= 1``. With ``d = 0`` allowed, :math:`\tau_0=1/(1-s_1^2)` is close to 1 for every weak
  context, so weak contexts would all score near the optimum and the metric would not rank them.
* ``d <= d0`` when ``len(s) >= d0 + 1`` (:math:`\tau_{d_0}` needs :math:`s_{d_0+1}`);
  ``d <= d0 - 1`` when ``len(s) == d0``; fewer than ``d0`` values raise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contexture.base.checks import check_float, check_int
from contexture.base.validate import check_spectrum

__all__ = ["tau", "tau_exponential"]


def _argmin(tau_d: np.ndarray) -> tuple[float, int]:
    i = int(np.argmin(tau_d))  # smallest d on ties; d = 1 if every tau_d is infinite
    return float(tau_d[i]), i + 1


def tau(s: Any, beta: float = 1.0, d0: int = 512) -> tuple[float, int, np.ndarray]:
    r""":math:`\tau` of Eq. (4): returns ``(tau, d_star, tau_d)``.

    ``s`` holds the nontrivial singular values :math:`s_1\ge s_2\ge\dots` (not squared; the
    trivial :math:`s_0=1` excluded). ``tau_d[d - 1]`` is :math:`\tau_d` for ``d = 1..d_max``
    with ``d_max = d0`` if ``len(s) >= d0 + 1`` and ``d0 - 1`` if ``len(s) == d0`` (module
    docstring); ``d_star`` is the smallest minimiser. :math:`s_{d+1}=1` gives
    :math:`\tau_d=+\infty` (no warning); if every :math:`\tau_d` is infinite, ``tau = inf``
    and ``d_star = 1``. ``beta > 0``; the paper uses ``beta = 1``, ``d0 = 512``. Raises when
    :math:`\sum_{i\le d_0}s_i^2=0` (independent context: the ratio is 0/0). Values near
    ``beta + 1`` mean "abstain" (Sec. 5.2). Chapter ``ch07_association_tau``; Figs 3-4 and
    Table 1 of the paper.
    """
    s_arr = check_spectrum("s", s)
    beta = check_float("beta", beta, lo=0.0, lo_open=True)
    d0 = check_int("d0", d0, lo=1)
    if s_arr.size < d0:
        raise ValueError(f"s must hold at least d0={d0} nontrivial singular values (d0 + 1 = "
                         f"{d0 + 1} to evaluate d = d0), got {s_arr.size}")
    d_max = d0 if s_arr.size >= d0 + 1 else d0 - 1
    if d_max < 1:
        raise ValueError(f"d0=1 needs len(s) >= 2 (tau_1 uses s_2), got {s_arr.size}")
    s2 = s_arr**2
    total = float(s2[:d0].sum())
    if total <= 0.0:
        raise ValueError(f"tau is undefined when s_1 = ... = s_d0 = 0 (independent context): "
                         f"the sum of s_i^2 for i <= d0={d0} is {total!r}")
    nxt = s2[1 : d_max + 1]  # s_{d+1}^2 for d = 1..d_max
    first = np.full(d_max, np.inf)
    fin = nxt < 1.0
    first[fin] = 1.0 / (1.0 - nxt[fin])
    tau_d = first + beta * np.cumsum(s2[:d_max]) / total
    t, d_star = _argmin(tau_d)
    return t, d_star, tau_d


def tau_exponential(
    lam: float, beta: float = 1.0, d0: int = 512
) -> tuple[float, int, np.ndarray]:
    r"""Closed form of :math:`\tau` for the exponential spectrum :math:`s_i^2=e^{-\lambda i}`.

    With :math:`q=e^{-\lambda}` the geometric sums give
    :math:`\tau_d=\frac1{1-q^{d+1}}+\beta\frac{1-q^d}{1-q^{d_0}}` for ``d = 1..d0`` (the
    spectrum is infinite, so :math:`s_{d_0+1}` exists); computed with ``expm1`` for accuracy.
    Same return convention as :func:`tau`. The Gaussian-noise context
    (:func:`contexture.contexts.analytic.gaussian_noise_spectrum`) has :math:`\lambda=-2\ln|\rho|`.
    Chapter ``ch07_association_tau`` (the reference table of exponential spectra).
    """
    lam = check_float("lam", lam, lo=0.0, lo_open=True)
    beta = check_float("beta", beta, lo=0.0, lo_open=True)
    d0 = check_int("d0", d0, lo=1)
    d = np.arange(1, d0 + 1, dtype=np.float64)

    def one_minus_q(k: np.ndarray | float) -> np.ndarray:
        return -np.expm1(-lam * np.asarray(k, dtype=np.float64))

    tau_d = 1.0 / one_minus_q(d + 1) + beta * one_minus_q(d) / one_minus_q(float(d0))
    t, d_star = _argmin(tau_d)
    return t, d_star, tau_d
