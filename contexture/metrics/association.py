"""Context association (Sec. 5.1, App. F): decay rate, kernel deviation, Lipschitz estimates
and the bounds of Lemmas 17 and 25. The chi-square identity is
:func:`contexture.operators.chi_square`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import least_squares
from scipy.spatial.distance import cdist, pdist, squareform

from contexture.base.checks import as_rng, check_float, check_int, check_matrix, check_table
from contexture.base.linalg import dense
from contexture.base.validate import check_spectrum, check_weights

__all__ = [
    "decay_rate",
    "function_lipschitz_estimate",
    "kernel_deviation",
    "lemma17_bound",
    "lemma25_bound",
    "lipschitz_estimate",
]


def decay_rate(s2: Any) -> float:
    r"""Decay rate :math:`\lambda` of the fit :math:`s_i^2\approx e^{-\lambda i}` (Sec. 5.1, F.1).

    ``s2`` holds the **squared nontrivial** singular values :math:`s_1^2, s_2^2, \dots, s_n^2`
    (exclude the trivial 1), indexed ``i = 1..n``. The fit is nonlinear least squares on the raw
    scale, :math:`\min_{\lambda\ge0}\sum_i(s_i^2-e^{-\lambda i})^2`
    (:func:`scipy.optimize.least_squares`), started from the log-linear fit through the origin
    :math:`\lambda_0=-\sum_i i\log s_i^2/\sum_i i^2` over the positive entries. An all-zero
    spectrum (independent context) returns ``inf``. Large :math:`\lambda` means weak
    association. Used for Fig. 2 and Figs 8-9 (chapter ``ch07_association_tau``).
    """
    y = check_spectrum("s2", s2, squared=True, sorted_desc=False)
    i = np.arange(1, y.size + 1, dtype=np.float64)
    pos = y > 0
    if not pos.any():
        return float("inf")  # independent context: the fit's infimum is at lambda -> infinity
    lam0 = float(-(i[pos] * np.log(y[pos])).sum() / (i[pos] ** 2).sum())
    lam0 = max(lam0, 0.0)

    def resid(p: np.ndarray) -> np.ndarray:
        return np.exp(-p[0] * i) - y

    def jac(p: np.ndarray) -> np.ndarray:
        return (-i * np.exp(-p[0] * i))[:, None]

    res = least_squares(resid, x0=[lam0], jac=jac, bounds=([0.0], [np.inf]),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=1000)
    return float(res.x[0])


def _gram(name: str, K: Any) -> np.ndarray | sp.csr_array:
    if sp.issparse(K):
        Ks = sp.csr_array(K, dtype=np.float64)
        if Ks.ndim != 2 or Ks.shape[0] != Ks.shape[1] or Ks.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty square matrix, got shape {Ks.shape}")
        if not np.all(np.isfinite(Ks.data)):
            raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
        return Ks
    arr = check_matrix(name, K, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square Gram matrix, got shape {arr.shape}")
    return arr


def kernel_deviation(K: Any) -> float:
    r"""Expected kernel deviation :math:`\frac1{n^2}\sum_{i,j}|k_X^+(x_i,x_j)-1|` (App. F.1).

    ``K`` is the ``n x n`` Gram matrix of the dual kernel :math:`k_X^+` on the (whole) training
    sample, dense or scipy-sparse (missing entries are 0, contributing 1 each); the diagonal is
    included. Small values flag weak association (Lemma 17). Figs 10-11 (chapter
    ``ch07_association_tau``).
    """
    Kg = _gram("K", K)
    n = Kg.shape[0]
    if sp.issparse(Kg):
        Kg = Kg.tocoo()
        Kg.sum_duplicates()
        nnz = Kg.nnz
        total = float(np.abs(Kg.data - 1.0).sum()) + (n * n - nnz)
        return total / (n * n)
    return float(np.abs(Kg - 1.0).mean())


def _subsample(n: int, n_sub: int, rng: np.random.Generator) -> np.ndarray:
    if n <= n_sub:
        return np.arange(n)
    return np.sort(rng.choice(n, size=n_sub, replace=False))


def lipschitz_estimate(
    K: Any, X: Any, n_sub: int = 1000, seed: int | np.random.Generator = 0
) -> float:
    r"""Lipschitz constant of the dual kernel,
    :math:`\max_{i<j,\,k}|k_X^+(x_k,x_i)-k_X^+(x_k,x_j)|/\|x_i-x_j\|_2` (App. F.1).

    ``K`` is the ``n x n`` Gram matrix of :math:`k_X^+` on the rows of ``X`` (``n x p``, dense
    or scipy-sparse ``K``). ``i, j`` and ``k`` all range over one uniform subsample of ``n_sub``
    rows drawn without replacement with ``seed`` (all rows if ``n <= n_sub``); the paper uses
    ``n_sub = 1000``. Pairs of coincident points (distance ``<= 1e-12`` times the largest
    distance) are skipped. Vectorised as Chebyshev distances between the columns of the
    subsampled Gram matrix divided by Euclidean distances, :math:`O(n_{sub}^3)` time and
    :math:`O(n_{sub}^2)` memory. The paper's plots show it multiplied by the feature dimension.
    Figs 10-11 and Lemma 25 (chapter ``ch07_association_tau``).
    """
    Kg = _gram("K", K)
    x = check_table("X", X)
    n = Kg.shape[0]
    if x.shape[0] != n:
        raise ValueError(f"X must have one row per row of K ({n}), got {x.shape[0]}")
    n_sub = check_int("n_sub", n_sub, lo=2)
    idx = _subsample(n, n_sub, as_rng(seed))
    Ks = dense(Kg[idx][:, idx])
    return _lipschitz(Ks, x[idx])


def _lipschitz(F: np.ndarray, x: np.ndarray) -> float:
    """max over pairs i<j of max_k |F[k, i] - F[k, j]| / |x_i - x_j| (coincident pairs skipped)."""
    num = cdist(F.T, F.T, metric="chebyshev")
    den = squareform(pdist(x))
    iu = np.triu_indices(x.shape[0], k=1)
    num, den = num[iu], den[iu]
    ok = den > 1e-12 * den.max() if den.size and den.max() > 0 else np.zeros(den.shape, bool)
    if not ok.any():
        raise ValueError("X must contain at least two distinct points (all pairs coincide)")
    return float((num[ok] / den[ok]).max())


def function_lipschitz_estimate(F: Any, X: Any) -> float:
    r""":math:`L_\mu=\max_c\max_{i<j}|F_{ic}-F_{jc}|/\|x_i-x_j\|_2` over all sample pairs.

    ``F`` (``n x m``) holds functions evaluated at the rows of ``X`` (e.g. the nontrivial
    :math:`\mu_i`); the sample version of :math:`L_\mu` in Lemma 25. Coincident pairs are
    skipped. Chapter ``ch07_association_tau`` (Lemma 25).
    """
    f, x = check_table("F", F), check_table("X", X)
    if x.shape[0] != f.shape[0]:
        raise ValueError(f"X must have one row per row of F ({f.shape[0]}), got {x.shape[0]}")
    # max_c |F_ic - F_jc| is the Chebyshev distance between rows i and j of F.
    return _lipschitz(f.T, x)


def lemma17_bound(K: Any, weights: Any = None) -> tuple[float, float]:
    r"""Lemma 17: if :math:`|k_X^+-1|<\epsilon` everywhere then :math:`\sum_{i\ge1}s_i^2<\epsilon`.

    From a Gram matrix ``K`` of :math:`k_X^+` on a sample with probabilities ``weights``
    (uniform if ``None``; normalised), returns ``(total, eps)`` with
    ``total`` :math:`=\sum_{i\ge1}s_i^2=\mathbb E[k_X^+(X,X)]-1=\sum_iw_iK_{ii}-1` (the trace
    form of the proof) and ``eps`` :math:`=\max_{ij}|K_{ij}-1|`; the lemma says
    ``total <= eps``. Chapter ``ch07_association_tau``.
    """
    Kg = _gram("K", K)
    n = Kg.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else check_weights("weights", weights, n)
    if sp.issparse(Kg):
        diag = Kg.diagonal()
        dev = float(np.abs(Kg.data - 1.0).max()) if Kg.nnz else 1.0
        if Kg.nnz < n * n:
            dev = max(dev, 1.0)
    else:
        diag = np.diag(Kg)
        dev = float(np.abs(Kg - 1.0).max())
    return float(w @ diag - 1.0), dev


def lemma25_bound(c: float, L_mu: float, s: Any) -> float:
    r"""Lemma 25: :math:`L_{k_X^+}\le c\,L_\mu\sum_{i\ge1}s_i^2`.

    ``c`` bounds :math:`|\mu_i(x)|` for all :math:`i>0`, ``L_mu`` is the largest Lipschitz
    constant of the nontrivial :math:`\mu_i` and ``s`` holds the nontrivial singular values
    (squared inside). Chapter ``ch07_association_tau`` (App. F.3).
    """
    c = check_float("c", c, lo=0.0)
    L_mu = check_float("L_mu", L_mu, lo=0.0)
    s_arr = check_spectrum("s", s, sorted_desc=False)
    return float(c * L_mu * np.sum(s_arr**2))
