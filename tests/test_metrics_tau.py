"""The metric tau of Eq. (4): reference values, closed form, range conventions."""

from __future__ import annotations

import numpy as np
import pytest

from contexture.metrics import tau, tau_exponential


def _exp_spectrum(lam: float, n: int = 513) -> np.ndarray:
    return np.exp(-lam * np.arange(1, n + 1) / 2)  # s_i with s_i^2 = e^{-lam i}


@pytest.mark.parametrize(
    ("lam", "ref_tau", "tol", "ref_d"),
    # Reference values for s_i^2 = e^{-lam i} (d0 = 512, beta = 1, d in [1, 512]), printed to 4
    # significant digits; tolerance = half a unit in the last printed digit.
    [(0.002, 2.559, 5e-4, 512), (0.02, 1.9999, 5e-5, 229), (0.2, 1.989, 5e-4, 11),
     (2.0, 1.883, 5e-4, 1)],
)
def test_reference_table(lam: float, ref_tau: float, tol: float, ref_d: int) -> None:
    t, d_star, tau_d = tau(_exp_spectrum(lam), beta=1.0, d0=512)
    assert t == pytest.approx(ref_tau, abs=tol)
    assert d_star == ref_d
    assert tau_d.shape == (512,)
    t2, d2, _ = tau_exponential(lam, beta=1.0, d0=512)
    assert (t2, d2) == (pytest.approx(t, abs=1e-12), d_star)


def test_closed_form_matches_numeric_tau() -> None:
    # Geometric-sum closed form vs the generic formula; tolerance 1e-12 on every tau_d.
    for lam in (0.001, 0.05, 0.7, 5.0):
        for beta, d0 in ((1.0, 512), (0.5, 64), (3.0, 7)):
            num = tau(_exp_spectrum(lam, d0 + 1), beta=beta, d0=d0)
            closed = tau_exponential(lam, beta=beta, d0=d0)
            np.testing.assert_allclose(closed[2], num[2], rtol=1e-12, atol=1e-12)
            assert closed[1] == num[1]


def test_tau_d_indexing_and_range() -> None:
    s = np.array([0.9, 0.8, 0.5, 0.3, 0.1])
    _, _, tau_d = tau(s, beta=2.0, d0=4)
    total = (s[:4] ** 2).sum()
    assert tau_d.size == 4  # len(s) >= d0 + 1: d = 1..d0
    assert tau_d[2] == pytest.approx(1 / (1 - 0.3**2) + 2.0 * (s[:3] ** 2).sum() / total)
    _, _, tau_d = tau(s, beta=2.0, d0=5)
    assert tau_d.size == 4  # len(s) == d0: d = 1..d0 - 1
    with pytest.raises(ValueError, match="at least d0=6 nontrivial singular values"):
        tau(s, d0=6)


def test_tau_infinite_terms_and_errors() -> None:
    t, d_star, tau_d = tau([1.0, 1.0, 0.5, 0.2], d0=3)
    assert np.isinf(tau_d[0]) and np.isfinite(tau_d[1]) and d_star in (2, 3) and np.isfinite(t)
    t, d_star, tau_d = tau(np.ones(5), d0=4)  # A = X: every tau_d is infinite
    assert np.isinf(t) and d_star == 1 and np.all(np.isinf(tau_d))
    with pytest.raises(ValueError, match="independent context"):
        tau(np.zeros(5), d0=4)
    with pytest.raises(ValueError, match=r"beta must be a finite number in \(0.0, inf\]"):
        tau(np.full(5, 0.5), beta=0.0, d0=4)
    with pytest.raises(ValueError, match="non-increasing"):
        tau([0.1, 0.5, 0.2, 0.1], d0=3)
    with pytest.raises(ValueError, match=r"lam must be a finite number in \(0.0, inf\]"):
        tau_exponential(0.0)
