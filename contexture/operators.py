"""Kernels (Definition 1) and operators (Definition 2) of a finite contexture.

Conventions: functions on X are length-N vectors ``f[i] = f(x_i)``, functions on A length-M
vectors; inner products are those of L2(P_X) and L2(P_A). Matrices are dense for dense contexts
and scipy CSR for sparse ones; ``matrix_free=True`` returns a scipy ``LinearOperator`` that never
forms an N x N or M x M product (use it for large KNN contexts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from contexture.base.linalg import Matrix, scale_cols, scale_rows

if TYPE_CHECKING:  # pragma: no cover
    from contexture.contexts.finite import Context

__all__ = [
    "adjoint_operator",
    "chi_square",
    "expectation_operator",
    "kernel_a",
    "kernel_a_operator",
    "kernel_x",
    "kernel_x_operator",
]


def _dense_or_csr(m: Matrix) -> Matrix:
    return sp.csr_matrix(m) if sp.issparse(m) else np.asarray(m)


def kernel_x(context: Context) -> Matrix:
    """Gram matrix ``K[i, k] = k_X^+(x_i, x_k) = sum_a P+(a|x_i) P+(a|x_k) / P_A(a)``.

    Definition 1 (dual kernel), in the equivalent form used in App. F. N x N, dense or CSR.
    Chapter ``ch01_contexts`` and every chapter that takes kernel PCA on a sample.
    """
    p = context.conditional
    return _dense_or_csr(scale_cols(p, 1.0 / context.pa) @ p.T)


def kernel_a(context: Context) -> Matrix:
    """Gram ``K[j, l] = k_A^+(a_j, a_l) = sum_x P_X(x) P+(a_j|x) P+(a_l|x) / (P_A(a_j) P_A(a_l))``.

    Definition 1 (positive-pair kernel). M x M, dense or CSR. Chapters ``ch01_contexts`` and
    ``ch05_optimality``.
    """
    pt = scale_cols(context.conditional, 1.0 / context.pa)
    return _dense_or_csr(pt.T @ scale_rows(pt, context.px))


def _op(shape: tuple[int, int], fwd, adj) -> LinearOperator:
    return LinearOperator(shape, matvec=fwd, rmatvec=adj, matmat=fwd, rmatmat=adj,
                          dtype=np.float64)


def expectation_operator(context: Context, *, matrix_free: bool = False) -> Matrix | LinearOperator:
    """T_{P+}: L2(P_A) -> L2(P_X), ``(T g)(x_i) = sum_j P+(a_j | x_i) g(a_j) = E[g(A) | x_i]``.

    Definition 2. As a matrix it is the conditional itself (N x M). The ``LinearOperator``'s
    ``rmatvec`` is the Euclidean transpose, *not* the L2 adjoint (see :func:`adjoint_operator`).
    """
    p = context.conditional
    if not matrix_free:
        return _dense_or_csr(p.copy())
    return _op(p.shape, lambda g: p @ g, lambda f: p.T @ f)


def adjoint_operator(context: Context, *, matrix_free: bool = False) -> Matrix | LinearOperator:
    """T*_{P+}: L2(P_X) -> L2(P_A), ``(T* f)(a) = sum_x f(x) P+(a|x) P_X(x) / P_A(a) = E[f(X)|a]``.

    Definition 2. As a matrix: ``diag(1/pa) P^T diag(px)`` (M x N); it satisfies
    ``<T g, f>_{P_X} = <g, T* f>_{P_A}``.
    """
    p, px, pa = context.conditional, context.px, context.pa
    if not matrix_free:
        return _dense_or_csr(scale_cols(scale_rows(p.T, 1.0 / pa), px))

    def fwd(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        w = px if f.ndim == 1 else px[:, None]
        out = p.T @ (w * f)
        return out / (pa if f.ndim == 1 else pa[:, None])

    def adj(g: np.ndarray) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64)
        w = pa if g.ndim == 1 else pa[:, None]
        out = p @ (g / w)
        return out * (px if g.ndim == 1 else px[:, None])

    return _op((p.shape[1], p.shape[0]), fwd, adj)


def kernel_x_operator(context: Context, *, matrix_free: bool = False) -> Matrix | LinearOperator:
    """Integral operator of k_X^+ on L2(P_X): ``(T_{k_X} f)(x) = sum_x' k_X^+(x,x') f(x') P_X(x')``.

    Definition 2; equals T T* (checked in tests). Matrix ``kernel_x(context) @ diag(px)``
    (N x N); matrix-free it applies T(T* f) at cost O(nnz(P)).
    """
    if not matrix_free:
        return _dense_or_csr(scale_cols(kernel_x(context), context.px))
    t = expectation_operator(context, matrix_free=True)
    ts = adjoint_operator(context, matrix_free=True)
    n = context.shape[0]
    return _op((n, n), lambda f: t @ (ts @ f), lambda f: ts.T @ (t.T @ f))


def kernel_a_operator(context: Context, *, matrix_free: bool = False) -> Matrix | LinearOperator:
    """Integral operator of k_A^+ on L2(P_A): ``(T_{k_A} g)(a) = sum_a' k_A^+(a,a') g(a') P_A(a')``.

    Definition 2; equals T* T. Matrix ``kernel_a(context) @ diag(pa)`` (M x M).
    """
    if not matrix_free:
        return _dense_or_csr(scale_cols(kernel_a(context), context.pa))
    t = expectation_operator(context, matrix_free=True)
    ts = adjoint_operator(context, matrix_free=True)
    m = context.shape[1]
    return _op((m, m), lambda g: ts @ (t @ g), lambda g: t.T @ (ts.T @ g))


def chi_square(context: Context) -> float:
    """``chi^2(P+ || P_X x P_A) = sum_{x,a} J(x,a)^2 / (P_X(x) P_A(a)) - 1 = sum_{i>=1} s_i^2``.

    The squared Hilbert-Schmidt norm of T minus the trivial pair (Lemma 4 and Parseval); also
    ``E_{P_X}[k_X^+(X, X)] - 1``. Exact, O(nnz). Chapter ``ch07_association_tau`` (Lemma 17).
    """
    p = context.conditional
    if sp.issparse(p):
        coo = p.tocoo()
        val = np.sum(context.px[coo.row] * coo.data**2 / context.pa[coo.col])
    else:
        val = np.sum((context.px[:, None] * p**2) / context.pa[None, :])
    return float(val - 1.0)
