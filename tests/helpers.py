"""Helpers shared by several test modules (a plain module: test modules never import each other).

They build small exact contexts and compare spans independently of the code under test
(``scipy.linalg.subspace_angles`` and ``numpy.linalg.svd``, not :mod:`contexture.metrics` or
:mod:`contexture.spectra`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from contexture.base.linalg import weighted_eigh
from contexture.contexts import FiniteContext


def random_joint(n: int, m: int, seed: int, *, balanced: bool = False) -> np.ndarray:
    """Random ``n x m`` joint matrix with positive marginals; ``balanced`` makes ``pa`` uniform."""
    rng = np.random.default_rng(seed)
    J = rng.gamma(0.5, size=(n, m)) + 1e-3
    J /= J.sum()
    if balanced:  # Sinkhorn: rows keep a random px, columns become uniform
        px = rng.dirichlet(np.full(n, 5.0))
        for _ in range(500):
            J *= (1.0 / m) / J.sum(0)
            J *= (px / J.sum(1))[:, None]
        J /= J.sum()
    return J


def dirichlet_context(n_x: int, n_a: int, seed: int = 0, *, concentration: float = 0.3,
                      random_px: bool = False) -> FiniteContext:
    """Rows ``P+(. | x) ~ Dirichlet(concentration)``; ``P_X`` uniform, or ``Dirichlet(5)`` when
    ``random_px``."""
    rng = np.random.default_rng(seed)
    cond = rng.dirichlet(np.full(n_a, concentration), size=n_x)
    px = rng.dirichlet(np.full(n_x, 5.0)) if random_px else np.full(n_x, 1.0 / n_x)
    return FiniteContext.from_conditional(cond, px)


def svd_system(J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact singular system by ``numpy.linalg.svd``: s, mu (N x r), nu (M x r), orthonormal in
    L^2(px) / L^2(pa) (no sign convention)."""
    px, pa = J.sum(1), J.sum(0)
    Q = J / np.sqrt(px)[:, None] / np.sqrt(pa)[None, :]
    U, S, Vt = np.linalg.svd(Q, full_matrices=False)
    return S, U / np.sqrt(px)[:, None], Vt.T / np.sqrt(pa)[:, None]


def joint_and_system(n: int, m: int, seed: int) -> tuple[np.ndarray, ...]:
    """``(J, s, mu, nu)``: :func:`random_joint` and its :func:`svd_system`."""
    J = random_joint(n, m, seed)
    return (J, *svd_system(J))


def max_angle(A: np.ndarray, B: np.ndarray, p: np.ndarray, *, centre: bool = False) -> float:
    """Largest principal angle between column spans in L^2(p) (optionally after centring); a
    1-D array is one column."""
    A, B, p = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64), np.asarray(p)
    A, B = (M[:, None] if M.ndim == 1 else M for M in (A, B))
    if centre:
        A, B = A - p @ A, B - p @ B
    r = np.sqrt(p)[:, None]
    return float(np.max(scipy.linalg.subspace_angles(r * A, r * B)))


def graph_T(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Algebraic eigenpairs (descending) of T = D^{-1} W, orthonormal in L^2(degree): ``(lam, V,
    p)``. ``T = K diag(p)`` with the symmetric ``K = (W / sum W) / (p p^T)``."""
    p = W.sum(1) / W.sum()
    lam, V = weighted_eigh((W / W.sum()) / np.outer(p, p), p)
    return lam, V, p


def t(x: np.ndarray) -> torch.Tensor:
    """A float64 torch tensor of ``x``."""
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)


def tau_curve(s: np.ndarray, d0: int) -> np.ndarray:
    """Eq. (4) written out directly: tau_d for d = 1..d0, beta = 1 (s: nontrivial singular
    values, at least d0 + 1 of them); an independent oracle for the library's tau."""
    out = []
    for d in range(1, d0 + 1):
        nxt = s[d] ** 2
        first = np.inf if nxt >= 1.0 else 1.0 / (1.0 - nxt)
        out.append(first + sum(v * v for v in s[:d]) / sum(v * v for v in s[:d0]))
    return np.array(out)
