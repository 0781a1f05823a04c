"""Contexts with known spectra: closed forms and finite versions.

Each family has a function returning the closed-form singular values (descending, trivial
s_0 = 1 first, multiplicities repeated) -- and singular functions where they are simple -- and
one returning an exact finite :class:`~contexture.contexts.FiniteContext` (or a quadrature
discretisation) whose numerical SVD the tests and the book (chapters ``ch01_contexts``,
``ch03_self_supervised``, ``ch06_scaling`` and ``ch07_association_tau``) compare with the closed
form. The paper states none of these spectra; they follow from classical identities (Mehler's
formula for Gaussian noise, parities on the hypercube) or are derived below.

Derivations of the last two families:

* **Translation on a cycle.** X uniform on Z_N, A = X + xi (mod N) with xi ~ w. Then
  P_A is uniform and P+(a | x) = w(a - x) is a circulant matrix. For the Fourier mode
  e_k(a) = exp(2 pi i k a / N): (T e_k)(x) = sum_j w_j e_k(x + j) = phi_w(k) e_k(x), with
  phi_w(k) = sum_j w_j exp(2 pi i j k / N) the characteristic function of the shift law at
  frequency 2 pi k / N. The e_k are orthonormal in L2(uniform), so the singular values are
  ``|phi_w(k)| = |DFT(w)_k|``, k = 0..N-1 (k = 0 gives the trivial 1); nu_k = e_k and
  mu_k = exp(i arg phi_w(k)) e_k. Real singular functions pair k with N - k (equal moduli):
  sqrt(2) cos and sqrt(2) sin of 2 pi k x / N.
* **Symmetric label noise.** X = true class, uniform over C classes; A = observed label, kept
  with probability 1 - eta, otherwise drawn uniformly from the other C - 1 classes. The channel
  is M = alpha I + beta 1 1^T with beta = eta / (C-1), alpha = 1 - eta - beta = 1 - eta C/(C-1).
  With P_X = P_A uniform, T is M itself (symmetric): eigenvalue alpha + C beta = 1 on constants
  and alpha on the (C-1)-dimensional space of mean-zero functions. Singular values:
  1 and ``|1 - eta C/(C-1)|`` (multiplicity C-1); zero (independence) at eta = (C-1)/C. If the
  label is redrawn from all C classes instead (``flip_to="any"``), alpha = 1 - eta.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from contexture.base.checks import check_choice, check_float, check_int, check_matrix
from contexture.base.validate import check_spectrum
from contexture.contexts.discrete import label_noise_channel
from contexture.contexts.finite import FiniteContext

__all__ = [
    "QuadratureContext",
    "cycle_fourier_modes",
    "cycle_translation_context",
    "cycle_translation_spectrum",
    "gaussian_noise_context",
    "gaussian_noise_singular_functions",
    "gaussian_noise_spectrum",
    "hermite_functions",
    "hypercube_masking_context",
    "hypercube_masking_singular_functions",
    "hypercube_masking_spectrum",
    "hypercube_points",
    "hypercube_spectrum",
    "label_noise_context",
    "label_noise_spectrum",
    "mehler_density_ratio",
    "parity_features",
    "parity_subsets",
    "resampling_context",
    "resampling_spectrum",
]


def _check_rho(rho: float) -> float:
    return check_float("rho", rho, lo=-1.0, hi=1.0, lo_open=True, hi_open=True)


# ------------------------------------------------------------------------------------------
# Gaussian noise: X ~ N(0, 1), A = rho X + sqrt(1 - rho^2) Z
# ------------------------------------------------------------------------------------------


def hermite_functions(x: Any, degree: int) -> np.ndarray:
    """Normalised probabilists' Hermite functions ``He_k(x) / sqrt(k!)``, k = 0..degree.

    Orthonormal in L2(N(0, 1)). Returns ``(len(x), degree + 1)``; stable three-term recurrence
    ``h_{k+1} = (x h_k - sqrt(k) h_{k-1}) / sqrt(k + 1)``. The singular functions of the
    Gaussian-noise context (:func:`gaussian_noise_singular_functions`); chapters
    ``ch06_scaling`` and ``ch07_association_tau``.
    """
    xs = check_matrix("x", x, ndim=1)
    degree = check_int("degree", degree, lo=0)
    h = np.empty((xs.shape[0], degree + 1))
    h[:, 0] = 1.0
    if degree >= 1:
        h[:, 1] = xs
    for k in range(1, degree):
        h[:, k + 1] = (xs * h[:, k] - math.sqrt(k) * h[:, k - 1]) / math.sqrt(k + 1)
    return h


def gaussian_noise_spectrum(rho: float, d: int) -> np.ndarray:
    """``s_k = |rho|^k``, k = 0..d, for X ~ N(0,1), A = rho X + sqrt(1 - rho^2) Z.

    Follows from E[He_k(A) | x] = rho^k He_k(x) (Mehler). Hence s_k^2 = exp(-lambda k) with
    lambda = -2 ln|rho|: the paper's exponential-decay model exactly.
    """
    rho = _check_rho(rho)
    d = check_int("d", d, lo=0)
    return np.abs(rho) ** np.arange(d + 1, dtype=np.float64)


def gaussian_noise_singular_functions(
    x: Any, a: Any, rho: float, d: int
) -> tuple[np.ndarray, np.ndarray]:
    """``mu_k(x) = sign(rho)^k He_k(x)/sqrt(k!)`` and ``nu_k(a) = He_k(a)/sqrt(k!)``.

    Returns ``(mu, nu)`` evaluated at the points x and a, k = 0..d; ``T nu_k = |rho|^k mu_k``.
    """
    rho = _check_rho(rho)
    d = check_int("d", d, lo=0)
    signs = (-1.0 if rho < 0 else 1.0) ** np.arange(d + 1)
    return hermite_functions(x, d) * signs, hermite_functions(a, d)


class QuadratureContext(FiniteContext):
    """A finite context on quadrature nodes.

    ``x_nodes`` (rows) and ``a_nodes`` (columns) are the nodes, ``weights`` the normalised
    quadrature weights and ``marginal_error`` the largest relative deviation of the marginals
    ``px``, ``pa`` from ``weights``.
    """

    x_nodes: np.ndarray
    a_nodes: np.ndarray
    weights: np.ndarray
    marginal_error: float


def _mehler_log_ratio(x: np.ndarray, a: np.ndarray, rho: float) -> np.ndarray:
    r2 = 1.0 - rho * rho
    expo = (2.0 * rho * np.outer(x, a) - rho * rho * (x[:, None] ** 2 + a[None, :] ** 2)) / (2 * r2)
    return expo - 0.5 * math.log(r2)


def mehler_density_ratio(x: Any, a: Any, rho: float) -> np.ndarray:
    r"""Density ratio ``p(x, a) / (phi(x) phi(a))`` of the Gaussian-noise context.

    For ``A = rho X + sqrt(1 - rho^2) Z`` with X, Z ~ N(0, 1) independent this is Mehler's kernel
    ``sum_k rho^k h_k(x) h_k(a) = (1 - rho^2)^{-1/2} exp((2 rho x a - rho^2 (x^2 + a^2)) /
    (2 (1 - rho^2)))`` with ``h_k`` the :func:`hermite_functions` (Lemma 4; the dual kernel
    ``k_X^+`` is the same formula at ``rho^2``). Returns the ``len(x) x len(a)`` matrix.
    """
    xs, as_ = check_matrix("x", x, ndim=1), check_matrix("a", a, ndim=1)
    return np.exp(_mehler_log_ratio(xs, as_, _check_rho(rho)))


def _symmetric_sinkhorn(logj: np.ndarray, w: np.ndarray, tol: float, max_iter: int):
    """Scale a symmetric ``J = exp(logj)`` to ``diag(r) J diag(r)`` with both marginals ``w``.

    Log-domain damped symmetric Sinkhorn ``f <- (f + log w - logsumexp_j(logj + f_j)) / 2``.
    Returns ``(log of the scaled joint, achieved relative marginal error)``; raises if ``tol`` is
    not reached in ``max_iter`` steps.
    """
    logw = np.log(w)
    f = np.zeros_like(w)
    err = np.inf
    for _ in range(max_iter):
        lse = _logsumexp_rows(logj + f[None, :])
        f = 0.5 * (f + logw - lse)
        lse = _logsumexp_rows(logj + f[None, :])
        err = float(np.max(np.abs(np.expm1(f + lse - logw))))
        if err <= tol:
            break
    if not err <= tol:
        raise RuntimeError(f"Sinkhorn balancing did not reach tol={tol!r} in {max_iter} "
                           f"iterations (relative marginal error {err!r})")
    return f[:, None] + logj + f[None, :], err


def _logsumexp_rows(m: np.ndarray) -> np.ndarray:
    top = m.max(axis=1)
    return top + np.log(np.exp(m - top[:, None]).sum(axis=1))


def gaussian_noise_context(
    rho: float,
    n_nodes: int = 80,
    *,
    marginals: Literal["quadrature", "exact"] = "quadrature",
    tol: float = 1e-13,
    max_iter: int = 10_000,
) -> QuadratureContext:
    """Gauss-Hermite discretisation of the Gaussian-noise context.

    X and A both live on the ``n_nodes`` probabilists' Gauss-Hermite nodes z_i with weights w_i
    (normalised to sum 1); the joint is ``J[i, j] proportional to w_i w_j k(z_i, z_j)`` with ``k``
    the Mehler density ratio (:func:`mehler_density_ratio`). The matrix of T is then the
    Nystrom discretisation of the integral operator, whose singular values converge to ``|rho|^k``
    and whose mu_k, sampled at the nodes, to He_k / sqrt(k!): the Hermite functions of degree
    < n_nodes are exactly orthonormal under the quadrature weights, so only the Mehler terms of
    degree >= n_nodes (size ``|rho|^n_nodes``) are aliased. With ``|rho| <= 0.8`` and 80 nodes
    the first ten pairs match to ~1e-14 (tested at 1e-10).

    ``marginals="quadrature"`` keeps that joint as it is: its marginals equal the weights up to
    the same aliasing (``marginal_error``). ``marginals="exact"`` rescales it symmetrically,
    ``J -> diag(r) J diag(r)`` with ``r`` close to 1 (log-domain Sinkhorn to relative ``tol``),
    so that ``px == pa == weights`` and the joint stays symmetric: the form the chapters use
    when a population loss is trained against ``P_X``.
    Chapters ``ch01_contexts``, ``ch03_self_supervised`` (Theorem 11) and ``ch06_scaling``.
    """
    rho = _check_rho(rho)
    n_nodes = check_int("n_nodes", n_nodes, lo=2, hi=300)
    marginals = check_choice("marginals", marginals, ["quadrature", "exact"])
    tol = check_float("tol", tol, lo=0.0, hi=1e-3, lo_open=True)
    max_iter = check_int("max_iter", max_iter, lo=1)
    z, w = hermegauss(n_nodes)
    w = w / w.sum()
    logj = _mehler_log_ratio(z, z, rho) + np.log(w)[:, None] + np.log(w)[None, :]
    logj = 0.5 * (logj + logj.T)
    if marginals == "exact":
        logj, _ = _symmetric_sinkhorn(logj, w, tol, max_iter)
    joint = np.exp(logj - logj.max())
    joint = 0.5 * (joint + joint.T)
    joint /= joint.sum()
    ctx = QuadratureContext(joint)
    ctx.x_nodes = z
    ctx.a_nodes = z.copy()
    ctx.weights = w
    ctx.marginal_error = float(max(np.max(np.abs(ctx.px - w) / w), np.max(np.abs(ctx.pa - w) / w)))
    return ctx


# ------------------------------------------------------------------------------------------
# Boolean hypercube: masking and resampling corruption
# ------------------------------------------------------------------------------------------


def hypercube_points(n: int) -> np.ndarray:
    """All 2^n points of {-1, +1}^n (rows, lexicographic with -1 < +1)."""
    n = check_int("n", n, lo=1, hi=16)
    return np.array(list(itertools.product((-1.0, 1.0), repeat=n)))


def parity_subsets(m: int, max_degree: int | None = None) -> list[tuple[int, ...]]:
    r"""Subsets :math:`S\subseteq\{0..m-1\}` ordered by size, then lexicographically, up to
    ``max_degree`` (all if ``None``); the empty set (the constant :math:`\chi_\emptyset`) first.

    The column order of :func:`parity_features` and of the hypercube singular functions.
    Chapters ``ch01_contexts`` and ``ch07_association_tau``.
    """
    m = check_int("m", m, lo=1, hi=30)
    top = m if max_degree is None else check_int("max_degree", max_degree, lo=0, hi=m)
    return [S for k in range(top + 1) for S in itertools.combinations(range(m), k)]


def parity_features(x: Any, subsets: Sequence[tuple[int, ...]] | None = None) -> np.ndarray:
    r"""Parities :math:`\chi_S(x)=\prod_{i\in S}x_i` at the rows of ``x``, one column per subset.

    ``x`` is ``n x m`` with entries in :math:`\{-1,0,+1\}`: points of the hypercube, or masked
    strings whose 0 entries are hidden coordinates (then :math:`\chi_S=0` whenever a coordinate
    of :math:`S` is masked). ``subsets`` defaults to :func:`parity_subsets`\ ``(m)``. On
    :math:`\{-1,1\}^m` the parities are orthonormal under the uniform law and are the singular
    functions of the hypercube masking and resampling contexts. Chapters ``ch01_contexts`` and
    ``ch07_association_tau`` (the exact encoder of the probe experiment).
    """
    xm = check_matrix("x", x, ndim=2)
    if not np.all(np.isin(xm, (-1.0, 0.0, 1.0))):
        raise ValueError("x must have entries +1 or -1 (points of the hypercube) or 0 (masked)")
    subs = parity_subsets(xm.shape[1]) if subsets is None else list(subsets)
    bad = [S for S in subs if any(not 0 <= i < xm.shape[1] for i in S)]
    if bad:
        raise ValueError(f"subsets must index the {xm.shape[1]} columns of x, got {bad[0]!r}")
    F = np.ones((xm.shape[0], len(subs)))
    for j, S in enumerate(subs):
        if S:
            F[:, j] = np.prod(xm[:, list(S)], axis=1)
    return F


def hypercube_spectrum(m: int, s_degree: Callable[[np.ndarray], np.ndarray]) -> tuple[
        np.ndarray, np.ndarray]:
    r"""Nontrivial singular values of a hypercube context whose value depends on :math:`|S|` only:
    ``s_degree(k)`` for degree ``k = 1..m``, each repeated :math:`\binom mk` times, sorted
    descending (stable, so equal values keep the degree order). Returns ``(s, degree)`` with the
    degree of each entry. Used for :math:`\tau` (Eq. (4)) with repeated singular values, chapters
    ``ch01_contexts`` and ``ch07_association_tau``.
    """
    m = check_int("m", m, lo=1, hi=30)
    k = np.arange(1, m + 1)
    vals = np.asarray(s_degree(k), dtype=np.float64)
    if vals.shape != (m,):
        raise ValueError(f"s_degree(k) must return {m} values (one per degree 1..{m}), got "
                         f"shape {vals.shape}")
    check_spectrum("s_degree(k)", vals, sorted_desc=False)
    mult = np.array([math.comb(m, int(j)) for j in k])
    s = np.repeat(vals, mult)
    deg = np.repeat(k, mult)
    order = np.argsort(-s, kind="stable")
    return s[order], deg[order]


def _kron_power(m: np.ndarray, n: int) -> np.ndarray:
    out = np.ones((1, 1))
    for _ in range(n):
        out = np.kron(out, m)
    return out


def hypercube_masking_spectrum(n: int, q: float) -> np.ndarray:
    """``s_S = q^{|S|/2}`` with multiplicity ``C(n, |S|)``, descending, the trivial 1 first.

    X uniform on {-1, 1}^n; each coordinate revealed independently with probability q, else
    masked: an MAE-style context (Sec. 2.1). The closed form is not stated in the paper; it
    follows from ``E[nu_S(A) | x] = q^{|S|/2} chi_S(x)`` for the orthonormal functions of
    :func:`hypercube_masking_singular_functions`. E.g. n = 4, q = 0.8: 1, .8944 x4, .8 x6,
    .7155 x4, .64. Chapters ``ch01_contexts`` and ``ch07_association_tau``.
    """
    n = check_int("n", n, lo=1, hi=16)
    q = check_float("q", q, lo=0.0, hi=1.0)
    return np.r_[1.0, hypercube_spectrum(n, lambda k: q ** (k / 2))[0]]


def hypercube_masking_singular_functions(n: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ``(mu, nu)`` of :func:`hypercube_masking_context`, columns ordered by ``|S|``.

    ``mu_S = chi_S`` on {-1, 1}^n; ``nu_S(a) = q^{-|S|/2} prod_{i in S} a_i`` on {-1, 0, 1}^n
    (zero when a coordinate of S is masked): ``E[nu_S(A) | x] = q^{|S|} q^{-|S|/2} chi_S(x)``.
    Columns follow :func:`parity_subsets`.
    """
    n = check_int("n", n, lo=1, hi=12)
    q = check_float("q", q, lo=0.0, hi=1.0, lo_open=True)
    subs = parity_subsets(n)
    a = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n)))
    scale = np.array([q ** (-len(S) / 2) for S in subs])
    return parity_features(hypercube_points(n), subs), parity_features(a, subs) * scale


def hypercube_masking_context(n: int, q: float) -> FiniteContext:
    """Exact finite MAE-style masking context on {-1, 1}^n x {-1, 0, 1}^n.

    ``P+(a | x) = prod_i (q [a_i = x_i] + (1 - q) [a_i = 0])``, P_X uniform; rows follow
    :func:`hypercube_points`, columns ``itertools.product((-1, 0, 1), repeat=n)`` (0 = masked).
    Size 2^n x 3^n (n <= 10). Chapters ``ch01_contexts``, ``ch05_optimality`` and
    ``ch07_association_tau``.
    """
    n = check_int("n", n, lo=1, hi=10)
    q = check_float("q", q, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    one = np.array([[q, 1 - q, 0.0], [0.0, 1 - q, q]])
    cond = _kron_power(one, n)
    return FiniteContext.from_conditional(cond, np.full(2**n, 2.0**-n))


def resampling_spectrum(n: int, p: float) -> np.ndarray:
    """``s_S = (1 - p)^{|S|}`` with multiplicity ``C(n, |S|)``, descending, the trivial 1 first.

    SCARF-style corruption: each coordinate is independently replaced, with probability p, by a
    fresh uniform draw. T is the Bonami-Beckner noise operator; mu_S = nu_S = chi_S.
    E.g. p = 0.3: 1, .7, .49, .343, .2401 (with multiplicities). Chapters ``ch01_contexts`` and
    ``ch07_association_tau``.
    """
    n = check_int("n", n, lo=1, hi=16)
    p = check_float("p", p, lo=0.0, hi=1.0)
    return np.r_[1.0, hypercube_spectrum(n, lambda k: (1 - p) ** k)[0]]


def resampling_context(n: int, p: float) -> FiniteContext:
    """Exact finite resampling-corruption context on {-1, 1}^n x {-1, 1}^n.

    ``P+(a | x) = prod_i ((1 - p) [a_i = x_i] + p / 2)``; rows and columns follow
    :func:`hypercube_points`. Size 2^n x 2^n (n <= 12).
    """
    n = check_int("n", n, lo=1, hi=12)
    p = check_float("p", p, lo=0.0, hi=1.0)
    one = np.array([[1 - p / 2, p / 2], [p / 2, 1 - p / 2]])
    return FiniteContext.from_conditional(_kron_power(one, n), np.full(2**n, 2.0**-n))


# ------------------------------------------------------------------------------------------
# translation on a cycle and symmetric label noise
# ------------------------------------------------------------------------------------------


def _check_shift(shift_probs: Any) -> np.ndarray:
    w = check_matrix("shift_probs", shift_probs, ndim=1, nonnegative=True)
    if w.shape[0] < 2:
        raise ValueError(f"shift_probs must have length N >= 2 (the cycle size), got {w.shape[0]}")
    total = float(w.sum())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"shift_probs must sum to 1 (tolerance 1e-09), got sum {total!r}")
    return w / total


def cycle_translation_spectrum(shift_probs: Any) -> np.ndarray:
    """Singular values ``|phi_w(2 pi k / N)| = |DFT(w)_k|``, k = 0..N-1, sorted descending.

    Translation context on the cycle Z_N with shift law ``shift_probs`` (derivation in the
    module docstring). ``s_0 = |sum w| = 1`` is the trivial pair. Chapter ``ch01_contexts``.
    """
    w = _check_shift(shift_probs)
    s = np.abs(np.fft.fft(w))
    s[0] = 1.0
    return np.sort(s)[::-1]


def cycle_fourier_modes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Real Fourier basis of L2(uniform on Z_N): ``(modes, freqs)``, modes N x N orthonormal.

    Columns: 1; sqrt(2) cos(2 pi k x/N) and sqrt(2) sin(2 pi k x/N) for 1 <= k < N/2; and
    (-1)^x when N is even. ``freqs[j]`` is the frequency k of column j (the singular value of
    column j under a shift law w is ``|DFT(w)_k|``), so ``modes[:, freqs == k]`` spans the singular
    space of :func:`cycle_translation_context` at ``|DFT(w)_k|``. Chapter ``ch01_contexts``.
    """
    n = check_int("n", n, lo=2)
    x = np.arange(n)
    cols, freqs = [np.ones(n)], [0]
    for k in range(1, (n + 1) // 2):
        cols += [math.sqrt(2) * np.cos(2 * np.pi * k * x / n),
                 math.sqrt(2) * np.sin(2 * np.pi * k * x / n)]
        freqs += [k, k]
    if n % 2 == 0:
        cols.append((-1.0) ** x)
        freqs.append(n // 2)
    return np.column_stack(cols), np.array(freqs)


def cycle_translation_context(shift_probs: Any) -> FiniteContext:
    """Finite translation context on Z_N: ``P+(a | x) = w[(a - x) mod N]``, P_X uniform."""
    w = _check_shift(shift_probs)
    n = w.shape[0]
    idx = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
    return FiniteContext.from_conditional(w[idx], np.full(n, 1.0 / n))


def label_noise_spectrum(
    n_classes: int, noise: float, *, flip_to: Literal["other", "any"] = "other"
) -> np.ndarray:
    """``[1, |alpha| x (C - 1)]`` with alpha = 1 - noise C/(C-1) ("other") or 1 - noise ("any").

    Symmetric label noise with balanced classes (derivation in the module docstring). Chapter
    ``ch01_contexts``.
    """
    c = check_int("n_classes", n_classes, lo=2)
    eta = check_float("noise", noise, lo=0.0, hi=1.0)
    flip_to = check_choice("flip_to", flip_to, ["other", "any"])
    alpha = 1 - eta * c / (c - 1) if flip_to == "other" else 1 - eta
    return np.array([1.0] + [abs(alpha)] * (c - 1))


def label_noise_context(
    n_classes: int, noise: float, *, flip_to: Literal["other", "any"] = "other"
) -> FiniteContext:
    """Finite C x C context: true class uniform, observed label through the noise channel.

    ``P+(c | y) = label_noise_channel(C, noise)[y, c]``; see :func:`label_noise_spectrum`.
    """
    channel = label_noise_channel(n_classes, noise, flip_to=flip_to)
    c = channel.shape[0]
    return FiniteContext.from_conditional(channel, np.full(c, 1.0 / c))
