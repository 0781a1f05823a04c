"""Pearson and distance correlation (Table 1)."""

from __future__ import annotations

import numpy as np
import pytest

from contexture.metrics import distance_correlation, pearson


def test_pearson_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    y += x
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert pearson(x, -3 * x + 1) == pytest.approx(-1.0, abs=1e-12)
    with pytest.raises(ValueError, match="y must not be constant"):
        pearson(x, np.ones(50))
    with pytest.raises(ValueError, match="same number of samples"):
        pearson(x, y[:10])


def _naive_dcor(x: np.ndarray, y: np.ndarray) -> float:
    """Szekely et al. (2007) by the definition, with explicit loops (independent check)."""
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    n = len(x)
    a = np.array([[np.linalg.norm(x[i] - x[j]) for j in range(n)] for i in range(n)])
    b = np.array([[np.linalg.norm(y[i] - y[j]) for j in range(n)] for i in range(n)])
    A = a - a.mean(0) - a.mean(1)[:, None] + a.mean()
    B = b - b.mean(0) - b.mean(1)[:, None] + b.mean()
    return float(np.sqrt((A * B).mean() / np.sqrt((A * A).mean() * (B * B).mean())))


def test_distance_correlation_matches_definition() -> None:
    # An independent implementation of the definition (loops) and values pinned from dcor==0.7
    # `dcor.distance_correlation`; both are the un-squared dCor. Tolerances 1e-12 and 1e-10.
    rng = np.random.default_rng(1)
    x = rng.standard_normal(60)
    ys = (x**2 + 0.1 * rng.standard_normal(60), rng.standard_normal(60), 2 * x + 1)
    for y, ref in zip(ys, (0.5852473810704372, 0.2563567549338373, 0.9999999999999991),
                      strict=True):
        assert distance_correlation(x, y) == pytest.approx(ref, abs=1e-10)
        assert distance_correlation(x, y) == pytest.approx(_naive_dcor(x, y), abs=1e-12)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))
    Y[:, 0] += X[:, 1] ** 2
    assert distance_correlation(X, Y) == pytest.approx(0.4620833317718521, abs=1e-10)
    assert distance_correlation(X, Y) == pytest.approx(_naive_dcor(X, Y), abs=1e-12)
    # n = 140, the number of contexts per dataset in Table 1; column vectors equal 1-D input
    tau, err = rng.uniform(1, 2, 140), rng.standard_normal(140)
    err += np.sin(4 * tau)
    value = distance_correlation(tau, err)
    assert value == pytest.approx(_naive_dcor(tau, err), abs=1e-12)
    assert distance_correlation(tau[:, None], err[:, None]) == pytest.approx(value, abs=1e-12)


def test_distance_correlation_properties_and_errors() -> None:
    x = np.linspace(-1, 1, 101)
    assert distance_correlation(x, 5 * x - 2) == pytest.approx(1.0, abs=1e-12)
    assert abs(pearson(x, x**2)) < 1e-12 < distance_correlation(x, x**2)  # nonlinear dependence
    with pytest.raises(ValueError, match="x must not be constant"):
        distance_correlation(np.zeros(5), np.arange(5.0))
    with pytest.raises(ValueError, match="need at least 2 samples"):
        distance_correlation([1.0], [2.0])
