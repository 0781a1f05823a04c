"""The paper's training objectives as torch functions (Sec. 3; arXiv v2 numbering).

Every loss comes in up to two forms:

* **population form** on a finite context, given as a joint matrix ``J`` (``N x M``, entries
  ``>= 0``, sum 1) with marginals ``px = J.sum(1)``, ``pa = J.sum(0)`` and conditional
  ``P(a|x) = J / px[:, None]`` (the matrix of the expectation operator ``T``, Definition 2).
  The encoder is a table of values on the ``N`` points of X (``phi``, ``N x d``) or on the
  ``M`` points of A (``psi``, ``M x d``), and every expectation is computed exactly;
* **batch form** (suffix ``_batch``) on sampled pairs, for neural training: rows ``i`` of the
  two arguments are a positive pair, and the other rows of the batch act as independent draws.

Constrained objectives (``Cov = I``) are parametrised by whitening (:func:`whiten`), so any
full-rank table is a feasible point. Closed-form minima (from the proofs of Theorems 6, 8, 10
and 12, written out at each function) are provided as the ``*_minimum`` functions; they take
spectra in the library's convention (descending, the trivial value ``s_0 = 1`` at index 0).
Chapters ``ch02_supervised`` (Theorems 6-8), ``ch03_self_supervised`` (Theorems 10-11) and
``ch04_manifold`` (Theorem 12).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from contexture.base.checks import (
    as_numpy,
    check_choice,
    check_float,
    check_int,
    check_matrix,
    check_probability_vector,
)

__all__ = [
    "VICREG_INVARIANCE",
    "balanced_risk",
    "dae_risk",
    "dae_risk_batch",
    "laplacian_eigenmaps_loss",
    "laplacian_eigenmaps_loss_batch",
    "laplacian_eigenmaps_minimum",
    "lora_loss",
    "lora_loss_batch",
    "lora_minimum",
    "non_contrastive_loss",
    "non_contrastive_loss_batch",
    "non_contrastive_minimum",
    "spectral_contrastive_loss",
    "spectral_contrastive_loss_batch",
    "spectral_contrastive_minimum",
    "supervised_kernel",
    "supervised_minimum",
    "supervised_risk",
    "supervised_risk_batch",
    "vicreg_loss",
    "vicreg_loss_batch",
    "whiten",
]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------

def _check_table(name: str, value: Any, *, rows: int | None = None, what: str = "",
                 min_rows: int = 1) -> torch.Tensor:
    """A floating torch tensor of shape (rows, d), finite; 1-D input is read as one column."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), "
                        f"got {value.dtype}")
    if value.ndim == 1:
        value = value[:, None]
    if value.ndim != 2:
        raise ValueError(f"{name} must be a 1-D or 2-D tensor, got shape {tuple(value.shape)}")
    if value.shape[0] < min_rows or value.shape[1] == 0:
        raise ValueError(f"{name} must have at least {min_rows} rows and 1 column, "
                         f"got shape {tuple(value.shape)}")
    if rows is not None and value.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows{what}, got shape {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return value


def _same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def _joint(J: Any, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate a joint matrix and return ``(J, px, pa)`` as tensors matching ``like``."""
    arr = check_matrix("J", as_numpy(J), nonnegative=True)
    total = float(arr.sum())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"J must sum to 1 (tolerance 1e-09), got sum {total!r}")
    for axis, label, side in ((1, "px = J.sum(1)", "row"), (0, "pa = J.sum(0)", "column")):
        marg = arr.sum(axis)
        if np.any(marg <= 0):
            i = int(np.argmin(marg))
            raise ValueError(f"J must have positive marginals, but {label} is {marg[i]!r} at "
                             f"index {i} (drop empty {side}s)")
    Jt = torch.as_tensor(arr, dtype=like.dtype, device=like.device)
    return Jt, Jt.sum(1), Jt.sum(0)


def _values(name: str, value: Any, rows: int, like: torch.Tensor) -> torch.Tensor:
    arr = np.asarray(as_numpy(value), dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    arr = check_matrix(name, arr)
    if arr.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got shape {arr.shape}")
    return torch.as_tensor(arr, dtype=like.dtype, device=like.device)


def _spectrum(name: str, value: Any, *, need: int, what: str) -> np.ndarray:
    arr = check_matrix(name, as_numpy(value), ndim=1)
    if np.any(np.diff(arr) > 1e-12 * max(1.0, float(np.abs(arr).max()))):
        raise ValueError(f"{name} must be sorted in descending order ({what})")
    if arr.size < need:
        raise ValueError(f"{name} must have at least {need} entries for this d ({what}), "
                         f"got {arr.size}")
    return arr


# --------------------------------------------------------------------------------------------
# whitening (the orthonormality constraint)
# --------------------------------------------------------------------------------------------

def whiten(table: torch.Tensor, p: Any | None = None) -> torch.Tensor:
    """Centre ``table`` under the weights ``p`` and whiten it: ``Cov_p = I`` (Cholesky).

    This parametrises the constraint ``Cov[Psi] = I`` of ``L_N`` (Sec. 3.2, Theorem 10) and
    of Eq. (3) (Theorem 12): for a full-rank table ``F`` it returns ``(F - E_p F) L^{-T}``
    with ``L L^T = Cov_p[F]``, a differentiable map onto the feasible set. The objectives are
    rotation-invariant, so the choice of whitening (Cholesky rather than ``C^{-1/2}``) does not
    change their values. ``p`` defaults to uniform weights (batch use).
    """
    F = _check_table("table", table, min_rows=2)
    n = F.shape[0]
    if p is None:
        w = torch.full((n,), 1.0 / n, dtype=F.dtype, device=F.device)
    else:
        atol = 1e-9 if F.dtype == torch.float64 else 1e-5
        arr = check_probability_vector("p", as_numpy(p), atol=atol)
        if arr.shape[0] != n:
            raise ValueError(f"p must have length {n} (one weight per row of table), "
                             f"got {arr.shape[0]}")
        w = torch.as_tensor(arr, dtype=F.dtype, device=F.device)
    return _whiten(F, w)


def _whiten(F: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    Fc = F - w @ F
    C = Fc.T @ (w[:, None] * Fc)
    L, info = torch.linalg.cholesky_ex(C)
    if int(info) != 0:
        raise ValueError(f"table must have a positive-definite covariance to be whitened, but "
                         f"its {F.shape[1]}x{F.shape[1]} covariance is singular "
                         f"(rank-deficient columns)")
    return torch.linalg.solve_triangular(L, Fc.T, upper=False).T


# --------------------------------------------------------------------------------------------
# supervised risk, Eq. (1), and the denoising autoencoder, Eq. (2)
# --------------------------------------------------------------------------------------------

def _head_risk(F: torch.Tensor, r: torch.Tensor, c: torch.Tensor, Y: torch.Tensor,
               cross: torch.Tensor, bias: bool, ridge: float) -> torch.Tensor:
    """min_{W,b} sum_ij Wt[i,j] ||W F_i + b - Y_j||^2 + ridge ||W||_F^2, where r, c are the row
    and column sums of the coupling Wt and ``cross(Fc, Yc) = Fc^T Wt Yc`` is supplied lazily."""
    if bias:
        total = r.sum()
        F = F - (r @ F) / total
        Y = Y - (c @ Y) / total
    G = F.T @ (r[:, None] * F)
    H = cross(F, Y)
    if ridge > 0:
        G = G + ridge * torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
    second = (c[:, None] * Y * Y).sum()
    return second - (H * torch.linalg.solve(G, H)).sum()


def supervised_risk(phi: torch.Tensor, J: Any, targets: Any | None = None, *, bias: bool = True,
                    weights: Any | None = None, ridge: float = 0.0) -> torch.Tensor:
    """Population MSE risk of Eq. (1) with the linear head solved in closed form.

    ``R(Phi) = min_{W, b} E_{(X,A)~P+} w(A) ||W Phi(X) + b - A||^2`` on a finite context. ``phi``
    (``N x d``) is the encoder on the points of X; ``targets`` (``M x d_A``) is the value of the
    label ``A`` at each context point, one-hot (identity) by default, which is the setting of
    Theorem 6; real targets give Theorem 8. ``bias=False`` fixes ``b = 0`` (the "unbiased" head).
    ``weights`` (length ``M``) is an importance weight ``w(a)`` (default 1; see
    :func:`balanced_risk`). ``ridge`` adds ``ridge * ||W||_F^2`` (the bias is not penalised).
    The minimiser over ``Phi`` spans the top-``d`` eigenspace of the Lemma-18 operator
    :func:`supervised_kernel`, with minimum :func:`supervised_minimum`. Chapter ``ch02_supervised``.
    """
    F = _check_table("phi", phi)
    Jt, px, pa = _joint(J, F)
    N, M = Jt.shape
    if F.shape[0] != N:
        raise ValueError(f"phi must have {N} rows (one per point x of J), "
                         f"got shape {tuple(F.shape)}")
    Y = (torch.eye(M, dtype=F.dtype, device=F.device) if targets is None
         else _values("targets", targets, M, F))
    ridge = check_float("ridge", ridge, lo=0.0)
    if weights is not None:
        w = _values("weights", weights, M, F)[:, 0]
        if bool((w < 0).any()):
            raise ValueError("weights must be nonnegative")
        Jt = Jt * w[None, :]
    r, c = Jt.sum(1), Jt.sum(0)
    return _head_risk(F, r, c, Y, lambda Fc, Yc: Fc.T @ (Jt @ Yc), bool(bias), ridge)


def balanced_risk(phi: torch.Tensor, J: Any, *, bias: bool = True,
                  ridge: float = 0.0) -> torch.Tensor:
    """Class-balanced risk ``R_bal`` (before Theorem 7): Eq. (1) weighted by ``P_A(A)^{-1/2}``.

    One-hot labels, linear head in closed form (biased by default, as in Theorem 7). Caveat to
    Theorem 7: with randomised and imbalanced labels the minimiser is a generalised
    eigenproblem weighted by ``c(x) = E[P_A(A)^{-1/2} | x]``, not the contexture (its proof
    takes ``c`` constant).
    Chapter ``ch02_supervised``.
    """
    F = _check_table("phi", phi)
    _, _, pa = _joint(J, F)
    return supervised_risk(F, J, bias=bias, weights=pa.rsqrt(), ridge=ridge)


def supervised_kernel(J: Any, targets: Any | None = None, *, bias: bool = False) -> np.ndarray:
    """Kernel of the operator ``T Lambda T*`` of Lemma 18 (Theorems 6 and 8), as an ``N x N`` array.

    ``k(x, x') = <m(x), m(x')>`` with ``m(x) = E[A | x]`` (one-hot ``targets`` by default, so
    ``k = sum_a P(a|x) P(a|x')``, Theorem 6); with ``bias=True`` the targets are centred under
    ``P_A`` (the centred linear loss kernel of Theorem 8). The operator acts on
    ``L^2(P_X)`` as ``f -> k @ (px * f)``; its top-``d`` eigenspace is the minimiser of
    :func:`supervised_risk`. For Eq. (2) / Theorem 11 pass ``J.T`` and the input values, giving
    the kernel of ``T* Lambda T`` on the context points. Chapter ``ch02_supervised``.
    """
    arr = check_matrix("J", as_numpy(J), nonnegative=True)
    like = torch.zeros((), dtype=torch.float64)
    Jt, px, pa = _joint(arr, like)
    Y = (torch.eye(Jt.shape[1], dtype=torch.float64) if targets is None
         else _values("targets", targets, Jt.shape[1], like))
    if bias:
        Y = Y - pa @ Y
    m = (Jt / px[:, None]) @ Y
    return (m @ m.T).numpy()


def supervised_minimum(kernel_eigenvalues: Any, second_moment: float, d: int) -> float:
    """Minimum of Eq. (1) over ``d``-dimensional encoders: ``E||A||^2 - sum_{j<d} lambda_j``.

    ``kernel_eigenvalues`` are the eigenvalues (descending) of the Lemma-18 operator
    (:func:`supervised_kernel`) and ``second_moment`` is ``E||A||^2`` (1 for one-hot labels; use
    ``E||A - E A||^2`` with ``bias=True``). Theorems 6 and 8 (from their proofs). Chapter
    ``ch02_supervised``.
    """
    d = check_int("d", d, lo=1)
    lam = _spectrum("kernel_eigenvalues", kernel_eigenvalues, need=d,
                    what="eigenvalues of T Lambda T*")
    second_moment = check_float("second_moment", second_moment, lo=0.0)
    return float(second_moment - lam[:d].sum())


def supervised_risk_batch(phi: torch.Tensor, targets: torch.Tensor, *, bias: bool = True,
                          weights: torch.Tensor | None = None,
                          ridge: float = 0.0) -> torch.Tensor:
    """Batch form of Eq. (1): ``min_{W,b} (1/n) sum_i w_i ||W phi_i + b - y_i||^2`` in closed form.

    ``phi`` (``n x d``) and ``targets`` (``n x d_A`` or length ``n``) are paired rows; the head
    is refitted on the batch (differentiably). ``weights`` are per-sample importance weights, e.g.
    ``pa[a_i] ** -0.5`` for the class-balanced risk of Theorem 7. Chapter ``ch02_supervised``.
    """
    F = _check_table("phi", phi)
    Y = _check_table("targets", targets, rows=F.shape[0], what=" (one per row of phi)")
    n = F.shape[0]
    if weights is None:
        w = torch.full((n,), 1.0 / n, dtype=F.dtype, device=F.device)
    else:
        w = _check_table("weights", weights, rows=n, what=" (one per row of phi)")[:, 0] / n
        if bool((w < 0).any()):
            raise ValueError("weights must be nonnegative")
    ridge = check_float("ridge", ridge, lo=0.0)
    return _head_risk(F, w, w, Y, lambda Fc, Yc: Fc.T @ (w[:, None] * Yc), bool(bias), ridge)


def dae_risk(psi: torch.Tensor, J: Any, x_values: Any, *, bias: bool = True,
             ridge: float = 0.0) -> torch.Tensor:
    """Denoising-autoencoder risk, Eq. (2), with the linear decoder solved in closed form.

    ``R(Psi) = min_{W,b} E_{(X,A)~P+} ||W Psi(A) + b - X||^2``: ``psi`` (``M x d``) encodes the
    corrupted input ``A``, ``x_values`` (``N x d_X``) are the clean inputs. By Theorem 11 the
    minimiser's centred span is the top-``d`` eigenspace of ``T* Lambda T`` with the (centred if
    ``bias``) linear kernel on X: ``supervised_kernel(J.T, x_values, bias=bias)``, acting on
    ``L^2(P_A)``. Chapter ``ch03_self_supervised``.
    """
    F = _check_table("psi", psi)
    arr = check_matrix("J", as_numpy(J), nonnegative=True)
    if F.shape[0] != arr.shape[1]:
        raise ValueError(f"psi must have {arr.shape[1]} rows (one per point a of J), "
                         f"got shape {tuple(F.shape)}")
    return supervised_risk(F, arr.T, x_values, bias=bias, ridge=ridge)


def dae_risk_batch(psi: torch.Tensor, x: torch.Tensor, *, bias: bool = True,
                   ridge: float = 0.0) -> torch.Tensor:
    """Batch form of Eq. (2): decoder ``W psi_i + b ~ x_i`` refitted in closed form (Theorem 11).

    Chapter ``ch03_self_supervised``.
    """
    return supervised_risk_batch(psi, x, bias=bias, ridge=ridge)


# --------------------------------------------------------------------------------------------
# multi-view self-supervised losses (Sec. 3.2, Theorem 10)
# --------------------------------------------------------------------------------------------

def _psi_context(psi: torch.Tensor, J: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                     torch.Tensor]:
    F = _check_table("psi", psi)
    Jt, px, pa = _joint(J, F)
    if F.shape[0] != Jt.shape[1]:
        raise ValueError(f"psi must have {Jt.shape[1]} rows (one per point a of J), "
                         f"got shape {tuple(F.shape)}")
    return F, Jt / px[:, None], px, pa


def spectral_contrastive_loss(psi: torch.Tensor, J: Any) -> torch.Tensor:
    """Population spectral contrastive loss ``L_C`` (Sec. 3.2, Theorem 10).

    ``L_C = E[-<Psi~(A), Psi~(A+)> + 1/2 <Psi~(A), Psi~(A-)>^2]`` with ``A, A+ ~ P+(.|x)``
    independent, ``A- ~ P_A`` independent, and ``Psi~ = Psi - E_{P_A} Psi``. Exactly,
    ``L_C = -||T Psi~||^2_{P_X} + 1/2 ||Cov_{P_A}[Psi]||_F^2``. The minimum is
    ``-1/2 sum_{i<=d} s_i^4`` (:func:`spectral_contrastive_minimum`); the paper's proof drops the
    factor 1/2, which does not change the minimisers. Chapter ``ch03_self_supervised``.
    """
    F, T, px, pa = _psi_context(psi, J)
    Fc = F - pa @ F
    phi = T @ Fc
    C = Fc.T @ (pa[:, None] * Fc)
    return -(px[:, None] * phi * phi).sum() + 0.5 * (C * C).sum()


def spectral_contrastive_minimum(s: Any, d: int) -> float:
    """``min L_C = -1/2 sum_{i=1}^{d} s_i^4`` (from the proof of Theorem 10).

    ``s`` are the singular values, descending, with the trivial ``s_0 = 1`` at index 0.
    """
    d = check_int("d", d, lo=1)
    s = _spectrum("s", s, need=d + 1, what="singular values with s_0 = 1 at index 0")
    return float(-0.5 * np.sum(s[1:d + 1] ** 4))


def spectral_contrastive_loss_batch(z: torch.Tensor, z_pos: torch.Tensor) -> torch.Tensor:
    """Batch estimate of ``L_C`` (Sec. 3.2) from ``n >= 2`` positive pairs ``(z_i, z_pos_i)``.

    Centring uses the mean of both views; the negative term averages
    ``<z~_i, z~pos_j>^2`` over the ``n(n-1)`` pairs ``i != j`` (independent draws of ``P_A``),
    computed in ``O(n d^2)``. Chapter ``ch03_self_supervised``.
    """
    a = _check_table("z", z, min_rows=2)
    b = _check_table("z_pos", z_pos, min_rows=2)
    _same_shape("z", a, "z_pos", b)
    n = a.shape[0]
    m = 0.5 * (a.mean(0) + b.mean(0))
    a, b = a - m, b - m
    diag = (a * b).sum(1)
    neg = ((a.T @ a) * (b.T @ b)).sum() - (diag * diag).sum()
    return -diag.mean() + 0.5 * neg / (n * (n - 1))


def non_contrastive_loss(psi: torch.Tensor, J: Any, *, whiten_psi: bool = True) -> torch.Tensor:
    """Population non-contrastive loss ``L_N = E||Psi(A)-Psi(A+)||^2``, ``Cov_{P_A}[Psi] = I``.

    Sec. 3.2, Theorem 10. With ``whiten_psi=True`` (default) the constraint is imposed exactly
    by evaluating the loss at :func:`whiten` ``(psi, pa)``, so any full-rank ``psi`` is a
    feasible parameter; with ``False`` the raw objective is returned (the caller guarantees the
    constraint). Exactly ``E||Psi(A)-Psi(A+)||^2 = 2 E||Psi(A)||^2 - 2 ||T Psi||^2_{P_X}``, which
    is ``2d - 2||T Psi~||^2`` on the feasible set (the paper's "constant 2d" differs by a factor
    2; the minimisers are unaffected). Minimum ``2 sum_{i<=d}(1 - s_i^2)``
    (:func:`non_contrastive_minimum`). Chapter ``ch03_self_supervised``.
    """
    F, T, px, pa = _psi_context(psi, J)
    if whiten_psi:
        F = _whiten(F, pa)
    phi = T @ F
    return 2.0 * (pa[:, None] * F * F).sum() - 2.0 * (px[:, None] * phi * phi).sum()


def non_contrastive_minimum(s: Any, d: int) -> float:
    """``min L_N = 2 sum_{i=1}^{d} (1 - s_i^2)`` under ``Cov = I`` (from the proof of Theorem 10).

    ``s`` are the singular values, descending, with the trivial ``s_0 = 1`` at index 0.
    """
    d = check_int("d", d, lo=1)
    s = _spectrum("s", s, need=d + 1, what="singular values with s_0 = 1 at index 0")
    return float(2.0 * np.sum(1.0 - s[1:d + 1] ** 2))


def non_contrastive_loss_batch(z: torch.Tensor, z_pos: torch.Tensor, *,
                               whiten_z: bool = True) -> torch.Tensor:
    """Batch ``L_N``: ``(1/n) sum_i ||z_i - z_pos_i||^2`` after whitening both views jointly.

    The whitening (Sec. 3.2 constraint) uses the mean and covariance of the ``2n`` rows of both
    views, which share the marginal ``P_A``. Chapter ``ch03_self_supervised``.
    """
    a = _check_table("z", z, min_rows=2)
    b = _check_table("z_pos", z_pos, min_rows=2)
    _same_shape("z", a, "z_pos", b)
    if whiten_z:
        ab = whiten(torch.cat([a, b]))
        a, b = ab[: a.shape[0]], ab[a.shape[0]:]
    return ((a - b) ** 2).sum(1).mean()


def _vicreg_terms(C: torch.Tensor, gamma: float, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    d = C.shape[0]
    var = torch.relu(gamma - torch.sqrt(torch.diagonal(C) + eps)).mean()
    off = C - torch.diag(torch.diagonal(C))
    return var, (off * off).sum() / d


VICREG_INVARIANCE = ("sum", "mean")
"""Conventions of the VICReg invariance term: summed or averaged over the output dimensions."""


def _invariance_divisor(invariance: str, d: int) -> float:
    check_choice("invariance", invariance, list(VICREG_INVARIANCE))
    return float(d) if invariance == "mean" else 1.0


def _vicreg_args(inv_coeff: float, var_coeff: float, cov_coeff: float, gamma: float,
                 eps: float) -> tuple[float, float, float, float, float]:
    return (check_float("inv_coeff", inv_coeff, lo=0.0),
            check_float("var_coeff", var_coeff, lo=0.0),
            check_float("cov_coeff", cov_coeff, lo=0.0),
            check_float("gamma", gamma, lo=0.0),
            check_float("eps", eps, lo=0.0))


def vicreg_loss(psi: torch.Tensor, J: Any, *, inv_coeff: float = 25.0, var_coeff: float = 25.0,
                cov_coeff: float = 1.0, gamma: float = 1.0, eps: float = 1e-4,
                invariance: str = "sum") -> torch.Tensor:
    """Population VICReg loss (Bardes et al. 2022), the surrogate of ``L_N`` of Sec. 3.2.

    ``inv_coeff * E||Psi(A) - Psi(A+)||^2 + var_coeff * [v + v'] + cov_coeff * [c + c']`` with
    ``v = (1/d) sum_j max(0, gamma - sqrt(Var[psi_j] + eps))`` and
    ``c = (1/d) sum_{i != j} Cov[psi_i, psi_j]^2`` under ``P_A``; both views have marginal
    ``P_A``, so ``v = v'`` and ``c = c'``. Defaults are Bardes et al.'s (25, 25, 1, 1, 1e-4).
    ``invariance`` is the convention of the invariance term (see :func:`vicreg_loss_batch`):
    ``"sum"`` (default) sums the squared distance over the ``d`` output dimensions, ``"mean"``
    averages it over them (Bardes et al.'s reference implementation), i.e. ``inv_coeff / d``.
    At a feasible point of ``L_N`` (``Cov = I``) the penalties vanish and the loss is
    ``inv_coeff * L_N`` (``"sum"``). Sec. 3.2 / Theorem 10. Chapters ``ch03_self_supervised``
    and ``ch12_model_size``.
    """
    F, T, px, pa = _psi_context(psi, J)
    ci, cv, cc, gamma, eps = _vicreg_args(inv_coeff, var_coeff, cov_coeff, gamma, eps)
    ci = ci / _invariance_divisor(invariance, F.shape[1])
    phi = T @ F
    inv = 2.0 * (pa[:, None] * F * F).sum() - 2.0 * (px[:, None] * phi * phi).sum()
    Fc = F - pa @ F
    var, cov = _vicreg_terms(Fc.T @ (pa[:, None] * Fc), gamma, eps)
    return ci * inv + 2.0 * (cv * var + cc * cov)


def vicreg_loss_batch(z: torch.Tensor, z_pos: torch.Tensor, *, inv_coeff: float = 25.0,
                      var_coeff: float = 25.0, cov_coeff: float = 1.0, gamma: float = 1.0,
                      eps: float = 1e-4, invariance: str = "sum") -> torch.Tensor:
    """VICReg on a batch of positive pairs, as defined in Bardes et al. (2022), Eqs. (1)-(6).

    ``inv_coeff * s(Z, Z') + var_coeff * [v(Z) + v(Z')] + cov_coeff * [c(Z) + c(Z')]`` with
    ``v(Z) = (1/d) sum_j max(0, gamma - sqrt(Var(z^j)+eps))`` and
    ``c(Z) = (1/d) sum_{i != j} C(Z)_{ij}^2`` (unbiased variance and covariance, ``n - 1``).
    The invariance ``s`` follows the convention ``invariance``:

    * ``"sum"`` (default; as written in Bardes et al.'s paper): ``s = (1/n) sum_i
      ||z_i - z'_i||^2``, summed over the ``d`` output dimensions;
    * ``"mean"`` (Bardes et al.'s reference implementation, ``F.mse_loss``): the same divided by
      ``d``, i.e. ``inv_coeff / d`` with ``"sum"``.

    With ``d`` large (e.g. the ``d1 = 512`` outputs of Fig. 1) the summed invariance outweighs
    the per-dimension-averaged variance and covariance penalties ``d``-fold, which favours
    collapsed output dimensions (chapter ``ch12_model_size`` measures it). The official code
    also halves the variance term: use ``var_coeff / 2`` to match it fully. Surrogate of
    ``L_N`` (Sec. 3.2; the experiments of Sec. 4.2 and App. D train with it). Chapters
    ``ch03_self_supervised`` and ``ch12_model_size``.
    """
    a = _check_table("z", z, min_rows=2)
    b = _check_table("z_pos", z_pos, min_rows=2)
    _same_shape("z", a, "z_pos", b)
    ci, cv, cc, gamma, eps = _vicreg_args(inv_coeff, var_coeff, cov_coeff, gamma, eps)
    ci = ci / _invariance_divisor(invariance, a.shape[1])
    inv = ((a - b) ** 2).sum(1).mean()
    total = inv.new_zeros(())
    n = a.shape[0]
    for v in (a, b):
        vc = v - v.mean(0)
        var, cov = _vicreg_terms(vc.T @ vc / (n - 1), gamma, eps)
        total = total + cv * var + cc * cov
    return ci * inv + total


# --------------------------------------------------------------------------------------------
# asymmetric ("LoRA") spectral contrastive loss (not in the paper; minimum by Eckart-Young)
# --------------------------------------------------------------------------------------------

def lora_loss(phi: torch.Tensor, psi: torch.Tensor, J: Any) -> torch.Tensor:
    """Asymmetric spectral contrastive ("LoRA") loss on a finite context.

    ``-2 E_{P+}[Phi(X)^T Psi(A)] + E_{P_X (x) P_A}[(Phi(X)^T Psi(A))^2]``, two encoders
    (``phi``: ``N x d``, ``psi``: ``M x d``). It equals
    ``||D_x^{1/2} Phi Psi^T D_a^{1/2} - Q||_F^2 - ||Q||_F^2`` with
    ``Q = D_x^{-1/2} J D_a^{-1/2}``, so by Eckart-Young the optimum
    ``Phi^T Psi = sum_{i<d} s_i mu_i nu_i`` is the rank-``d`` truncation of the density ratio
    ``P+/(P_X P_A)`` (Lemma 4), constant mode included; minimum ``-sum_{i=0}^{d-1} s_i^2``
    (:func:`lora_minimum`). Chapter ``ch03_self_supervised``.
    """
    F = _check_table("phi", phi)
    G = _check_table("psi", psi)
    Jt, px, pa = _joint(J, F)
    if F.shape[0] != Jt.shape[0] or G.shape[0] != Jt.shape[1] or F.shape[1] != G.shape[1]:
        raise ValueError(f"phi and psi must have shapes ({Jt.shape[0]}, d) and ({Jt.shape[1]}, d) "
                         f"for J of shape {tuple(Jt.shape)}, got {tuple(F.shape)} and "
                         f"{tuple(G.shape)}")
    pos = (F * (Jt @ G)).sum()
    neg = ((F.T @ (px[:, None] * F)) * (G.T @ (pa[:, None] * G))).sum()
    return -2.0 * pos + neg


def lora_minimum(s: Any, d: int) -> float:
    """``min = -sum_{i=0}^{d-1} s_i^2`` of :func:`lora_loss` (Eckart-Young; the constant counts).

    ``s`` are the singular values, descending, with the trivial ``s_0 = 1`` at index 0.
    """
    d = check_int("d", d, lo=1)
    s = _spectrum("s", s, need=d, what="singular values with s_0 = 1 at index 0")
    return float(-np.sum(s[:d] ** 2))


def lora_loss_batch(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Batch "LoRA" loss from ``n >= 2`` pairs ``(f_i, g_i) = (Phi(x_i), Psi(a_i))``, ``~ P+``.

    ``-2 (1/n) sum_i f_i^T g_i + (1/(n(n-1))) sum_{i != j} (f_i^T g_j)^2``, computed in
    ``O(n d^2)``; the off-diagonal pairs are draws of ``P_X (x) P_A``. Chapter
    ``ch03_self_supervised``.
    """
    a = _check_table("f", f, min_rows=2)
    b = _check_table("g", g, min_rows=2)
    _same_shape("f", a, "g", b)
    n = a.shape[0]
    diag = (a * b).sum(1)
    neg = ((a.T @ a) * (b.T @ b)).sum() - (diag * diag).sum()
    return -2.0 * diag.mean() + neg / (n * (n - 1))


# --------------------------------------------------------------------------------------------
# Laplacian eigenmaps, Eq. (3) and Theorem 12
# --------------------------------------------------------------------------------------------

def _graph(W: Any, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    arr = check_matrix("W", as_numpy(W), nonnegative=True)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"W must be a square weight matrix, got shape {arr.shape}")
    if not np.allclose(arr, arr.T, rtol=0.0, atol=1e-12 * float(arr.max())):
        raise ValueError("W must be symmetric (an undirected graph, Sec. 3.3)")
    deg = arr.sum(1)
    if np.any(deg <= 0):
        i = int(np.argmin(deg))
        raise ValueError(f"W must have no isolated vertices, but vertex {i} has degree {deg[i]!r}")
    Pw = torch.as_tensor(arr / arr.sum(), dtype=like.dtype, device=like.device)
    return Pw, Pw.sum(1)


def laplacian_eigenmaps_loss(phi: torch.Tensor, W: Any, *, whiten_phi: bool = True) -> torch.Tensor:
    """Laplacian eigenmaps, Eq. (3): ``1/2 E_{P_w} ||Phi(u) - Phi(v)||^2`` s.t. ``Cov_{P_X} = I``.

    ``W`` is a symmetric nonnegative weight matrix (any scale): ``P_w = W / sum W`` and
    ``P_X(u) = d(u) / d_sum``. ``whiten_phi=True`` imposes the constraint exactly through
    :func:`whiten` ``(phi, px)``. On the feasible set the value is ``d - sum_i <phi_i, T phi_i>``
    with ``T = D^{-1} W``, so the minimum is ``d - sum_{i=1}^{d} lambda_i(T)`` with the
    **algebraic** eigenvalues (:func:`laplacian_eigenmaps_minimum`): Theorem 12 learns the
    contexture only when ``T >= 0`` (e.g. lazy walks), not on bipartite graphs (the six-cycle
    counterexample of ``ch04_manifold``).
    Chapter ``ch04_manifold``.
    """
    F = _check_table("phi", phi)
    Pw, px = _graph(W, F)
    if F.shape[0] != Pw.shape[0]:
        raise ValueError(f"phi must have {Pw.shape[0]} rows (one per vertex), got shape "
                         f"{tuple(F.shape)}")
    if whiten_phi:
        F = _whiten(F, px)
    return (px[:, None] * F * F).sum() - (F * (Pw @ F)).sum()


def laplacian_eigenmaps_minimum(eigenvalues: Any, d: int) -> float:
    """Minimum of Eq. (3), ``d - sum_{i=1}^{d} lambda_i(T)`` (from the proof of Theorem 12).

    ``eigenvalues`` are the **algebraic** eigenvalues of ``T = D^{-1} W``, descending, with the
    trivial ``lambda_0 = 1`` (constant eigenfunction) at index 0. Chapter ``ch04_manifold``.
    """
    d = check_int("d", d, lo=1)
    lam = _spectrum("eigenvalues", eigenvalues, need=d + 1,
                    what="algebraic eigenvalues with lambda_0 = 1 at index 0")
    return float(d - np.sum(lam[1:d + 1]))


def laplacian_eigenmaps_loss_batch(phi_u: torch.Tensor, phi_v: torch.Tensor, *,
                                   whiten_phi: bool = True) -> torch.Tensor:
    """Batch Eq. (3) from sampled edges ``(u_i, v_i) ~ P_w``: half of
    :func:`non_contrastive_loss_batch` (both endpoints have marginal ``P_X``). Chapter
    ``ch04_manifold``.
    """
    return 0.5 * non_contrastive_loss_batch(phi_u, phi_v, whiten_z=whiten_phi)
