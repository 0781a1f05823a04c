"""The base layer: the one weighted eigendecomposition, the one sign convention, dense, as_rng.

Tolerances: 1e-12 on eigenvalues and identities of O(1) float64 matrices.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from contexture.base.checks import as_numpy, as_rng, check_table
from contexture.base.linalg import (
    column_signs,
    dense,
    fix_signs,
    orthonormal_completion,
    weighted_eigh,
)

TOL = 1e-12


def _psd_kernel(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, 4))
    return G @ G.T / 4, rng.uniform(0.5, 2.0, n)  # weights need not sum to 1


def test_weighted_eigh_solves_the_integral_operator() -> None:
    K, p = _psd_kernel(9, 0)
    lam, V = weighted_eigh(K, p)
    # independent oracle: K diag(p) v = lam v  <=>  (D K D) v = lam D v, D = diag(p)
    ref = sla.eigh(p[:, None] * K * p[None, :], np.diag(p), eigvals_only=True)[::-1]
    np.testing.assert_allclose(lam, ref, atol=TOL)
    assert np.all(np.diff(lam) <= TOL)
    np.testing.assert_allclose(K @ (p[:, None] * V), V * lam, atol=1e-10)
    np.testing.assert_allclose(V.T @ (p[:, None] * V), np.eye(9), atol=1e-10)
    assert np.all(V[np.argmax(np.abs(V), axis=0), np.arange(9)] > 0)  # sign convention
    top_lam, top_V = weighted_eigh(sp.csr_matrix(K), p, top=3)
    np.testing.assert_allclose(top_lam, lam[:3], atol=TOL)
    np.testing.assert_allclose(top_V, V[:, :3], atol=1e-10)


def test_weighted_eigh_deflates_the_constants() -> None:
    # Two disconnected triangles: T = D^{-1} W has eigenvalue 1 twice; deflated, the constant is
    # never mixed in and the remaining eigenvalue 1 belongs to the +-1 component indicator.
    W = np.kron(np.eye(2), np.ones((3, 3)) - np.eye(3))
    deg = W.sum(1)
    p = deg / deg.sum()
    K = W * deg.sum() / np.outer(deg, deg)
    lam, F = weighted_eigh(K, p, deflate_constants=True)
    assert lam.shape == (5,) and F.shape == (6, 5)
    np.testing.assert_allclose(lam, [1.0, -0.5, -0.5, -0.5, -0.5], atol=TOL)
    np.testing.assert_allclose(p @ F, 0.0, atol=TOL)  # orthogonal to the constants
    np.testing.assert_allclose(np.abs(F[:, 0]), 1.0, atol=1e-10)


@pytest.mark.parametrize(("kernel", "p", "kwargs", "match"), [
    (np.ones((2, 3)), [0.5, 0.5], {}, "kernel must be square"),
    (np.array([[1.0, 2.0], [0.0, 1.0]]), [0.5, 0.5], {}, "kernel must be symmetric"),
    (np.eye(2), [1.0], {}, "p must have length 2"),
    (np.eye(2), [1.0, 0.0], {}, "p must be strictly positive"),
    (np.eye(2), [0.5, 0.5], {"top": 3}, r"top must be an integer in \[1, 2\]"),
    (np.eye(2), [0.5, 0.5], {"top": 2, "deflate_constants": True},
     r"top must be an integer in \[1, 1\]"),
])
def test_weighted_eigh_rejects_bad_input(kernel, p, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        weighted_eigh(kernel, p, **kwargs)


def test_orthonormal_completion() -> None:
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.full(7, 3.0))
    F = np.linalg.qr(np.sqrt(p)[:, None] * rng.standard_normal((7, 3)))[0] / np.sqrt(p)[:, None]
    B = orthonormal_completion(F, p)
    assert B.shape == (7, 7)
    np.testing.assert_array_equal(B[:, :3], F)
    np.testing.assert_allclose(B.T @ (p[:, None] * B), np.eye(7), atol=TOL)
    extra = B[:, 3:]
    assert np.all(extra[np.argmax(np.abs(extra), axis=0), np.arange(4)] > 0)
    assert orthonormal_completion(B, p).shape == (7, 7)  # already complete: nothing added


def test_sign_convention() -> None:
    V = np.array([[0.5, -0.5, 0.0, -0.1],
                  [-0.5, 0.2, 0.0, -0.9],
                  [0.1, 0.5, 0.0, 0.3]])
    # largest |.| first on ties (rows 0 and 1 tie in column 0), a zero column keeps its sign
    np.testing.assert_array_equal(column_signs(V), [1.0, -1.0, 1.0, -1.0])
    F = fix_signs(V)
    np.testing.assert_array_equal(F, V * [1.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(fix_signs(-V), F)  # the convention removes the sign
    assert column_signs(np.zeros((3, 0))).shape == (0,)


def test_dense_and_as_rng() -> None:
    m = sp.csr_matrix(np.array([[0.0, 2.0], [1.0, 0.0]]))
    out = dense(m)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0.0, 2.0], [1.0, 0.0]])
    assert dense([[1, 2]]).dtype == np.float64
    g = np.random.default_rng(3)
    assert as_rng(g) is g
    assert as_rng(7).random() == np.random.default_rng(7).random()
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, inf\], got -1"):
        as_rng(-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        as_rng(1.5)


def test_check_table_and_as_numpy() -> None:
    import torch

    x = torch.ones(3, 2, dtype=torch.float64, requires_grad=True)
    assert isinstance(as_numpy(x), np.ndarray) and as_numpy([1]) == [1]
    np.testing.assert_array_equal(check_table("x", x), np.ones((3, 2)))
    assert check_table("f", [1.0, 2.0, 3.0], rows=3).shape == (3, 1)  # 1-D: one column
    with pytest.raises(ValueError, match=r"psi must have 4 rows \(one per context value\), got "
                                         r"shape \(3, 1\)"):
        check_table("psi", [1.0, 2.0, 3.0], rows=4, what="context value")
    with pytest.raises(ValueError, match="F must contain only finite values"):
        check_table("F", [[np.nan]])
