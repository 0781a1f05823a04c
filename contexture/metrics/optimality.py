r"""Optimality of the contexture (Sec. 4.1): compatibility and worst-case probe error.

Conventions shared by every function here:

* ``s`` holds the **nontrivial** singular values ``s_1 >= s_2 >= ... >= s_K`` (so ``s[0]`` is
  :math:`s_1`; the trivial :math:`s_0=1` is *not* included).
* Tasks and encoders are written in :math:`\mu`-coordinates of *centred* functions: a task
  :math:`\tilde f=\sum_{i\ge1}u_i\mu_i` is the vector ``u = (u_1, ..., u_K)`` and an encoder
  :math:`\tilde\Phi` is the ``K x d`` matrix ``coords`` whose columns are its centred
  coordinate functions. Since :math:`\mu_1..\mu_K` are orthonormal in
  :math:`L^2(P_{\mathcal X})`, inner products are Euclidean. ``coords`` may have fewer than
  ``K`` rows; missing rows are zero. The task space is truncated to
  :math:`\mathrm{span}\{\mu_1..\mu_K\}`; append zeros to ``s`` to model functions with
  :math:`s_i=0`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from contexture.base.checks import check_float, check_int, check_matrix
from contexture.base.linalg import column_signs
from contexture.base.validate import check_coords, check_rtol, check_spectrum, orthonormal_basis

__all__ = [
    "WorstCase",
    "approximation_error",
    "compatibility",
    "converse_task",
    "thm16_eps_range",
    "thm16_extremal_task",
    "worst_case_error",
    "worst_case_error_exact",
]

_EDGE_TOL = 1e-12  # tolerance on the theorem's epsilon range and on s_1^2 == (1-eps)^2
_GAP_WARN = 1e-6  # duality gap above which worst_case_error_exact warns


def compatibility(u: Any, s: Any, *, has_constant: bool = False) -> float:
    r"""Compatibility :math:`\rho(f,P^+)` of Definition 13 from :math:`\mu`-coordinates.

    :math:`\rho=\sqrt{\sum_{i\ge1}s_i^2u_i^2/\sum_{i\ge1}u_i^2}` (the paper prints
    ":math:`i>1`" in the numerator, a typo for :math:`i\ge1`). ``u`` and ``s`` have the same
    length. By default they hold ``u_1..u_K`` and ``s_1..s_K``; with ``has_constant=True`` they
    hold ``u_0..u_K`` and ``s_0..s_K`` (``s[0]`` must be 1) and the constant part ``u_0`` is
    ignored, i.e. :math:`f` is centred. Chapter ``ch05_optimality`` (Sec. 4.1).
    """
    s_arr = check_matrix("s", s, ndim=1)
    if has_constant:
        if abs(s_arr[0] - 1.0) > 1e-9:
            raise ValueError(f"with has_constant=True, s[0] must be the trivial singular value 1, "
                             f"got {s_arr[0]!r}")
        s_arr = s_arr[1:]
    s_arr = check_spectrum("s", s_arr, sorted_desc=False)
    u_arr = check_matrix("u", u, ndim=1)
    if has_constant:
        u_arr = u_arr[1:]
    if u_arr.size != s_arr.size:
        raise ValueError(f"u and s must have the same length, got {u_arr.size} and {s_arr.size}"
                         + (" (after dropping index 0)" if has_constant else ""))
    norm2 = float(u_arr @ u_arr)
    if norm2 == 0.0:
        raise ValueError("u must have a nonzero nontrivial part: rho(f) is undefined for a "
                         "constant f (Definition 13 needs f - E f != 0)")
    return float(np.sqrt(np.clip((s_arr**2 * u_arr**2).sum() / norm2, 0.0, 1.0)))


def approximation_error(coords: Any, u: Any, *, rtol: float = 1e-10) -> float:
    r"""Linear-probe error :math:`\mathrm{err}(\Phi,f)` of Definition 15 for one unit-norm task.

    ``coords`` (``K x d``) are the encoder's centred coordinate functions and ``u`` the task's
    coordinates (length >= ``K``); the task is centred and normalised, and the bias of the probe
    absorbs constants, so :math:`\mathrm{err}=\|\Pi^\perp u\|^2/\|u\|^2` with
    :math:`\Pi^\perp` the projector orthogonal to ``span(coords)`` (rank-revealing, relative
    tolerance ``rtol``). Chapter ``ch05_optimality`` (Definition 15, Theorem 16).
    """
    u_arr = check_matrix("u", u, ndim=1)
    c = check_coords("coords", coords, u_arr.size)
    rtol = check_rtol(rtol)
    norm2 = float(u_arr @ u_arr)
    if norm2 == 0.0:
        raise ValueError("u must be nonzero (Definition 15 takes unit-norm tasks)")
    Q = orthonormal_basis(c, rtol)
    r = u_arr - Q @ (Q.T @ u_arr)
    return float(np.clip(r @ r / norm2, 0.0, 1.0))


def thm16_eps_range(s: Any) -> tuple[float, float]:
    r"""Theorem 16's admissible range :math:`1-s_1\le\epsilon\le1-\sqrt{(s_1^2+s_2^2)/2}`.

    ``s`` holds the nontrivial singular values (``s[0]`` is :math:`s_1`, ``s[1]`` is
    :math:`s_2`). Chapter ``ch05_optimality``.
    """
    s_arr = check_spectrum("s", s, min_len=2)
    return 1.0 - float(s_arr[0]), 1.0 - float(np.sqrt((s_arr[0] ** 2 + s_arr[1] ** 2) / 2.0))


def _check_thm16(s: Any, d: Any, eps: Any, check_range: bool) -> tuple[np.ndarray, int, float]:
    s_arr = check_spectrum("s", s, min_len=2)
    d = check_int("d", d, lo=1, hi=s_arr.size - 1)
    lo, hi = thm16_eps_range(s_arr)
    eps = check_float("eps", eps, lo=0.0, hi=1.0)
    if eps < lo - _EDGE_TOL:
        raise ValueError(f"eps must be >= 1 - s_1 = {lo!r} (else F_eps is empty), got {eps!r}")
    if check_range and eps > hi + _EDGE_TOL:
        raise ValueError(f"eps must lie in Theorem 16's range "
                         f"[1 - s_1, 1 - sqrt((s_1^2 + s_2^2)/2)] = [{lo!r}, {hi!r}], got {eps!r}; "
                         f"pass check_range=False to evaluate "
                         f"the formula anyway")
    if s_arr[0] ** 2 - s_arr[d] ** 2 <= 0.0:
        raise ValueError(f"Theorem 16's formula needs s_1 > s_(d+1), got s_1 = s_{d + 1} = "
                         f"{s_arr[0]!r}; use worst_case_error_exact instead")
    return s_arr, d, eps


def worst_case_error(s: Any, d: int, eps: float, *, check_range: bool = True) -> float:
    r"""Theorem 16: :math:`\min_\Phi\mathrm{err}(\Phi;\mathcal F_\epsilon)=
    \frac{s_1^2-(1-\epsilon)^2}{s_1^2-s_{d+1}^2}`, attained by the contexture encoder.

    ``s`` holds the nontrivial singular values (``s[0]`` is :math:`s_1`, ``s[d]`` is
    :math:`s_{d+1}`). ``eps`` must lie in the theorem's range
    ``[1 - s_1, 1 - sqrt((s_1^2 + s_2^2)/2)]`` (see :func:`thm16_eps_range`); with
    ``check_range=False`` the upper limit is not enforced and the formula is evaluated anyway
    (it stays the exact error of the top-:math:`d` encoder while :math:`(1-\epsilon)^2\ge
    s_{d+1}^2`, but the encoder need no longer be the unique minimiser). ``eps < 1 - s_1``
    always raises because :math:`\mathcal F_\epsilon` is then empty. Chapters ``ch05_optimality``
    and ``ch06_scaling`` (Sec. 4.1).
    """
    s_arr, d, eps = _check_thm16(s, d, eps, check_range)
    s1, sd1 = s_arr[0] ** 2, s_arr[d] ** 2
    return float(max(s1 - (1.0 - eps) ** 2, 0.0) / (s1 - sd1))


def thm16_extremal_task(s: Any, d: int, eps: float, *, check_range: bool = True) -> np.ndarray:
    r"""Extremal task of Theorem 16: :math:`u_1^2=1-A^*`, :math:`u_{d+1}^2=A^*`, other
    :math:`u_i=0`, where :math:`A^*` is :func:`worst_case_error`.

    Returned as a unit vector of length ``len(s)`` in :math:`\mu_1..\mu_K` coordinates. It has
    compatibility exactly :math:`1-\epsilon` and error exactly :math:`A^*` under the top-:math:`d`
    encoder. Arguments as in :func:`worst_case_error`. Chapter ``ch05_optimality``.
    """
    a_star = worst_case_error(s, d, eps, check_range=check_range)
    s_arr = check_spectrum("s", s)
    u = np.zeros(s_arr.size)
    u[0] = np.sqrt(1.0 - a_star)
    u[d] = np.sqrt(a_star)
    return u


@dataclass(frozen=True)
class WorstCase:
    r"""Result of :func:`worst_case_error_exact` / :func:`converse_task`.

    ``error`` is the dual value :math:`\min_t\lambda_{\max}(\Pi^\perp+t(D-(1-\epsilon)^2I))`
    (an upper bound, equal to the worst-case error); ``task`` is a unit maximiser ``u`` in
    :math:`\mu`-coordinates with probe error ``task_error`` (a lower bound) and compatibility
    ``task_compatibility``; ``t`` is the optimal multiplier and ``rank`` the dimension of
    :math:`\mathrm{span}\tilde\Phi`.
    """

    error: float
    task: np.ndarray
    task_error: float
    task_compatibility: float
    t: float
    rank: int

    @property
    def gap(self) -> float:
        """Duality gap ``error - task_error`` (should be ~1e-9 or less)."""
        return self.error - self.task_error


def _mix_to_zero(W: np.ndarray, Dc: np.ndarray) -> np.ndarray | None:
    """Unit ``W z`` with ``(Wz)^T diag(Dc) (Wz) = 0`` if the form changes sign on span(W)."""
    G = W.T @ (Dc[:, None] * W)
    g, Z = np.linalg.eigh((G + G.T) / 2.0)
    a, b = g[0], g[-1]
    if a > 0.0 or b < 0.0:
        return None
    if b - a == 0.0:  # the form vanishes on span(W)
        return W @ Z[:, -1]
    z = np.sqrt(b / (b - a)) * Z[:, 0] + np.sqrt(-a / (b - a)) * Z[:, -1]
    return W @ z


def _rotate_to_zero(w: np.ndarray, e: np.ndarray, Dc: np.ndarray) -> np.ndarray:
    """``cos(a) w + sin(a) p`` (p = e orthogonalised against w) with the smallest |a| that makes
    the form ``diag(Dc)`` vanish; ``w`` and ``e`` lie on opposite sides of the constraint."""
    p = e - (e @ w) * w
    p /= np.linalg.norm(p)
    gww, gwp, gpp = w @ (Dc * w), w @ (Dc * p), p @ (Dc * p)
    # gww + 2 x gwp + x^2 gpp = 0 with x = tan(a); gww * gpp < 0 gives two real roots.
    roots = np.roots([gpp, 2.0 * gwp, gww]).real
    x = roots[np.argmin(np.abs(roots))]
    return (w + x * p) / np.sqrt(1.0 + x * x)


def _minimise(Pi: np.ndarray, Dc: np.ndarray, t_lo: float, t_hi: float) -> float:
    """Minimiser of the convex f(t) = lambda_max(Pi + t diag(Dc)) on [t_lo, t_hi].

    minimize_scalar (bounded Brent) locates it to ~1e-8 relative accuracy; the result is then
    polished by bisection on the subdifferential of f at t, the interval [g_min, g_max] of
    v^T diag(Dc) v over unit v in the top eigenspace (monotone in t because f is convex). The
    bracket is checked and falls back to the full interval.
    """

    def sub(t: float) -> tuple[float, float, float]:
        lam, V = np.linalg.eigh(Pi + t * np.diag(Dc))
        W = V[:, lam >= lam[-1] - 1e-12 * max(1.0, abs(t))]
        g = np.linalg.eigvalsh(W.T @ (Dc[:, None] * W))
        return float(lam[-1]), float(g[0]), float(g[-1])

    if sub(t_lo)[2] >= 0.0:
        return t_lo  # 0 is in the subdifferential at t_lo, or f increases from there
    if sub(t_hi)[1] <= 0.0:  # pragma: no cover - excluded by the choice of t_hi
        return t_hi
    res = minimize_scalar(lambda t: sub(t)[0], bounds=(t_lo, t_hi), method="bounded",
                          options={"xatol": 1e-12 * (t_hi - t_lo), "maxiter": 500})
    half = 1e-6 * (t_hi - t_lo)
    a, b = max(t_lo, float(res.x) - half), min(t_hi, float(res.x) + half)
    if not (sub(a)[1] <= 0.0 <= sub(b)[2]):
        a, b = t_lo, t_hi
    for _ in range(200):
        mid = 0.5 * (a + b)
        if mid <= a or mid >= b:
            break
        _, g_lo, g_hi = sub(mid)
        if g_hi < 0.0:
            a = mid
        elif g_lo > 0.0:
            b = mid
        else:
            return mid  # 0 lies in the subdifferential: mid is a minimiser
    return a if sub(a)[0] <= sub(b)[0] else b


def _solve(coords: Any, s: Any, eps: Any, rtol: Any, equality: bool) -> WorstCase:
    """S-lemma dual for max u^T Pi u s.t. |u| = 1 and u^T (D - c) u >= 0 (or == 0)."""
    s_arr = check_spectrum("s", s, min_len=1)
    c_mat = check_coords("coords", coords, s_arr.size)
    rtol = check_rtol(rtol)
    lo = 1.0 - float(s_arr[0])
    eps = check_float("eps", eps, lo=0.0, hi=1.0)
    if eps < lo - _EDGE_TOL:
        raise ValueError(f"eps must be in [1 - s_1, 1] = [{lo!r}, 1.0] (else F_eps is empty), "
                         f"got {eps!r}")
    c = (1.0 - eps) ** 2
    s2 = s_arr**2
    if equality and c <= s2[-1]:
        raise ValueError(f"no task in span(mu_1..mu_K) has compatibility exactly 1 - eps = "
                         f"{1 - eps!r} unless s_K < 1 - eps, got s_K = {s_arr[-1]!r}; append "
                         f"smaller singular values (e.g. zeros) to s")
    Q = orthonormal_basis(c_mat, rtol)
    K = s_arr.size
    Pi = np.eye(K) - Q @ Q.T
    Dc = s2 - c

    if s2[0] - c <= _EDGE_TOL:
        # eps = 1 - s_1: the feasible tasks are exactly the top eigenspace of D (t -> infinity).
        E = np.eye(K)[:, s2 >= s2[0] - _EDGE_TOL]
        lam, V = np.linalg.eigh(E.T @ Pi @ E)
        u = E @ V[:, -1]
        t_star, dual = np.inf, float(lam[-1])
    else:
        # f(t) = lambda_max(Pi + t (D - c)) is convex. f(0) = lambda_max(Pi) <= 1, while
        # f(t) >= e_1^T M e_1 >= t (s_1^2 - c) and, for t < 0, f(t) >= e_K^T M e_K
        # >= |t| (c - s_K^2); so every minimiser lies in [t_lo, t_hi] below.
        t_hi = 1.0 / (s2[0] - c)
        t_lo = -1.0 / (c - s2[-1]) if equality else 0.0

        t_star = _minimise(Pi, Dc, t_lo, t_hi)
        lam, V = np.linalg.eigh(Pi + t_star * np.diag(Dc))
        dual = float(lam[-1])
        gtol = 1e-9 * max(1.0, abs(t_star))
        W = V[:, lam >= lam[-1] - gtol]
        u = _mix_to_zero(W, Dc)
        if u is None:
            G = W.T @ (Dc[:, None] * W)
            g, Z = np.linalg.eigh((G + G.T) / 2.0)
            if not equality and g[-1] >= 0.0:
                u = W @ Z[:, -1]  # feasible with rho >= 1 - eps
            else:
                # Round-off left the top eigenspace just on one side of the constraint: rotate
                # by the smallest angle towards a basis vector on the other side.
                w = W @ (Z[:, -1] if g[-1] < 0.0 else Z[:, 0])
                j = int(np.argmax(Dc)) if g[-1] < 0.0 else int(np.argmin(Dc))
                u = _rotate_to_zero(w, np.eye(K)[:, j], Dc)
    u = u / np.linalg.norm(u)
    u = u * column_signs(u[:, None])[0]  # the library's deterministic sign
    task_err = float(np.clip(u @ Pi @ u, 0.0, 1.0))
    rho = float(np.sqrt(np.clip(u**2 @ s2, 0.0, 1.0)))
    dual = float(np.clip(dual, 0.0, 1.0))
    out = WorstCase(error=dual, task=u, task_error=task_err, task_compatibility=rho,
                    t=float(t_star), rank=int(Q.shape[1]))
    if out.gap > _GAP_WARN:
        warnings.warn(f"worst-case error: duality gap {out.gap:.3g} exceeds {_GAP_WARN:g}",
                      RuntimeWarning, stacklevel=3)
    return out


def worst_case_error_exact(
    coords: Any, s: Any, eps: float, *, rtol: float = 1e-10
) -> WorstCase:
    r"""Exact worst-case error :math:`\mathrm{err}(\Phi;\mathcal F_\epsilon)` of ANY encoder.

    Definition 15 with :math:`\mathcal F_\epsilon` of Definition 13, computed by the S-lemma
    dual (derived here; the paper gives the error in closed form only for the top-:math:`d`
    encoder, Theorem 16):
    :math:`\mathrm{err}=\min_{t\ge0}\lambda_{\max}(\Pi^\perp+t(D-(1-\epsilon)^2I))`,
    :math:`D=\mathrm{diag}(s_i^2)`, :math:`\Pi^\perp` the projector orthogonal to
    ``span(coords)`` (see the module docstring for the coordinates). The 1-D convex problem is
    solved with :func:`scipy.optimize.minimize_scalar` on ``[0, 1/(s_1^2-(1-eps)^2)]``, which
    contains every minimiser because the objective is at most 1 at ``t=0`` and at least
    ``t (s_1^2 - (1-eps)^2)``; the result is polished by bisection on the subgradient sign (with a
    bracket check). The check: a maximising task is built from the top eigenspace at
    the optimum (mixed so that its compatibility is exactly ``1-eps`` where possible) and its
    probe error is a lower bound; a duality gap above 1e-6 triggers a ``RuntimeWarning``.
    ``eps = 1 - s_1`` is solved directly on the top eigenspace of ``D``. For the top-:math:`d`
    encoder and ``eps`` in Theorem 16's range this equals :func:`worst_case_error`. Chapter
    ``ch05_optimality`` (Theorem 16, converse, misalignment plots; Theorem 24 checks).
    """
    return _solve(coords, s, eps, rtol, equality=False)


def converse_task(coords: Any, s: Any, eps: float, *, rtol: float = 1e-10) -> WorstCase:
    r"""Converse of Theorem 16: a task with compatibility exactly :math:`1-\epsilon` that the
    given encoder approximates badly.

    Maximises the probe error over unit tasks with :math:`\rho(f)=1-\epsilon` *exactly*
    (dual :math:`\min_{t\in\mathbb R}\lambda_{\max}(\Pi^\perp+t(D-(1-\epsilon)^2I))`
    on ``[-1/((1-eps)^2-s_K^2), 1/(s_1^2-(1-eps)^2)]``). Theorem 16's converse states
    ``result.task_error >= worst_case_error(s, d, eps)`` for every ``d``-dimensional encoder.
    Needs ``s_K < 1 - eps`` (append zeros to ``s`` otherwise). Same arguments and return type as
    :func:`worst_case_error_exact`. Chapter ``ch05_optimality``.
    """
    return _solve(coords, s, eps, rtol, equality=True)
