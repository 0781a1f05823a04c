r"""Alignment between two representations (Sec. 4.2, Fig. 1).

* :func:`cca_alignment` -- mean squared canonical correlation :math:`R^2_{\rm CCA}`
  (Kornblith et al. 2019), invariant under invertible linear maps of either representation.
* :func:`mutual_knn_alignment` -- mutual nearest-neighbour overlap (Huh et al. 2024) after
  centring and whitening each representation.
* :func:`principal_angles` / :func:`subspace_distance` -- angles between column spans in
  :math:`L^2(P_{\mathcal X})`, used to compare learned spans with the top-:math:`d` singular
  functions (Definition 5);
* :func:`span_alignment` -- the mean squared cosine of those angles over the target dimension,
  which penalises collapsed encoders;
* :func:`effective_rank` -- the entropy effective rank of a representation's covariance
  (Roy and Vetterli 2007), a measure of dimensional collapse (App. E).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.neighbors import NearestNeighbors

from contexture.base.checks import check_choice, check_int, check_table
from contexture.base.validate import check_rtol, check_weights, orthonormal_basis

__all__ = [
    "canonical_correlations",
    "cca_alignment",
    "effective_rank",
    "mutual_knn_alignment",
    "principal_angles",
    "span_alignment",
    "subspace_distance",
]


def _pair(A: Any, B: Any, names: tuple[str, str] = ("A", "B")) -> tuple[np.ndarray, np.ndarray]:
    a, b = check_table(names[0], A), check_table(names[1], B)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same number of rows (samples), "
                         f"got {a.shape[0]} and {b.shape[0]}")
    return a, b


def _weighted_basis(name: str, M: np.ndarray, w: np.ndarray | None, center: bool,
                    rtol: float) -> np.ndarray:
    """Orthonormal basis (in L2 of the weights) of the span of M's columns, scaled by sqrt(w)."""
    n = M.shape[0]
    w_ = np.full(n, 1.0 / n) if w is None else w
    if center:
        M = M - w_ @ M
    Q = orthonormal_basis(np.sqrt(w_)[:, None] * M, rtol)
    if Q.shape[1] == 0:
        what = "constant (zero variance after centring)" if center else "zero"
        raise ValueError(f"{name} spans no direction: every column is {what}")
    return Q


def _cosines(Qa: np.ndarray, Qb: np.ndarray) -> np.ndarray:
    m = min(Qa.shape[1], Qb.shape[1])
    cos = np.linalg.svd(Qa.T @ Qb, compute_uv=False)[:m]
    return np.clip(cos, 0.0, 1.0)


def canonical_correlations(
    A: Any, B: Any, weights: Any = None, *, rtol: float = 1e-10
) -> np.ndarray:
    r"""Canonical correlations between the columns of ``A`` and ``B``, in decreasing order.

    Implements the CCA used for the alignment curves of Fig. 1 (Sec. 4.2); chapters
    ``ch04_manifold`` and ``ch06_scaling``. Rows are samples; ``weights`` (nonnegative, any
    positive sum; normalised internally) are sample weights, i.e. :math:`P_{\mathcal X}`.
    Both sides are weight-centred and reduced to a rank-revealing orthonormal basis (singular
    values below ``rtol`` times the largest are dropped), so the result has
    ``min(rank A, rank B)`` entries and is invariant under invertible linear maps.
    """
    a, b = _pair(A, B)
    rtol = check_rtol(rtol)
    if a.shape[0] < 2:
        raise ValueError(f"A and B need at least 2 rows (samples), got {a.shape[0]}")
    w = None if weights is None else check_weights("weights", weights, a.shape[0])
    return _cosines(_weighted_basis("A", a, w, True, rtol), _weighted_basis("B", b, w, True, rtol))


def cca_alignment(A: Any, B: Any, weights: Any = None, *, rtol: float = 1e-10) -> float:
    r"""Mean squared canonical correlation :math:`R^2_{\rm CCA}=\frac1d\sum_{i\le d}\rho_i^2`.

    The alignment metric of Fig. 1 (Sec. 4.2, Kornblith et al. 2019; chapters
    ``ch03_self_supervised`` and ``ch06_scaling``), with ``d = min(rank A, rank B)`` after
    centring. Equals 1 iff the
    smaller centred span lies in the larger one; invariant under invertible linear maps of either
    argument. With ``n`` samples and ``rank A + rank B >= n`` correlations are trivially 1, so use
    ``n`` well above the dimensions. See :func:`canonical_correlations` for the arguments.
    """
    rho = canonical_correlations(A, B, weights, rtol=rtol)
    return float(np.mean(rho**2))


def _whiten(name: str, M: np.ndarray, rtol: float) -> np.ndarray:
    """Centre and whiten: rows of sqrt(n) * U_r from the SVD of the centred matrix (cov = I)."""
    # With uniform weights Q = U_r, the left singular vectors of (M - mean) / sqrt(n), so
    # sqrt(n) * Q has identity covariance; distances then do not depend on an invertible map of M.
    Q = _weighted_basis(name, M, None, True, rtol)
    return np.sqrt(M.shape[0]) * Q


def mutual_knn_alignment(
    A: Any,
    B: Any,
    k: int = 10,
    *,
    mode: Literal["intersection", "iou"] = "intersection",
    rtol: float = 1e-10,
) -> float:
    """Mutual k-nearest-neighbour alignment of two representations of the same ``n`` samples.

    The dashed curves of Fig. 1 (Sec. 4.2; chapter ``ch06_scaling``).
    Each representation is first centred and whitened to identity covariance (rank-revealing,
    relative tolerance ``rtol``), which makes the metric invariant under invertible linear maps.
    ``N_A(i)`` are the ``k`` Euclidean nearest neighbours of sample ``i`` (itself excluded;
    ties broken by scikit-learn's deterministic order), likewise ``N_B(i)``.

    * ``mode="intersection"`` (default; Huh et al. 2024): mean of ``|N_A(i) & N_B(i)| / k``.
    * ``mode="iou"`` (the paper's wording "intersection over union"): mean of
      ``|N_A(i) & N_B(i)| / |N_A(i) | N_B(i)|``.

    Both lie in ``[0, 1]`` and equal 1 for identical neighbourhoods.
    """
    a, b = _pair(A, B)
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"A and B need at least 2 rows (samples), got {n}")
    k = check_int("k", k, lo=1, hi=n - 1)
    check_choice("mode", mode, ["intersection", "iou"])
    rtol = check_rtol(rtol)
    za, zb = _whiten("A", a, rtol), _whiten("B", b, rtol)
    na = NearestNeighbors(n_neighbors=k).fit(za).kneighbors(return_distance=False)
    nb = NearestNeighbors(n_neighbors=k).fit(zb).kneighbors(return_distance=False)
    both = np.sort(np.hstack([na, nb]), axis=1)
    inter = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1).astype(np.float64)
    frac = inter / k if mode == "intersection" else inter / (2 * k - inter)
    return float(np.mean(frac))


def principal_angles(
    U: Any, V: Any, weights: Any = None, *, rtol: float = 1e-10
) -> np.ndarray:
    r"""Principal angles (radians, increasing) between the column spans of ``U`` and ``V``.

    Angles are taken in :math:`L^2(P)` with :math:`\langle f,g\rangle=\sum_i w_i f_i g_i`,
    ``weights`` = :math:`P_{\mathcal X}` on the rows (uniform if ``None``; normalised
    internally). Columns are *not* centred: centre them first to compare centred spans as in
    Definition 5 (learning the contexture). Used by chapters ``ch01_contexts`` to
    ``ch06_scaling`` to compare spans in a sign- and rotation-invariant way. Returns
    ``min(rank U, rank V)`` angles (rank-revealing SVD with relative tolerance ``rtol``); small
    angles use sines and large ones cosines (Knyazev & Argentati 2002) for accuracy.
    """
    u, v = _pair(U, V, ("U", "V"))
    rtol = check_rtol(rtol)
    w = None if weights is None else check_weights("weights", weights, u.shape[0])
    qu = _weighted_basis("U", u, w, False, rtol)
    qv = _weighted_basis("V", v, w, False, rtol)
    return _angles(qu, qv)


def span_alignment(F: Any, U: Any, weights: Any = None, *, rtol: float = 1e-10) -> float:
    r"""Alignment of ``span F`` with a target span ``U``, in :math:`[0, 1]`.

    :math:`\|P_FP_U\|_F^2/\dim U=\frac1{\dim U}\sum_i\cos^2\theta_i` over the principal
    angles between the column spans in :math:`L^2(P)` (``weights`` = :math:`P` on the rows,
    uniform if ``None``; columns are not centred, centre them first). Directions of ``F`` with
    singular value at most ``rtol`` times its largest (after weighting) count as collapsed and
    contribute nothing. Unlike :func:`cca_alignment`, which averages over the smaller rank, it
    divides by the *target* dimension, so an encoder of rank :math:`r<\dim U` scores at most
    :math:`r/\dim U`; for full-rank ``F`` and ``U`` of equal width it is
    :math:`R^2_{\rm CCA}` (Sec. 4.2, Fig. 1). It equals 1 iff ``span F`` contains ``span U``:
    with ``U`` the top-:math:`d` singular functions, iff a rank-:math:`d` encoder learns the
    contexture (Definition 5). In :math:`\mu`-coordinates (Euclidean) the target
    :math:`\mu_1..\mu_d` is ``np.eye(K, d)``. ``U`` must have full column rank. Chapters
    ``ch03_self_supervised`` and ``ch06_scaling``.
    """
    f, u = _pair(F, U, ("F", "U"))
    rtol = check_rtol(rtol)
    w = None if weights is None else check_weights("weights", weights, f.shape[0])
    qf = _weighted_basis("F", f, w, False, rtol)
    qu = _weighted_basis("U", u, w, False, rtol)
    if qu.shape[1] < u.shape[1]:
        raise ValueError(f"U must have full column rank (the target span), got rank "
                         f"{qu.shape[1]} < {u.shape[1]} columns")
    return float(np.clip(np.sum((qu.T @ qf) ** 2) / qu.shape[1], 0.0, 1.0))


def _angles(qu: np.ndarray, qv: np.ndarray) -> np.ndarray:
    if qu.shape[1] < qv.shape[1]:
        qu, qv = qv, qu
    cos = _cosines(qu, qv)  # decreasing, length rank(qv)
    sin = np.linalg.svd(qv - qu @ (qu.T @ qv), compute_uv=False)[::-1]  # increasing
    sin = np.clip(sin, 0.0, 1.0)
    return np.where(cos**2 < 0.5, np.arccos(cos), np.arcsin(sin))


def subspace_distance(
    U: Any,
    V: Any,
    weights: Any = None,
    *,
    kind: Literal["projection", "projection_fro", "sin_max"] = "projection",
    rtol: float = 1e-10,
) -> float:
    r"""Distance between the column spans of ``U`` and ``V`` in :math:`L^2(P)`.

    Used with :func:`principal_angles` to test "learns the contexture" (Definition 5) up to sign
    and rotation (chapter ``ch07_association_tau``). With angles :math:`\theta_i` and ranks
    :math:`r_U, r_V`:

    * ``"projection"``: operator norm :math:`\|P_U-P_V\|` -- :math:`\sin\theta_{\max}` when
      :math:`r_U=r_V`, and 1 when the ranks differ;
    * ``"projection_fro"``: :math:`\|P_U-P_V\|_F=\sqrt{|r_U-r_V|+2\sum_i\sin^2\theta_i}`;
    * ``"sin_max"``: :math:`\sin\theta_{\max}` (ignores a rank mismatch).
    """
    check_choice("kind", kind, ["projection", "projection_fro", "sin_max"])
    u, v = _pair(U, V, ("U", "V"))
    rtol = check_rtol(rtol)
    w = None if weights is None else check_weights("weights", weights, u.shape[0])
    qu = _weighted_basis("U", u, w, False, rtol)
    qv = _weighted_basis("V", v, w, False, rtol)
    sines = np.sin(_angles(qu, qv))
    ru, rv = qu.shape[1], qv.shape[1]
    if kind == "projection":
        return 1.0 if ru != rv else float(sines.max())
    if kind == "projection_fro":
        return float(np.sqrt(abs(ru - rv) + 2.0 * np.sum(sines**2)))
    return float(sines.max())


def effective_rank(A: Any, weights: Any = None) -> float:
    r"""Entropy effective rank of :math:`\mathrm{Cov}[A]` (Roy and Vetterli 2007).

    ``A`` is a table (rows = samples, columns = output dimensions); ``weights`` are sample
    weights (uniform if ``None``; normalised internally). With the eigenvalues
    :math:`\lambda_i\ge0` of the weighted covariance and :math:`p_i=\lambda_i/\sum_j\lambda_j`,
    returns :math:`\exp(-\sum_ip_i\log p_i)`, which lies in ``[1, number of columns]``: it
    equals ``r`` when the covariance has ``r`` equal nonzero eigenvalues and the rest zero, and
    stays near 1 when one direction carries almost all the variance. It is the measure of
    "dimensional collapse" for the ``d1 = 512`` outputs of the Fig. 1 experiment (App. E), read
    before the App. D reduction. Chapter ``ch12_model_size``.

    Raises
    ------
    ValueError
        for fewer than 2 rows, non-finite entries or a table with zero variance.
    """
    a = check_table("A", A)
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"A needs at least 2 rows (samples), got {n}")
    w = np.full(n, 1.0 / n) if weights is None else check_weights("weights", weights, n)
    ac = a - w @ a
    lam = np.clip(np.linalg.eigvalsh(ac.T @ (w[:, None] * ac)), 0.0, None)
    total = float(lam.sum())
    if not total > 0.0:
        raise ValueError("A has zero variance (every column is constant), so its effective rank "
                         "is undefined")
    p = lam[lam > 0.0] / total
    return float(np.clip(np.exp(-np.sum(p * np.log(p))), 1.0, a.shape[1]))
