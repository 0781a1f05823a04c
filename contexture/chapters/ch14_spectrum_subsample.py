r"""The spectrum of a context from a subsample: calculators for ``ch14_spectrum_subsample``.

App. D of the paper (arXiv v2 numbering) estimates the top :math:`d_0` squared singular values
:math:`s_1^2\ge\dots\ge s_{d_0}^2` of a context without kernel PCA: train an encoder on a random
subsample of :math:`m` points, then solve the generalised eigenproblem
:math:`B_\Phi v=\lambda C_\Phi v` with :math:`C_\Phi=\mathrm{Cov}_{P_{\mathcal X}}[\Phi]` and
:math:`B_\Phi=\langle\tilde\phi_i,T_{k_X^+}\tilde\phi_j\rangle`
(:func:`contexture.learning.training.posthoc_reduce`). Table 2 reports the error
:math:`\frac1{d_0}\sum_{i\le d_0}|\hat\lambda_i-s_i^2|` on abalone, fifa and kings_county (KNN
context, ``K = 60``, ``d0 = 256``, a 2-layer Tanh network trained with VICReg) for
``m`` in 100, 300, 600, 1000, 2000 and the full data; Fig. 7 plots the estimated spectra.

This module holds what only the chapter needs:

* :func:`full_data`, :func:`full_context`, :func:`subsample_indices`, :func:`neighbour_table`
  -- the data, the KNN context on all of it (the context whose spectrum is estimated) and the
  nested seeded subsamples;
* :func:`exact_spectrum_cell` -- the ground truth :math:`s_i^2` (the library's sparse block
  Krylov solver, certified residual);
* :func:`subsample_cell` -- one cell of Table 2: VICReg training on positive pairs drawn at the
  subsample, then the App. D reduction on the full data and on the subsample;
* :func:`ritz_eigenvalues`, :func:`spectrum_error`, :func:`vicreg_inv_coeff`,
  :func:`kernel_diagonal`, :func:`decay_summary`, :func:`as_good_as_full` -- the estimator, the
  metric of Table 2 and the two findings of App. D made precise;
* :func:`build_exact`, :func:`build`, :func:`build_reading`, :data:`SWEEPS` -- the chapter's
  sweeps (the truth, Table 2, and Table 2 under the other reading of the training pairs).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from contexture.base.checks import check_choice, check_float, check_int, check_matrix
from contexture.base.seeding import seed_everything
from contexture.contexts import knn_context
from contexture.contexts.sample import KNNContext
from contexture.data import load
from contexture.learning.encoders import MLP
from contexture.learning.objectives import vicreg_loss_batch
from contexture.learning.training import posthoc_reduce, train
from contexture.metrics import decay_rate
from contexture.operators import kernel_x_operator
from contexture.spectra import svd
from contexture.sweeps import Grid, Sweep

__all__ = [
    "DATASETS",
    "FULL",
    "PAPER_SIZES",
    "PAPER_TABLE2",
    "SWEEPS",
    "DecaySummary",
    "as_good_as_full",
    "build",
    "build_exact",
    "build_reading",
    "decay_summary",
    "exact_spectrum_cell",
    "full_context",
    "full_data",
    "kernel_diagonal",
    "neighbour_table",
    "ritz_eigenvalues",
    "size_label",
    "spectrum_error",
    "subsample_cell",
    "subsample_indices",
    "vicreg_inv_coeff",
]

DATASETS = ("abalone", "fifa", "kings_county")
"""The datasets of Table 2 (App. D)."""

PAPER_SIZES = (100, 300, 600, 1000, 2000)
"""The subsample sizes ``m`` of Table 2 besides the full data."""

FULL = "full"
"""The value of ``m`` that stands for the whole dataset."""

PAPER_TABLE2: dict[str, dict[int | str, float]] = {
    "abalone": {100: 0.157, 300: 0.124, 600: 0.088, 1000: 0.104, 2000: 0.110, FULL: 0.088},
    "fifa": {100: 0.218, 300: 0.151, 600: 0.137, 1000: 0.134, 2000: 0.133, FULL: 0.131},
    "kings_county": {100: 0.278, 300: 0.264, 600: 0.190, 1000: 0.183, 2000: 0.177,
                     FULL: 0.177},
}
r"""Table 2 of the paper: :math:`\frac1{d_0}\sum_{i\le d_0}|\hat\lambda_i-s_i^2|` per dataset
and ``m`` (``d0 = 256``, KNN with ``K = 60``)."""

_TAG_CAP, _TAG_SUBSAMPLE = 14_001, 14_002  # independent random streams (cap, subsamples)
_INV_BASE = 25.0  # VICReg coefficient of Bardes et al. (2022), as in the reference code


def size_label(m: int | str) -> str:
    """``"100"``, ..., ``"full"``: the column label of a subsample size in Table 2 (App. D)."""
    if m == FULL:
        return FULL
    return str(check_int("m", m, lo=1))


def _check_size(m: Any) -> int | str:
    if m == FULL:
        return FULL
    if isinstance(m, str):
        raise ValueError(f"m must be a positive integer or {FULL!r}, got {m!r}")
    return check_int("m", m, lo=2)


# --------------------------------------------------------------------------------------------
# data, context and subsamples
# --------------------------------------------------------------------------------------------

def full_data(dataset: str, *, n_cap: int | None = None, seed: int = 0) -> np.ndarray:
    """The rows of ``dataset`` that stand for "the full data" of Table 2 (App. D).

    All rows of :func:`contexture.data.load` (``seed=None``: the preprocessing is fitted on
    every row; categorical features one-hot, numeric ones standardised), or, when the dataset
    has more than ``n_cap`` rows, a seeded subset of ``n_cap`` of them in their original order
    (the ``smoke`` profile's slice; assumed). Chapter ``ch14_spectrum_subsample``.
    """
    seed = check_int("seed", seed, lo=0)
    X = load(dataset).X
    if n_cap is not None:
        n_cap = check_int("n_cap", n_cap, lo=4)
        if X.shape[0] > n_cap:
            rng = np.random.default_rng([seed, _TAG_CAP])
            X = X[np.sort(rng.choice(X.shape[0], size=n_cap, replace=False))]
    return np.ascontiguousarray(X, dtype=np.float64)


@functools.lru_cache(maxsize=2)
def full_context(dataset: str, n_cap: int | None, data_seed: int, k: int
                 ) -> tuple[np.ndarray, KNNContext]:
    """``(X, context)``: :func:`full_data` and its KNN context with ``K = k`` (App. D: K = 60).

    ``P+(a | x) = 1/K`` on the ``K`` nearest rows of ``x`` (itself included,
    :func:`contexture.contexts.knn_context`). Cached per process (the cells of one dataset
    share it; the result is read-only). Chapter ``ch14_spectrum_subsample``.
    """
    X = full_data(dataset, n_cap=n_cap, seed=data_seed)
    k = check_int("k", k, lo=1, hi=X.shape[0])
    X.setflags(write=False)
    return X, knn_context(X, k)


def subsample_indices(n: int, m: int | str, seed: int) -> np.ndarray:
    """The sorted rows of the size-``m`` subsample of ``n`` points (``m = "full"``: all rows).

    The first ``m`` entries of one seeded permutation of ``range(n)``, so that the subsamples of
    one seed are nested (the 100 points are among the 300, ...); this lowers the noise between
    the columns of Table 2 (assumed; the paper draws "a random subset of m samples").
    Chapter ``ch14_spectrum_subsample``.

    Raises
    ------
    ValueError
        for ``m`` larger than ``n`` or below 2.
    """
    n = check_int("n", n, lo=2)
    m = _check_size(m)
    if m == FULL:
        return np.arange(n)
    if m > n:
        raise ValueError(f"m must be at most the number of rows n = {n} (or {FULL!r}), got {m}")
    perm = np.random.default_rng([check_int("seed", seed, lo=0), _TAG_SUBSAMPLE]).permutation(n)
    return np.sort(perm[:m])


def neighbour_table(context: KNNContext) -> np.ndarray:
    """``(n, K)`` indices of the ``K`` neighbours of every point (the support of ``P+(. | x)``).

    Read from the context's CSR conditional (every row holds exactly ``K`` entries of ``1/K``).
    Used to draw positive pairs for App. D's training; chapter ``ch14_spectrum_subsample``.
    """
    if not isinstance(context, KNNContext):
        raise TypeError(f"context must be a KNNContext, got {type(context).__name__}")
    P = sp.csr_matrix(context.conditional)
    counts = np.diff(P.indptr)
    if np.any(counts != context.k):
        raise ValueError(f"every row of the KNN conditional must hold K = {context.k} entries")
    return context.a_index[P.indices].reshape(P.shape[0], context.k)


# --------------------------------------------------------------------------------------------
# the App. D estimator and the metric of Table 2
# --------------------------------------------------------------------------------------------

def ritz_eigenvalues(phi: Any, context: KNNContext, rows: np.ndarray | None = None,
                     *, ridge: float = 1e-8) -> np.ndarray:
    r"""App. D: the eigenvalues of :math:`B_\Phi v=\lambda C_\Phi v`, descending (all ``d1``).

    ``phi`` (``n x d1``) is the encoder at every point of the context. With ``rows = None`` the
    moments are taken over the full data: :math:`C_\Phi=\mathrm{Cov}[\Phi]` under the uniform
    :math:`P_{\mathcal X}` and :math:`B_\Phi=\tilde\Phi^\top\,T_{k_X^+}\tilde\Phi/n` with the
    exact integral operator of the dual kernel applied matrix-free
    (:func:`contexture.operators.kernel_x_operator`, O(nK) per column). These are the
    Rayleigh-Ritz values of :math:`T_{k_X^+}` on :math:`\mathrm{span}(\tilde\Phi)`, so by the
    Poincaré separation theorem :math:`\hat\lambda_i\le s_i^2` for every ``i``. With ``rows``
    (a subsample ``S`` of ``m`` points) both moments are Monte-Carlo estimates on ``S`` alone:
    :math:`C` is the covariance over ``S`` and
    :math:`B=\frac1{m^2}\sum_{x,x'\in S}\tilde\Phi(x)k_X^+(x,x')\tilde\Phi(x')^\top` (a
    V-statistic: it includes the diagonal :math:`k_X^+(x,x)`, see :func:`kernel_diagonal`).
    Both call :func:`contexture.learning.training.posthoc_reduce` (relative ridge ``ridge``).
    Chapter ``ch14_spectrum_subsample``.
    """
    F = check_matrix("phi", phi)
    if not isinstance(context, KNNContext):
        raise TypeError(f"context must be a KNNContext, got {type(context).__name__}")
    n = context.shape[0]
    if F.shape[0] != n:
        raise ValueError(f"phi must have one row per point of the context ({n}), got shape "
                         f"{F.shape}")
    if rows is None:
        op = kernel_x_operator(context, matrix_free=True)
        return posthoc_reduce(F, 1, apply_kernel=lambda G: op @ G, ridge=ridge).eigenvalues
    idx = np.asarray(rows)
    if idx.ndim != 1 or idx.size < 2 or not np.issubdtype(idx.dtype, np.integer) \
            or idx.min() < 0 or idx.max() >= n or np.unique(idx).size != idx.size:
        raise ValueError(f"rows must be at least 2 distinct row indices in [0, {n - 1}]")
    PS = sp.csr_matrix(context.conditional)[idx]
    K_SS = (PS @ sp.diags(1.0 / context.pa) @ PS.T).tocsr()
    m = idx.size
    return posthoc_reduce(F[idx], 1, apply_kernel=lambda G: (K_SS @ G) / m,
                          ridge=ridge).eigenvalues


def _top_pair(lam: Any, s2: Any, d0: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``d0`` estimated and exact eigenvalues, checked to be 1-d with enough values."""
    a = check_matrix("lam", lam, ndim=1)
    b = check_matrix("s2", s2, ndim=1)
    if a.size < d0 or b.size < d0:
        raise ValueError(f"lam and s2 must hold at least d0 = {d0} values, got {a.size} and "
                         f"{b.size}")
    return a[:d0], b[:d0]


def spectrum_error(lam: Any, s2: Any, d0: int) -> float:
    r"""The error of Table 2: :math:`\frac1{d_0}\sum_{i\le d_0}|\hat\lambda_i-s_i^2|` (App. D).

    ``lam`` and ``s2`` are descending (nontrivial) eigenvalues, at least ``d0`` of each.
    Chapter ``ch14_spectrum_subsample``.
    """
    a, b = _top_pair(lam, s2, check_int("d0", d0, lo=1))
    return float(np.mean(np.abs(a - b)))


def vicreg_inv_coeff(out_dim: int, invariance: str = "mean") -> float:
    """The invariance weight passed to :func:`contexture.learning.objectives.vicreg_loss_batch`.

    The library sums the invariance over the ``out_dim`` output coordinates; the reference
    implementation of VICReg (Bardes et al. 2022) averages it, which is ``25 / out_dim`` here
    (``invariance = "mean"``); ``"sum"`` gives 25. App. D trains with VICReg; chapter
    ``ch14_spectrum_subsample``.
    """
    out_dim = check_int("out_dim", out_dim, lo=1)
    check_choice("invariance", invariance, ["mean", "sum"])
    return _INV_BASE / out_dim if invariance == "mean" else _INV_BASE


def kernel_diagonal(context: KNNContext, rows: np.ndarray | None = None) -> float:
    r"""Mean of :math:`k_X^+(x,x)` over ``rows`` (all points by default).

    For a KNN context :math:`k_X^+(x,x)=\sum_{a\in N_K(x)}\frac{1}{K^2P_{\mathcal A}(a)}`, about
    :math:`n/K` when every point has about ``K`` in-neighbours. In the subsample estimate of
    :func:`ritz_eigenvalues` the diagonal adds about this value divided by ``m`` to every
    Rayleigh quotient (App. D's Monte-Carlo step; derived in the chapter).
    Chapter ``ch14_spectrum_subsample``.
    """
    P = sp.csr_matrix(context.conditional)
    diag = np.asarray(P.multiply(P).multiply(1.0 / context.pa[None, :]).sum(axis=1)).ravel()
    return float(diag.mean() if rows is None else diag[np.asarray(rows)].mean())


# --------------------------------------------------------------------------------------------
# sweep cells
# --------------------------------------------------------------------------------------------

def exact_spectrum_cell(dataset: str, *, k: int, d0: int, n_cap: int | None = None,
                        data_seed: int = 0) -> dict[str, Any]:
    r"""Ground truth of Table 2: the exact :math:`s_1^2..s_{d_0}^2` of the KNN context (App. D).

    Kernel PCA on the dual kernel of the full data's KNN context, computed by
    :func:`contexture.spectra.svd` (``solver="auto"``: the matrix-free block Krylov solver for a
    KNN context with more than 1,500 points, which never forms the ``n x n`` kernel; every pair
    certified by its residual). Returns ``s2`` (``d0``, the trivial 1 excluded), the certified
    ``residual``, the solver, ``n``, ``p``, ``kernel_diag`` (:func:`kernel_diagonal`) and
    ``seconds``. Chapter ``ch14_spectrum_subsample``.
    """
    t0 = time.perf_counter()
    X, ctx = full_context(dataset, n_cap, data_seed, k)
    d0 = check_int("d0", d0, lo=1, hi=X.shape[0] - 1)
    system = svd(ctx, d0, seed=data_seed)
    return {"s2": system.s[1:] ** 2, "residual": float(system.residual),
            "solver": system.solver, "n": int(X.shape[0]), "p": int(X.shape[1]),
            "kernel_diag": kernel_diagonal(ctx), "seconds": time.perf_counter() - t0}


class _PairLoss:
    """VICReg on positive pairs ``(a, a+)`` drawn from ``P+(. | x)`` at anchors ``x`` (Sec. 3.2).

    Each call draws ``batch`` anchors without replacement (all anchors when there are fewer),
    then two independent neighbours of each, with torch's global generator (seeded by ``train``).
    """

    def __init__(self, X: torch.Tensor, nbrs: torch.Tensor, batch: int, coeffs: dict[str, float]
                 ) -> None:
        self.X, self.nbrs, self.batch, self.coeffs = X, nbrs, batch, coeffs

    def __call__(self, encoder: torch.nn.Module, _: Any) -> torch.Tensor:
        n_anchor, k = self.nbrs.shape
        dev = self.nbrs.device
        if n_anchor > self.batch:
            rows = torch.randperm(n_anchor, device=dev)[: self.batch]
        else:
            rows = torch.arange(n_anchor, device=dev)
        pick = torch.randint(k, (rows.numel(), 2), device=dev)
        nb = self.nbrs[rows]
        a = nb.gather(1, pick[:, :1])[:, 0]
        b = nb.gather(1, pick[:, 1:])[:, 0]
        return vicreg_loss_batch(encoder(self.X[a]), encoder(self.X[b]), **self.coeffs)


def _embed(encoder: torch.nn.Module, X: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    with torch.no_grad():
        parts = [encoder(X[i:i + chunk]).double().cpu().numpy() for i in range(0, len(X), chunk)]
    return np.concatenate(parts)


def _thin(values: np.ndarray, n_keep: int = 64) -> np.ndarray:
    if values.size <= n_keep:
        return values.copy()
    return values[np.unique(np.linspace(0, values.size - 1, n_keep).round().astype(int))]


def subsample_cell(dataset: str, m: int | str, seed: int, *, k: int, d0: int,
                   n_cap: int | None = None, data_seed: int = 0, width: int, out_dim: int,
                   steps: int, lr: float, weight_decay: float, batch: int,
                   invariance: str = "mean", var_coeff: float = 25.0, cov_coeff: float = 1.0,
                   neighbours_from: str = "subsample", device: str = "cpu") -> dict[str, Any]:
    r"""One cell of Table 2: train on a size-``m`` subsample, estimate the spectrum (App. D).

    1. The full data's KNN context (:func:`full_context`) and the subsample
       ``S`` (:func:`subsample_indices` with ``seed``).
    2. A 2-layer Tanh network (:class:`contexture.learning.encoders.MLP` with ``depth = 1``:
       ``in -> width -> out_dim``) trained by :func:`contexture.learning.training.train`
       (AdamW, ``steps`` updates, seeded) on VICReg
       (:func:`contexture.learning.objectives.vicreg_loss_batch`, invariance weight
       :func:`vicreg_inv_coeff`, ``var_coeff``, ``cov_coeff``) of positive pairs
       :math:`(a, a^+)`, two independent draws of :math:`P^+(\cdot\mid x)` at anchors
       :math:`x\in S` (Sec. 3.2's multi-view pairs; ``batch`` anchors per step). With
       ``neighbours_from = "subsample"`` (default) the context is a KNN context built on ``S``
       alone (``K`` clipped to ``m``), so that the network sees only the ``m`` points; with
       ``"full"`` it is the full data's context queried at the anchors in ``S`` (the
       neighbours may lie outside ``S``).
    3. :func:`ritz_eigenvalues` of the trained network on the full data (``lam``) and on ``S``
       (``lam_sub``; the same as ``lam`` when ``S`` is all of the data), and, for the full
       data only (it does not depend on ``m``), of the untrained network (``lam_init``; empty
       otherwise).

    Returns those three (``d0`` each), the thinned loss curve, the final loss, the sizes and
    the seconds spent. The error of Table 2 is :func:`spectrum_error` of ``lam`` against
    :func:`exact_spectrum_cell`'s ``s2``. ``device = "cuda"`` moves the network and the data to
    the GPU (CPU is the reference). Chapter ``ch14_spectrum_subsample``.

    Raises
    ------
    ValueError
        for ``out_dim < d0`` (App. D needs an output dimension of at least ``d0``) or a bad
        argument; ``FloatingPointError`` (from ``train``) when the loss becomes non-finite.
    """
    t0 = time.perf_counter()
    d0 = check_int("d0", d0, lo=1)
    out_dim = check_int("out_dim", out_dim, lo=1)
    if out_dim < d0:
        raise ValueError(f"out_dim must be at least d0 = {d0} (App. D estimates d0 eigenvalues "
                         f"from the network's outputs), got {out_dim}")
    width = check_int("width", width, lo=1)
    steps = check_int("steps", steps, lo=0)
    batch = check_int("batch", batch, lo=2)
    check_float("lr", lr, lo=0.0, lo_open=True)
    check_float("weight_decay", weight_decay, lo=0.0)
    check_choice("neighbours_from", neighbours_from, ["full", "subsample"])
    check_choice("device", device, ["cpu", "cuda"])
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    coeffs = {"inv_coeff": vicreg_inv_coeff(out_dim, invariance),
              "var_coeff": check_float("var_coeff", var_coeff, lo=0.0),
              "cov_coeff": check_float("cov_coeff", cov_coeff, lo=0.0)}
    X, ctx = full_context(dataset, n_cap, data_seed, k)
    n = X.shape[0]
    if d0 > n - 1:
        raise ValueError(f"d0 must be at most n - 1 = {n - 1}, got {d0}")
    S = subsample_indices(n, m, seed)
    if neighbours_from == "full" or S.size == n:
        nbrs = neighbour_table(ctx)[S]
    else:
        sub = knn_context(X[S], min(k, S.size))
        nbrs = S[neighbour_table(sub)]
    dev = torch.device(device)
    Xt = torch.as_tensor(np.array(X, dtype=np.float32), device=dev)
    loss = _PairLoss(Xt, torch.as_tensor(nbrs, device=dev), batch, coeffs)

    def factory() -> MLP:
        return MLP(X.shape[1], width, 1, out_dim, activation="tanh").to(dev)

    lam_init = np.empty(0)
    if S.size == n:  # the baseline does not depend on m (same seed, same initialisation)
        seed_everything(seed)
        lam_init = ritz_eigenvalues(_embed(factory(), Xt), ctx)[:d0]
    t1 = time.perf_counter()
    hist = train(factory, loss, None, steps, lr=lr, weight_decay=weight_decay, seed=seed,
                 progress=False, desc=f"{dataset} m={size_label(m)}")
    t2 = time.perf_counter()
    hist.encoder.eval()
    phi = _embed(hist.encoder, Xt)
    lam = ritz_eigenvalues(phi, ctx)[:d0]
    lam_sub = lam.copy()
    if S.size < n:
        lam_sub[:] = 0.0
        top = ritz_eigenvalues(phi, ctx, S)[:d0]
        lam_sub[:top.size] = top
    return {"lam": lam, "lam_sub": lam_sub, "lam_init": lam_init, "n": int(n),
            "m_used": int(S.size), "n_anchor_nbrs": int(np.unique(nbrs).size),
            "kernel_diag_sub": kernel_diagonal(ctx, S), "final_loss": float(hist.final_loss),
            "loss_curve": _thin(np.r_[hist.loss, hist.final_loss]),
            "seconds_train": t2 - t1, "seconds": time.perf_counter() - t0}


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------

_EXACT_KEYS = ("datasets", "k", "d0", "n_cap", "seed")
_TRAIN_KEYS = _EXACT_KEYS + ("subsample_sizes", "n_seeds", "width", "out_dim", "steps", "lr",
                             "weight_decay", "batch", "invariance", "var_coeff", "cov_coeff",
                             "neighbours_from", "device")


def _missing(params: Mapping[str, Any], keys: Sequence[str], name: str) -> None:
    absent = [key for key in keys if key not in params]
    if absent:
        raise KeyError(f"chapter parameters lack {absent} for the {name} sweep")


def _datasets(params: Mapping[str, Any]) -> list[str]:
    names = list(params["datasets"])
    if not names or len(set(names)) != len(names):
        raise ValueError(f"datasets must be a non-empty list of distinct names, got {names}")
    return names


def _cap(params: Mapping[str, Any]) -> int | None:
    cap = params["n_cap"]
    return None if cap is None else check_int("n_cap", cap, lo=4)


def build_exact(params: Mapping[str, Any]) -> Sweep:
    """The sweep ``spectrum_subsample_exact``: one exact spectrum per dataset (Table 2's truth).

    ``params`` holds the chapter's ``datasets``, ``k``, ``d0``, ``n_cap`` and ``seed``.
    App. D; chapter ``ch14_spectrum_subsample``.

    Raises
    ------
    KeyError
        when a parameter is missing; ``ValueError`` for an empty or repeated dataset list.
    """
    _missing(params, _EXACT_KEYS, "spectrum_subsample_exact")
    fixed = {"k": check_int("k", params["k"], lo=1), "d0": check_int("d0", params["d0"], lo=1),
             "n_cap": _cap(params), "data_seed": check_int("seed", params["seed"], lo=0)}
    return Sweep("spectrum_subsample_exact", exact_spectrum_cell,
                 Grid(dataset=_datasets(params)), fixed=fixed)


def _train_sweep(params: Mapping[str, Any], name: str, reading: str, with_full: bool) -> Sweep:
    _missing(params, _TRAIN_KEYS, name)
    sizes = [check_int(f"subsample_sizes[{i}]", v, lo=2)
             for i, v in enumerate(params["subsample_sizes"])]
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"subsample_sizes must be a non-empty list of distinct sizes, got "
                         f"{sizes}")
    d0 = check_int("d0", params["d0"], lo=1)
    if check_int("out_dim", params["out_dim"], lo=1) < d0:
        raise ValueError(f"out_dim must be at least d0 = {d0}, got {params['out_dim']}")
    seed = check_int("seed", params["seed"], lo=0)
    n_seeds = check_int("n_seeds", params["n_seeds"], lo=1)
    fixed = {"k": check_int("k", params["k"], lo=1), "d0": d0, "n_cap": _cap(params),
             "data_seed": seed}
    fixed.update({key: params[key] for key in ("width", "out_dim", "steps", "lr",
                                               "weight_decay", "batch", "invariance",
                                               "var_coeff", "cov_coeff", "device")})
    fixed["neighbours_from"] = check_choice("neighbours_from", reading, ["full", "subsample"])
    sizes = sorted(sizes) + ([FULL] if with_full else [])
    grid = Grid(dataset=_datasets(params), m=sizes, seed=[seed + r for r in range(n_seeds)])
    return Sweep(name, subsample_cell, grid, fixed=fixed)


def build(params: Mapping[str, Any]) -> Sweep:
    """The sweep ``spectrum_subsample``: dataset x m x seed, one trained network per cell.

    ``m`` runs over ``params["subsample_sizes"]`` and ``"full"``; the seeds are ``seed``,
    ``seed + 1``, ..., ``n_seeds`` of them (each draws its own subsample and initialisation);
    the pairs follow ``params["neighbours_from"]``. Table 2 and Fig. 7 (App. D); chapter
    ``ch14_spectrum_subsample``.

    Raises
    ------
    KeyError
        when a parameter is missing; ``ValueError`` for repeated sizes or datasets, or
        ``out_dim < d0``.
    """
    return _train_sweep(params, "spectrum_subsample", params.get("neighbours_from", ""), True)


def build_reading(params: Mapping[str, Any]) -> Sweep:
    """The sweep ``spectrum_subsample_reading``: the other reading of "trained on m samples".

    The same grid as :func:`build` without the full data (where both readings coincide), with
    the pairs drawn the other way (``neighbours_from`` flipped between ``"subsample"`` and
    ``"full"``). App. D; chapter ``ch14_spectrum_subsample``.

    Raises
    ------
    KeyError, ValueError
        as :func:`build`.
    """
    _missing(params, _TRAIN_KEYS, "spectrum_subsample_reading")
    reading = check_choice("neighbours_from", params["neighbours_from"], ["full", "subsample"])
    other = "full" if reading == "subsample" else "subsample"
    return _train_sweep(params, "spectrum_subsample_reading", other, False)


SWEEPS = {"spectrum_subsample_exact": build_exact, "spectrum_subsample": build,
          "spectrum_subsample_reading": build_reading}
"""The sweeps of this chapter, for ``python -m bookbuild sweep spectrum_subsample``."""


# --------------------------------------------------------------------------------------------
# the two findings of App. D
# --------------------------------------------------------------------------------------------

def as_good_as_full(err_m: float, err_full: float, rel_tol: float) -> bool:
    """App. D's "m is as good as the full data", made precise: ``err_m <= (1 + rel_tol) err_full``.

    Chapter ``ch14_spectrum_subsample`` (assumed rule; the paper states the finding in words).
    """
    rel_tol = check_float("rel_tol", rel_tol, lo=0.0)
    a = check_float("err_m", err_m, lo=0.0)
    b = check_float("err_full", err_full, lo=0.0)
    return bool(a <= (1.0 + rel_tol) * b)


@dataclass(frozen=True)
class DecaySummary:
    r"""How an estimated spectrum decays against the truth (App. D, Fig. 7).

    ``ratio_head`` / ``ratio_tail``: mean of :math:`\hat\lambda_i/s_i^2` over the first and the
    last tenth of ``i <= d0``; ``rate_est`` / ``rate_true``: the decay rates of the fit
    :math:`e^{-\lambda i}` (:func:`contexture.metrics.decay_rate`); ``below``: share of ``i``
    with :math:`\hat\lambda_i\le s_i^2`; ``half_est`` / ``half_true``: the first ``i`` with a
    value below half of the first one (``d0 + 1`` if none).
    """

    ratio_head: float
    ratio_tail: float
    rate_est: float
    rate_true: float
    below: float
    half_est: int
    half_true: int

    @property
    def faster(self) -> bool:
        """Decays faster: the ratio to the truth falls from the head to the tail, and the
        fitted rate is larger."""
        return self.ratio_tail < self.ratio_head and self.rate_est > self.rate_true


def _half_index(v: np.ndarray) -> int:
    below = np.flatnonzero(v < 0.5 * v[0])
    return int(below[0]) + 1 if below.size else v.size + 1


def decay_summary(lam: Any, s2: Any, d0: int) -> DecaySummary:
    r"""Compare the decay of :math:`\hat\lambda_{1..d_0}` with :math:`s^2_{1..d_0}` (Fig. 7).

    App. D finds that "estimated eigenvalues decay faster than the ground truth". Returns a
    :class:`DecaySummary`. Chapter ``ch14_spectrum_subsample``.

    Raises
    ------
    ValueError
        when fewer than ``d0`` values are given, ``d0 < 10`` or the truth has a zero among them.
    """
    a, b = _top_pair(lam, s2, check_int("d0", d0, lo=10))
    if np.any(b <= 0):
        raise ValueError("s2 must be positive for i <= d0 (the ratio lam_i / s_i^2)")
    r = a / b
    tenth = max(1, d0 // 10)
    return DecaySummary(ratio_head=float(r[:tenth].mean()), ratio_tail=float(r[-tenth:].mean()),
                        rate_est=decay_rate(np.clip(a, 0.0, None)), rate_true=decay_rate(b),
                        below=float(np.mean(a <= b)), half_est=_half_index(a),
                        half_true=_half_index(b))
