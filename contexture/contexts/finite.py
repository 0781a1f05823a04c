"""Finite contextures: a joint law P+ on N points x_i and M context values a_j (Sec. 1).

Every context in the library, finite or sample-based, is a :class:`Context`: a row-stochastic
conditional matrix ``P[i, j] = P+(a_j | x_i)`` (dense or scipy CSR) together with ``px``. All
kernels, operators and the exact singular system derive from these two arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from contexture.base.checks import check_matrix
from contexture.base.linalg import (
    Matrix,
    as_matrix,
    check_no_empty,
    col_sums,
    row_sums,
    scale_cols,
    scale_rows,
)

if TYPE_CHECKING:  # pragma: no cover
    from contexture.spectra import SingularSystem

__all__ = ["Context", "FiniteContext", "Matrix", "check_context"]

SUM_ATOL = 1e-9
"""Absolute tolerance on ``sum(joint) == 1`` and on each row sum of a conditional."""


class Context:
    """A contexture P+(x, a) on finite spaces X = {x_1..x_N}, A = {a_1..a_M} (Sec. 1).

    Stored as the conditional ``P[i, j] = P+(a_j | x_i)`` (row-stochastic, dense or CSR) and
    ``px = P_X``; ``pa = P_A = px @ P`` and ``joint = diag(px) P``. Build instances with
    :class:`FiniteContext` or the sample-based constructors (``knn_context`` ...), which validate
    their input; the base constructor trusts its arguments.

    Shared interface: :attr:`px`, :attr:`pa`, :attr:`joint`, :attr:`conditional`,
    :meth:`kernel_x`, :meth:`kernel_a` (Definition 1), :meth:`expectation_operator`,
    :meth:`adjoint_operator`, :meth:`kernel_x_operator`, :meth:`kernel_a_operator` (Definition 2),
    :meth:`svd` (Lemmas 3-4), :meth:`chi_square`.
    """

    def __init__(self, conditional: Matrix, px: np.ndarray) -> None:
        self._cond = conditional
        self._px = np.asarray(px, dtype=np.float64)
        pa = (conditional.T @ self._px) if sp.issparse(conditional) else self._px @ conditional
        self._pa = np.asarray(pa, dtype=np.float64).ravel()
        for arr in (self._px, self._pa):
            arr.setflags(write=False)
        if not sp.issparse(conditional):
            conditional.setflags(write=False)

    # -- basic attributes -----------------------------------------------------------------
    @property
    def px(self) -> np.ndarray:
        """P_X as a length-N probability vector (read-only)."""
        return self._px

    @property
    def pa(self) -> np.ndarray:
        """P_A as a length-M probability vector, ``pa = px @ conditional`` (read-only)."""
        return self._pa

    @property
    def conditional(self) -> Matrix:
        """Row-stochastic ``P[i, j] = P+(a_j | x_i)`` (N x M, dense or CSR). Do not modify."""
        return self._cond

    @property
    def joint(self) -> Matrix:
        """The joint ``J[i, j] = P+(x_i, a_j) = px[i] P+(a_j | x_i)`` (N x M; sums to 1)."""
        return scale_rows(self._cond, self._px)

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, M)``: number of points of X and of A."""
        return tuple(int(s) for s in self._cond.shape)  # type: ignore[return-value]

    @property
    def is_sparse(self) -> bool:
        """True when the conditional is stored as scipy CSR."""
        return sp.issparse(self._cond)

    def q_matrix(self) -> Matrix:
        """``Q = diag(px)^{1/2} P diag(pa)^{-1/2}``: the matrix of T in orthonormal coordinates.

        Its singular values are those of T_{P+} (Definition 2); ``sqrt(px)`` / ``sqrt(pa)`` is its
        trivial singular pair with value 1, so the SVD of ``Q`` gives the singular system
        (Lemma 3; see :mod:`contexture.spectra`).
        """
        return scale_cols(scale_rows(self._cond, np.sqrt(self._px)), 1.0 / np.sqrt(self._pa))

    # -- kernels and operators (Definitions 1-2); implemented in contexture.operators --------
    def kernel_x(self) -> Matrix:
        """Gram matrix of the dual kernel k_X^+ on the N points (Definition 1)."""
        from contexture.operators import kernel_x

        return kernel_x(self)

    def kernel_a(self) -> Matrix:
        """Gram matrix of the positive-pair kernel k_A^+ on the M context values (Definition 1)."""
        from contexture.operators import kernel_a

        return kernel_a(self)

    def expectation_operator(self, *, matrix_free: bool = False) -> Matrix | LinearOperator:
        """T_{P+}: L2(P_A) -> L2(P_X), ``(T g)(x) = E[g(A) | x]`` (Definition 2)."""
        from contexture.operators import expectation_operator

        return expectation_operator(self, matrix_free=matrix_free)

    def adjoint_operator(self, *, matrix_free: bool = False) -> Matrix | LinearOperator:
        """T*_{P+}: L2(P_X) -> L2(P_A), ``(T* f)(a) = E[f(X) | a]`` (Definition 2)."""
        from contexture.operators import adjoint_operator

        return adjoint_operator(self, matrix_free=matrix_free)

    def kernel_x_operator(self, *, matrix_free: bool = False) -> Matrix | LinearOperator:
        """Integral operator T_{k_X^+} = T T* on L2(P_X) (Definition 2)."""
        from contexture.operators import kernel_x_operator

        return kernel_x_operator(self, matrix_free=matrix_free)

    def kernel_a_operator(self, *, matrix_free: bool = False) -> Matrix | LinearOperator:
        """Integral operator T_{k_A^+} = T* T on L2(P_A) (Definition 2)."""
        from contexture.operators import kernel_a_operator

        return kernel_a_operator(self, matrix_free=matrix_free)

    def chi_square(self) -> float:
        """chi^2(P+ || P_X x P_A) = sum_{i>=1} s_i^2 (:func:`contexture.operators.chi_square`)."""
        from contexture.operators import chi_square

        return chi_square(self)

    # -- spectrum ------------------------------------------------------------------------
    def svd(
        self,
        d: int,
        *,
        solver: Literal["auto", "dense", "sparse"] = "auto",
        tol: float = 1e-8,
        on_inaccurate: Literal["raise", "warn"] = "raise",
        seed: int | np.random.Generator = 0,
        **options: Any,
    ) -> SingularSystem:
        """Top-d nontrivial singular pairs plus the trivial one (Lemmas 3-4).

        See :func:`contexture.spectra.svd` for the solvers and the accuracy guarantee.
        """
        from contexture.spectra import svd

        return svd(self, d, solver=solver, tol=tol, on_inaccurate=on_inaccurate, seed=seed,
                   **options)

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else "dense"
        return f"{type(self).__name__}(N={self.shape[0]}, M={self.shape[1]}, {kind})"


def check_context(value: Any, name: str = "context") -> Context:
    """Return ``value`` if it is a :class:`Context`, else raise a ``TypeError`` naming ``name``."""
    if not isinstance(value, Context):
        raise TypeError(f"{name} must be a contexture Context (e.g. FiniteContext), "
                        f"got {type(value).__name__}")
    return value


class FiniteContext(Context):
    """A contexture given by its joint matrix ``joint[i, j] = P+(x_i, a_j)`` (Sec. 1, Defs 1-2).

    ``joint`` (N x M, dense or scipy sparse) must be finite, nonnegative, sum to 1 within
    ``atol = 1e-9`` (it is then renormalised exactly), and have no all-zero row (a point of X
    with P_X = 0) or column (a context value with P_A = 0). Use :meth:`from_conditional` to give
    ``P+(a | x)`` and ``P_X`` instead. Chapter ``ch01_contexts`` (Definitions 1-5) and every
    later chapter.
    """

    def __init__(self, joint: Any, *, atol: float = SUM_ATOL) -> None:
        j = as_matrix("joint", joint)
        total = float(j.sum())
        if abs(total - 1.0) > atol:
            raise ValueError(f"joint must sum to 1 (tolerance {atol}), got sum {total!r}")
        px = row_sums(j)
        check_no_empty("joint", px, "row")
        check_no_empty("joint", col_sums(j), "column")
        px = px / total
        super().__init__(scale_rows(j, 1.0 / row_sums(j)), px)

    @classmethod
    def from_conditional(cls, cond: Any, px: Any, *, atol: float = SUM_ATOL) -> FiniteContext:
        """Build from a row-stochastic ``cond[i, j] = P+(a_j | x_i)`` and ``px = P_X``.

        Each row of ``cond`` must sum to 1 and ``px`` must be a probability vector, both within
        ``atol = 1e-9``; ``px`` must be strictly positive and no column of ``cond`` may be empty.
        """
        c = as_matrix("cond", cond)
        p = check_matrix("px", px, ndim=1, nonnegative=True)
        if p.shape[0] != c.shape[0]:
            raise ValueError(f"px must have length cond.shape[0] = {c.shape[0]}, "
                             f"got length {p.shape[0]}")
        total = float(p.sum())
        if abs(total - 1.0) > atol:
            raise ValueError(f"px must sum to 1 (tolerance {atol}), got sum {total!r}")
        zero = np.flatnonzero(p <= 0)
        if zero.size:
            raise ValueError(f"px must be strictly positive, got px[{int(zero[0])}] = "
                             f"{float(p[zero[0]])!r}")
        rows = row_sums(c)
        bad = np.flatnonzero(np.abs(rows - 1.0) > atol)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"cond must be row-stochastic: each row must sum to 1 (tolerance "
                             f"{atol}), got row {i} summing to {rows[i]!r}")
        check_no_empty("cond", col_sums(c), "column")
        return cls._trusted(scale_rows(c, 1.0 / rows), p / total)

    @classmethod
    def _trusted(cls, cond: Matrix, px: np.ndarray) -> FiniteContext:
        obj = cls.__new__(cls)
        Context.__init__(obj, cond, px)
        return obj
