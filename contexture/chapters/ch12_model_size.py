r"""Diminishing returns of model size: calculators for the chapter ``ch12_model_size``.

The paper's Fig. 1 (Sec. 4.2, App. E; arXiv v2 numbering) trains fully connected Tanh encoders
with skip connections on abalone with a KNN context (``K = 30``, ``A = X``), with VICReg and
full-batch AdamW, and measures how well the learned ``d = 128``-dimensional span aligns with the
exact top-128 singular functions (kernel PCA on the dual kernel) as the width and the depth grow.
The encoders output ``d1 = 512`` dimensions, reduced to 128 by the generalised eigenproblem of
App. D (:func:`contexture.learning.training.posthoc_reduce`). This module holds what only the
chapter needs:

* :func:`parse_context`, :func:`context_problem`, :class:`ContextProblem` -- a KNN context (or
  an equal-weight mixture of KNN contexts) on the pretraining part of the 70/15/15 split, its
  exact top-``d`` singular functions and their Lemma-3 extension to the held-out points;
* :class:`PositivePairSampler`, :func:`encode` -- the two ways a network becomes an encoder of
  the inputs: the average encoder :math:`T\Psi` of a network trained on pairs of context
  points (Sec. 3.2, Corollary 9), or the network itself trained on pairs ``(x, x+)`` that
  share a context point (whose law is the dual kernel ``k_X^+``);
* :func:`train_encoder`, :func:`evaluate_encoder` -- VICReg training of the MLP on every
  pretraining point at once and the alignment of the reduced encoder with the exact one (CCA
  :math:`R^2`, mutual KNN), the effective rank of its covariance and a ridge probe;
* :func:`model_size_cell`, :func:`build`, :func:`build_long`, :data:`SWEEPS` -- the chapter's
  resumable width x depth x seed grid (plus the context and loss-convention points) and the
  longer run;
* :func:`vicreg_optimal_variances` -- the output variances of the VICReg minimiser under the
  two invariance conventions (derived here);
* :func:`seed_summary`, :func:`interior_optimum` -- summaries of Fig. 1.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from contexture.base.checks import check_choice, check_float, check_int
from contexture.evaluation import (
    ExactEncoder,
    PreparedData,
    exact_encoder,
    prepare_dataset,
    ridge_path,
    sample_sq_dists,
    top_k_sorted,
)
from contexture.learning.encoders import MLP
from contexture.learning.objectives import VICREG_INVARIANCE, vicreg_loss_batch
from contexture.learning.training import TrainHistory, check_device, posthoc_reduce, train
from contexture.metrics.alignment import (
    canonical_correlations,
    effective_rank,
    mutual_knn_alignment,
)
from contexture.sweeps import Grid, Sweep

__all__ = [
    "DATASET",
    "RANK_RTOL",
    "ENCODERS",
    "PAPER",
    "SWEEPS",
    "ContextProblem",
    "PositivePairSampler",
    "build",
    "build_long",
    "cca_over_target",
    "context_problem",
    "encode",
    "evaluate_encoder",
    "interior_optimum",
    "model_size_cell",
    "parse_context",
    "seed_summary",
    "train_encoder",
    "vicreg_optimal_variances",
]

DATASET = "abalone"
"""The dataset of the paper's Fig. 1 (App. E)."""

PAPER = {"cca_peak": 0.9, "mknn_peak": 0.8, "best_width_at_depth_3": 512, "k": 30, "d": 128,
         "d1": 512, "n_seeds": 15, "mknn_k": 10}
"""What the paper states about Fig. 1 (Sec. 4.2, App. E): the peaks (CCA about 0.9, mutual KNN
above 0.8), the best width at depth 3 (512, above 1024 and 2048) and the setting."""

_CONTEXT = re.compile(r"^knn(\d+)$")


def parse_context(context: str) -> list[int]:
    """The neighbourhood sizes of a context name: ``"knn30"`` or a mixture ``"knn5+knn150"``.

    A mixture of ``r`` KNN contexts is the equal-weight mixture of their conditionals,
    :math:`P^+(a\\mid x)=\\frac1r\\sum_lP^+_{K_l}(a\\mid x)`. Returns the sizes in the order
    given. Chapter ``ch12_model_size`` (Sec. 4.2: "better contexts").

    Raises
    ------
    ValueError
        for a name that is not ``knnK`` terms joined by ``+`` or a repeated size.
    """
    if not isinstance(context, str) or not context:
        raise ValueError(f"context must be a name such as 'knn30' or 'knn5+knn150', "
                         f"got {context!r}")
    ks = []
    for part in context.split("+"):
        match = _CONTEXT.match(part)
        if match is None:
            raise ValueError(f"context must be 'knnK' terms joined by '+' (e.g. 'knn30', "
                             f"'knn5+knn150'), got {context!r}")
        ks.append(check_int(f"K in context {context!r}", int(match.group(1)), lo=1))
    if len(set(ks)) != len(ks):
        raise ValueError(f"context {context!r} repeats a neighbourhood size")
    return ks


@dataclass(frozen=True, eq=False)
class ContextProblem:
    r"""A sample context on abalone's pretraining part and its exact top-``d`` encoder.

    Attributes
    ----------
    prep : the prepared split (pretraining, downstream-labelled and test parts; targets
        standardised with the downstream statistics).
    context : the context name (:func:`parse_context`).
    P : ``(n + m + t) x n`` CSR conditional :math:`P^+(x_j\mid x)` of every point (pretraining
        rows first, then downstream, then test) on the ``n`` pretraining points.
    exact : the exact top-``d`` nontrivial singular system on the pretraining points (kernel
        PCA on the dual kernel, :func:`contexture.evaluation.exact_encoder`).
    mu_heldout : ``(m + t) x d`` :math:`\mu_1..\mu_d` at the held-out points (Lemma 3).

    Fig. 1 (Sec. 4.2, App. E); chapter ``ch12_model_size``.
    """

    prep: PreparedData
    context: str
    P: sp.csr_matrix
    exact: ExactEncoder
    mu_heldout: np.ndarray

    @property
    def n(self) -> int:
        """Number of pretraining points."""
        return self.prep.n

    @property
    def d(self) -> int:
        """Dimension of the exact encoder."""
        return int(self.exact.s.size)

    @property
    def P_pre(self) -> sp.csr_matrix:
        """The ``n x n`` conditional on the pretraining points."""
        return self.P[: self.n]

    @property
    def X_heldout(self) -> np.ndarray:
        """Downstream-labelled then test features (the alignment is measured on these)."""
        return np.vstack([self.prep.X_train, self.prep.X_test])

    @property
    def n_train(self) -> int:
        """Number of downstream-labelled points (the first rows of the held-out part)."""
        return int(self.prep.X_train.shape[0])

    def dual_kernel(self, F: np.ndarray) -> np.ndarray:
        r""":math:`T_{k_X^+}F` on the pretraining points (the operator of App. D's :math:`B_\Phi`).

        :math:`(T_{k_X^+}f)(x_i)=\frac1n\sum_jk_X^+(x_i,x_j)f(x_j)=\sum_aP^+(a\mid x_i)
        \frac{1}{np_A(a)}\sum_jP^+(a\mid x_j)f(x_j)`, two sparse products.
        """
        P = self.P_pre
        pa = np.asarray(P.mean(axis=0)).ravel()
        return np.asarray(P @ ((P.T @ F) / (self.n * pa)[:, None]))


def _knn_conditional(rows: np.ndarray, X_pre: np.ndarray, ks: Sequence[int]) -> sp.csr_matrix:
    """Equal-weight mixture of KNN conditionals of every row on the pretraining points."""
    n = X_pre.shape[0]
    r = rows.shape[0]
    nbr = top_k_sorted(sample_sq_dists(rows, X_pre), max(ks), n)
    out = sp.csr_matrix((r, n))
    for k in ks:
        out = out + sp.csr_matrix((np.full(r * k, 1.0 / (k * len(ks))), nbr[:, :k].ravel(),
                                   np.arange(0, r * k + 1, k)), shape=(r, n))
    out.sort_indices()
    return out


@functools.lru_cache(maxsize=4)
def context_problem(context: str = "knn30", d: int = 128, seed: int = 0, *,
                    n_pretrain_cap: int | None = None, n_eval_cap: int | None = None
                    ) -> ContextProblem:
    r"""The context ``context`` on abalone's pretraining part with its exact top-``d`` encoder.

    The seeded 70/15/15 split of :func:`contexture.evaluation.prepare_dataset` (App. E; the
    whole parts unless capped). A KNN context has :math:`P^+(a\mid x)=1/K` on the ``K``
    nearest pretraining points (the point itself first among them, ties by index: assumed, as in
    the library's real-data protocol); a mixture averages its terms (:func:`parse_context`). The
    exact encoder is kernel PCA on the dual kernel (:func:`contexture.evaluation.exact_encoder`,
    float64), extended to the downstream and test points by Lemma 3. Cached per process (the
    sweep cells share it). Fig. 1 (Sec. 4.2, App. E); chapter ``ch12_model_size``.

    Raises
    ------
    ValueError
        for a bad context name, ``d`` outside ``[1, n - 2]`` or ``K`` above ``n``.
    """
    ks = parse_context(context)
    prep = prepare_dataset(DATASET, seed=seed, n_pretrain_cap=n_pretrain_cap,
                           n_eval_cap=n_eval_cap)
    n = prep.n
    for k in ks:
        check_int(f"K in context {context!r}", k, lo=1, hi=n)
    d = check_int("d", d, lo=1, hi=n - 2)
    P = _knn_conditional(prep.rows(), prep.X_pre, ks)
    exact = exact_encoder(P[:n].toarray(), d)
    if exact.s[-1] <= 0:
        raise ValueError(f"s_{d} = 0 for context {context!r}: lower d")
    mu_heldout = exact.extend(P[n:], d)
    return ContextProblem(prep=prep, context=context, P=P, exact=exact,
                          mu_heldout=np.asarray(mu_heldout))


ENCODERS = ("average", "direct")
"""How the network becomes an encoder of the inputs (see :class:`PositivePairSampler`)."""


class PositivePairSampler:
    r"""Full batches of positive pairs from a sample context, for the two encoders of the chapter.

    For every pretraining point ``x`` (repeated ``reps`` times) a call draws one pair of
    indices into the pretraining points, from torch's global generator (seeded by
    :func:`contexture.learning.training.train`) on ``device``:

    * ``kind="average"`` (the multi-view setup of Sec. 3.2): two context points
      ``a, a+ ~ P+(. | x)`` independently. The network is :math:`\Psi` on the context space
      (here ``A = X``, the pretraining points); the non-contrastive loss with
      :math:`\mathrm{Cov}_{P_{\mathcal A}}[\Psi]=I` is minimised by the span of
      :math:`\nu_1..\nu_d` (Theorem 10), and the encoder of the inputs is the average
      encoder :math:`\Phi=T\Psi`, :math:`\Phi(x)=\mathbb E[\Psi(A)\mid x]` (Corollary 9);
    * ``kind="direct"``: the point itself and a point that shares a context point with it,
      ``a ~ P+(. | x)``, ``x+ ~ P+(. | a)`` (:math:`P^+(x^+\mid a)=P^+(a\mid x^+)P_{\mathcal X}
      (x^+)/P_{\mathcal A}(a)`; for a KNN context ``x+`` has ``a`` among its ``K`` nearest
      neighbours). The pair has the law :math:`k_X^+(x,x^+)P_{\mathcal X}(x)P_{\mathcal X}(x^+)`
      of Definition 1 and both members have marginal :math:`P_{\mathcal X}`, so the same loss
      with :math:`\mathrm{Cov}_{P_{\mathcal X}}[\Phi]=I` is minimised by the span of
      :math:`\mu_1..\mu_d` (Theorem 10 for the dual kernel): the network is the encoder of the
      inputs itself.

    Returns ``(i, j)``, each of length ``n * reps``. Fig. 1 (App. E); chapter
    ``ch12_model_size``.
    """

    def __init__(self, P_pre: sp.csr_matrix, kind: str = "average",
                 device: str | torch.device = "cpu") -> None:
        self.kind = check_choice("kind", kind, list(ENCODERS))
        P = sp.csr_matrix(P_pre, dtype=np.float64)
        n = P.shape[0]
        if P.shape != (n, n) or n < 2:
            raise ValueError(f"P_pre must be a square n x n conditional with n >= 2, got shape "
                             f"{P.shape}")
        rows = np.asarray(P.sum(axis=1)).ravel()
        if np.abs(rows - 1.0).max() > 1e-9 or (P.data < 0).any():
            raise ValueError("P_pre must be row-stochastic (nonnegative rows summing to 1)")
        pa = np.asarray(P.mean(axis=0)).ravel()
        if pa.min() <= 0:
            raise ValueError(f"every context point must receive mass, got P_A = 0 at column "
                             f"{int(np.argmin(pa))}")
        post = sp.csr_matrix(P.T.multiply((1.0 / (n * pa))[:, None]))   # rows a: P+(x | a)
        post.sort_indices()
        self.n = n
        self.device = check_device(device)
        self._fwd = self._tables(sp.csr_matrix(P))
        self._back = self._tables(post)

    def _tables(self, M: sp.csr_matrix) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        M.eliminate_zeros()
        counts = np.diff(M.indptr)
        row = np.repeat(np.arange(M.shape[0]), counts)
        cum = np.empty_like(M.data)
        for r0, r1 in zip(M.indptr[:-1], M.indptr[1:], strict=True):
            cum[r0:r1] = np.cumsum(M.data[r0:r1])
        glob = row + cum / cum[M.indptr[1:] - 1][row]      # row r occupies (r, r + 1]
        dev = self.device
        return (torch.as_tensor(glob, dtype=torch.float64, device=dev),
                torch.as_tensor(M.indices, dtype=torch.long, device=dev),
                torch.as_tensor(M.indptr, dtype=torch.long, device=dev))

    @staticmethod
    def _draw(rows: torch.Tensor, tables: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
              generator: torch.Generator | None) -> torch.Tensor:
        glob, indices, indptr = tables
        u = torch.rand(rows.shape[0], dtype=torch.float64, device=rows.device,
                       generator=generator)
        pos = torch.searchsorted(glob, rows.to(torch.float64) + u, right=True)
        pos = torch.minimum(pos, indptr[rows + 1] - 1)
        return indices[pos]

    def __call__(self, reps: int = 1, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        reps = check_int("reps", reps, lo=1)
        x = torch.arange(self.n, device=self.device).repeat(reps)
        a = self._draw(x, self._fwd, generator)
        if self.kind == "average":
            return a, self._draw(x, self._fwd, generator)
        return x, self._draw(a, self._back, generator)


def train_encoder(problem: ContextProblem, width: int, depth: int, *, d1: int = 512,
                  encoder: str = "average", steps: int = 300, lr: float = 3e-3,
                  weight_decay: float = 0.0, schedule: str = "constant",
                  invariance: str = "mean", pairs_per_point: int = 1,
                  coeffs: Sequence[float] = (25.0, 25.0, 1.0), seed: int = 0,
                  device: str = "cpu", progress: bool = False, callback: Any = None,
                  callback_every: int = 0) -> TrainHistory:
    r"""Train the Tanh MLP with skips of Fig. 1 with VICReg on positive pairs, full batch.

    ``MLP(p, width, depth, d1)`` (:class:`contexture.learning.encoders.MLP`: ``depth`` hidden
    layers, skips from the second on) in float32 on ``device``. Every step draws
    ``pairs_per_point`` positive pairs for every pretraining point (:class:`PositivePairSampler`
    of kind ``encoder``) and takes one AdamW step on
    :func:`contexture.learning.objectives.vicreg_loss_batch` of the network's outputs on the
    pairs, with coefficients ``coeffs`` (invariance, variance, covariance; Bardes et al.'s
    25/25/1) and the invariance convention ``invariance`` (``"sum"`` over the ``d1`` outputs or
    ``"mean"``, i.e. ``25 / d1``). The network is evaluated once per step on the ``n``
    pretraining points and the pairs are gathered from that table. Seeded by
    :func:`contexture.learning.training.train` (initialisation and pair draws). Fig. 1
    (Sec. 4.2, App. E); chapter ``ch12_model_size``.
    """
    width = check_int("width", width, lo=1)
    depth = check_int("depth", depth, lo=1)
    d1 = check_int("d1", d1, lo=2)
    pairs_per_point = check_int("pairs_per_point", pairs_per_point, lo=1)
    check_choice("invariance", invariance, list(VICREG_INVARIANCE))
    if len(coeffs) != 3:
        raise ValueError(f"coeffs must be (invariance, variance, covariance), got {coeffs!r}")
    ci, cv, cc = (check_float(f"coeffs[{i}]", c, lo=0.0) for i, c in enumerate(coeffs))
    dev = check_device(device)
    X = torch.as_tensor(problem.prep.X_pre, dtype=torch.float32, device=dev)
    sampler = PositivePairSampler(problem.P_pre, encoder, dev)

    def loss(net: torch.nn.Module, x_all: torch.Tensor) -> torch.Tensor:
        z = net(x_all)
        i, j = sampler(pairs_per_point)
        return vicreg_loss_batch(z[i], z[j], inv_coeff=ci, var_coeff=cv, cov_coeff=cc,
                                 invariance=invariance)

    p = X.shape[1]
    return train(lambda: MLP(p, width, depth, d1), loss, X, steps, lr=lr,
                 weight_decay=weight_decay, seed=seed, progress=progress, schedule=schedule,
                 callback=callback, callback_every=callback_every, device=dev,
                 desc=f"width {width}, depth {depth}")


def _embed(net: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    dev = next(net.parameters()).device
    with torch.no_grad():
        return net(torch.as_tensor(X, dtype=torch.float32, device=dev)).double().cpu().numpy()


RANK_RTOL = 1e-12
"""Directions of Cov[Phi] below this fraction of the largest count as absent: the rounding floor
of the float32 outputs (about 1e-16 of the largest variance here), far below the relative ridge
``1e-8 tr(C) / d1`` of :func:`contexture.learning.training.posthoc_reduce`."""


def cca_over_target(F: Any, mu: Any) -> float:
    r""":math:`R^2_{\rm CCA}` averaged over the ``d`` columns of the target ``mu``.

    :math:`\frac1d\sum_i\rho_i^2` over the canonical correlations of
    :func:`contexture.metrics.alignment.canonical_correlations`; when ``F`` has rank
    ``r < d`` the missing correlations count as 0, so an encoder that spans fewer than ``d``
    directions scores at most ``r / d``. For ``F`` of rank ``d`` it is
    :func:`contexture.metrics.alignment.cca_alignment`. An MLP's outputs are affine in its last
    hidden layer, so a network of width ``w < d`` has rank at most ``w`` (Fig. 1's narrow
    widths). Chapter ``ch12_model_size``.
    """
    target = np.asarray(mu, dtype=np.float64)
    if target.ndim != 2:
        raise ValueError(f"mu must be a 2-D table, got shape {target.shape}")
    rho = canonical_correlations(F, target)
    return float(np.sum(rho**2) / target.shape[1])


def encode(problem: ContextProblem, net: torch.nn.Module, encoder: str = "average"
           ) -> tuple[np.ndarray, np.ndarray]:
    r"""The encoder of the inputs at the pretraining and the held-out points.

    ``"average"``: :math:`\Phi=T\Psi`, :math:`\Phi(x)=\sum_jP^+(x_j\mid x)\Psi(x_j)` with the
    network :math:`\Psi` evaluated on the pretraining points only (the context points; the
    same operator extends :math:`\mu_i=s_i^{-1}T\nu_i` in Lemma 3); ``"direct"``: the network
    itself at every point. Returns ``(Phi_pretrain, Phi_heldout)`` in float64. Sec. 3.2
    (Corollary 9), Fig. 1; chapter ``ch12_model_size``.
    """
    check_choice("encoder", encoder, list(ENCODERS))
    psi = _embed(net, problem.prep.X_pre)
    if encoder == "average":
        n = problem.n
        return np.asarray(problem.P[:n] @ psi), np.asarray(problem.P[n:] @ psi)
    return psi, _embed(net, problem.X_heldout)


def evaluate_encoder(problem: ContextProblem, net: torch.nn.Module, *, encoder: str = "average",
                     mknn_k: int = 10, ridge_grid: Sequence[float] | None = None
                     ) -> dict[str, Any]:
    r"""Reduce a trained encoder by App. D and align it with the exact top-``d`` encoder.

    The encoder :math:`\Phi` of the inputs is :func:`encode` (``encoder``). On the pretraining
    points, :func:`contexture.learning.training.posthoc_reduce` solves
    :math:`B_\Phi v=\lambda C_\Phi v` with the dual kernel of the context and keeps the top
    ``d`` directions (``d`` = the exact encoder's). On the held-out points (downstream-labelled
    and test parts) the reduced encoder is compared with :math:`\mu_1..\mu_d` (Lemma 3):

    * ``cca``: :math:`R^2_{\rm CCA}`, the mean squared canonical correlation over the ``d``
      target dimensions (:func:`cca_over_target`); ``rank``: the number of directions of
      :math:`\mathrm{Cov}[\Phi]` above ``RANK_RTOL`` of the largest (the reduction keeps
      ``min(d, rank)``);
    * ``mknn``: mutual KNN with ``mknn_k`` neighbours after centring and whitening, mean of
      :math:`|N_1\cap N_2|/k` (Huh et al.); ``mknn_iou``: the intersection over union;
    * ``cca_pretrain``: the CCA on the pretraining points (in-sample);
    * ``erank``: the entropy effective rank of :math:`\mathrm{Cov}[\Phi]` of the ``d1`` outputs
      on the pretraining points (before the reduction), ``cov_eigenvalues`` its spectrum,
      descending;
    * ``eigenvalues``: App. D's estimates of :math:`s_1^2..s_d^2`;
    * ``err``: the test MSE of a ridge probe (:func:`contexture.evaluation.ridge_path`) on all
      ``d`` reduced features, fitted on the downstream part (targets standardised).

    Fig. 1 (Sec. 4.2, App. E); chapter ``ch12_model_size``.
    """
    mknn_k = check_int("mknn_k", mknn_k, lo=1)
    phi_pre, phi_held = encode(problem, net, encoder)
    cov_eig = np.clip(np.linalg.eigvalsh(np.cov(phi_pre, rowvar=False)), 0.0, None)[::-1]
    rank = int(np.sum(cov_eig > RANK_RTOL * cov_eig[0])) if cov_eig[0] > 0 else 0
    if rank == 0:
        raise ValueError("the encoder is constant on the pretraining points (zero covariance)")
    d = min(problem.d, rank)
    red = posthoc_reduce(phi_pre, d, apply_kernel=problem.dual_kernel)
    F = red.transform(phi_held)
    mu = problem.mu_heldout
    m = problem.n_train
    kw = {} if ridge_grid is None else {"ridge_grid": ridge_grid}
    path = ridge_path(F[:m], problem.prep.Y_train, F[m:], problem.prep.Y_test, **kw)
    return {
        "cca": cca_over_target(F, mu),
        "rank": rank,
        "mknn": mutual_knn_alignment(F, mu, mknn_k),
        "mknn_iou": mutual_knn_alignment(F, mu, mknn_k, mode="iou"),
        "cca_pretrain": cca_over_target(red.features, problem.exact.mu),
        "erank": effective_rank(phi_pre),
        "cov_eigenvalues": cov_eig,
        "eigenvalues": np.r_[red.eigenvalues[:d], np.zeros(problem.d - d)],
        "err": float(path.err[-1]),
    }


def model_size_cell(width: int, depth: int, seed: int, *, context: str = "knn30",
                    invariance: str = "mean", encoder: str = "average", d: int = 128,
                    d1: int = 512, steps: int = 300, lr: float = 3e-3,
                    weight_decay: float = 0.0, schedule: str = "constant",
                    pairs_per_point: int = 1, mknn_k: int = 10, data_seed: int = 0,
                    n_pretrain_cap: int | None = None, n_eval_cap: int | None = None,
                    device: str = "cpu", curve_points: int = 50) -> dict[str, Any]:
    r"""One encoder of Fig. 1: :func:`train_encoder`, then :func:`evaluate_encoder`.

    ``seed`` seeds the initialisation and the pair draws; ``data_seed`` the split (fixed across
    the grid, so that the seeds vary the network only, like the paper's 15 initialisations).
    Returns the fields of :func:`evaluate_encoder` plus ``loss0``, ``final_loss``,
    ``loss_curve`` (``curve_points`` evenly spaced values of the training loss),
    ``n_params``, ``train_seconds`` and the context's ``err_exact`` (the same probe on the
    exact :math:`\mu_1..\mu_d`). The sweep cell of :func:`build`. Fig. 1 (Sec. 4.2, App. E);
    chapter ``ch12_model_size``.
    """
    problem = context_problem(context, d, data_seed, n_pretrain_cap=n_pretrain_cap,
                              n_eval_cap=n_eval_cap)
    t0 = time.perf_counter()
    hist = train_encoder(problem, width, depth, d1=d1, encoder=encoder, steps=steps, lr=lr,
                         weight_decay=weight_decay, schedule=schedule, invariance=invariance,
                         pairs_per_point=pairs_per_point, seed=seed, device=device)
    seconds = time.perf_counter() - t0
    rec = evaluate_encoder(problem, hist.encoder, encoder=encoder, mknn_k=mknn_k)
    loss = np.r_[hist.loss, hist.final_loss]
    at = np.unique(np.linspace(0, loss.size - 1, max(2, curve_points)).round().astype(int))
    m = problem.n_train
    exact = ridge_path(problem.mu_heldout[:m], problem.prep.Y_train, problem.mu_heldout[m:],
                       problem.prep.Y_test)
    rec.update(loss0=float(loss[0]), final_loss=float(hist.final_loss),
               loss_curve=loss[at], loss_steps=at,
               n_params=int(sum(p.numel() for p in hist.encoder.parameters())),
               train_seconds=float(seconds), err_exact=float(exact.err[-1]),
               n_pretrain=problem.n, n_heldout=int(problem.mu_heldout.shape[0]),
               s_d=float(problem.exact.s[-1]))
    return rec


_BUILD_KEYS = ("widths", "depths", "depth_for_widths", "width_for_depths", "n_seeds",
               "contexts", "context_seeds", "convention_seeds", "encoder", "encoder_seeds", "d",
               "d1", "steps", "lr", "weight_decay", "schedule", "invariance", "pairs_per_point",
               "mknn_k", "seed", "device", "n_pretrain_cap", "n_eval_cap")


def _fixed(params: Mapping[str, Any], steps: int, lr: float, schedule: str) -> dict[str, Any]:
    return {"d": check_int("d", params["d"], lo=1), "d1": check_int("d1", params["d1"], lo=2),
            "steps": check_int("steps", steps, lo=1), "lr": check_float("lr", lr, lo=0.0,
                                                                        lo_open=True),
            "weight_decay": check_float("weight_decay", params["weight_decay"], lo=0.0),
            "schedule": check_choice("schedule", schedule, ["constant", "cosine"]),
            "pairs_per_point": check_int("pairs_per_point", params["pairs_per_point"], lo=1),
            "mknn_k": check_int("mknn_k", params["mknn_k"], lo=1),
            "data_seed": check_int("seed", params["seed"], lo=0),
            "device": str(check_choice("device", params["device"], ["cpu", "cuda"])),
            "n_pretrain_cap": check_int("n_pretrain_cap", params["n_pretrain_cap"], lo=4),
            "n_eval_cap": check_int("n_eval_cap", params["n_eval_cap"], lo=3)}


def _sizes(name: str, values: Any) -> list[int]:
    out = [check_int(f"{name}[{i}]", v, lo=1) for i, v in enumerate(values)]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"{name} must be a non-empty list of distinct sizes, got {out}")
    return out


def build(params: Mapping[str, Any]) -> Sweep:
    """The chapter's sweep ``model_size``: Fig. 1's grids, the contexts and the two conventions.

    Points (``seed`` = initialisation, ``0..n_seeds-1``; context ``knn30``, the invariance
    convention ``invariance`` and the encoder ``encoder`` unless said otherwise):

    * widths ``widths`` at depth ``depth_for_widths`` (top panel of Fig. 1);
    * depths ``depths`` at width ``width_for_depths`` (bottom panel);
    * at (``width_for_depths``, ``depth_for_widths``): every context of ``contexts`` with
      seeds ``0..context_seeds-1`` (Sec. 4.2: a different context), both invariance
      conventions with seeds ``0..convention_seeds-1``, and both encoders
      (:class:`PositivePairSampler`) with seeds ``0..encoder_seeds-1``.

    All points share ``steps``, ``lr``, ``schedule`` and the other fixed settings; points that
    coincide are computed once. ``params`` holds the chapter's parameters named in
    ``_BUILD_KEYS``. Fig. 1 (Sec. 4.2, App. E); chapter ``ch12_model_size``.

    Raises
    ------
    KeyError
        when a parameter is missing; ``ValueError`` for bad values.
    """
    missing = [k for k in _BUILD_KEYS if k not in params]
    if missing:
        raise KeyError(f"chapter parameters lack {missing} for the model_size sweep")
    widths, depths = _sizes("widths", params["widths"]), _sizes("depths", params["depths"])
    w0 = check_int("width_for_depths", params["width_for_depths"], lo=1)
    h0 = check_int("depth_for_widths", params["depth_for_widths"], lo=1)
    seeds = list(range(check_int("n_seeds", params["n_seeds"], lo=1)))
    inv = check_choice("invariance", params["invariance"], list(VICREG_INVARIANCE))
    enc = check_choice("encoder", params["encoder"], list(ENCODERS))
    contexts = list(params["contexts"])
    for c in contexts:
        parse_context(c)
    base = dict(context=["knn30"], invariance=[inv], encoder=[enc])
    grid = (Grid(width=widths, depth=[h0], seed=seeds, **base)
            + Grid(width=[w0], depth=depths, seed=seeds, **base))
    at = dict(width=[w0], depth=[h0])
    n_ctx = check_int("context_seeds", params["context_seeds"], lo=0)
    if contexts and n_ctx:
        grid = grid + Grid(**at, seed=list(range(n_ctx)), context=contexts, invariance=[inv],
                           encoder=[enc])
    n_conv = check_int("convention_seeds", params["convention_seeds"], lo=0)
    if n_conv:
        grid = grid + Grid(**at, seed=list(range(n_conv)), context=["knn30"],
                           invariance=list(VICREG_INVARIANCE), encoder=[enc])
    n_enc = check_int("encoder_seeds", params["encoder_seeds"], lo=0)
    if n_enc:
        grid = grid + Grid(**at, seed=list(range(n_enc)), context=["knn30"], invariance=[inv],
                           encoder=list(ENCODERS))
    fixed = _fixed(params, params["steps"], params["lr"], params["schedule"])
    return Sweep("model_size", model_size_cell, grid, fixed=fixed)


def build_long(params: Mapping[str, Any]) -> Sweep:
    """The sweep ``model_size_long``: a longer training of the encoder ``long_encoder`` at the
    size ``long_width`` x ``long_depth`` with ``long_steps`` steps, ``long_lr`` and
    ``long_schedule`` (seeds ``0..long_seeds-1``): how much of the gap to Fig. 1's peak is the
    optimisation budget. Other settings as :func:`build`.
    Fig. 1 (Sec. 4.2, App. E); chapter ``ch12_model_size``.

    Raises
    ------
    KeyError
        when a parameter is missing.
    """
    keys = ("long_width", "long_depth", "long_steps", "long_lr", "long_schedule", "long_seeds",
            "long_encoder")
    missing = [k for k in keys + _BUILD_KEYS if k not in params]
    if missing:
        raise KeyError(f"chapter parameters lack {missing} for the model_size_long sweep")
    grid = Grid(width=[check_int("long_width", params["long_width"], lo=1)],
                depth=[check_int("long_depth", params["long_depth"], lo=1)],
                seed=list(range(check_int("long_seeds", params["long_seeds"], lo=1))),
                context=["knn30"], invariance=[params["invariance"]],
                encoder=[check_choice("long_encoder", params["long_encoder"], list(ENCODERS))])
    fixed = _fixed(params, params["long_steps"], params["long_lr"], params["long_schedule"])
    return Sweep("model_size_long", model_size_cell, grid, fixed=fixed)


def vicreg_optimal_variances(s2: Any, d1: int, invariance: str = "mean",
                             coeffs: Sequence[float] = (25.0, 25.0, 1.0)) -> np.ndarray:
    r"""Output variances of the VICReg minimiser along :math:`\nu_j`, for each convention.

    Derived here. By the proposition of chapter ``ch03_self_supervised`` a minimiser with a
    nonsingular covariance spans the top right singular functions, with a diagonal covariance
    in that basis (so the covariance penalty vanishes). Along :math:`\nu_j` with variance
    :math:`v` the loss is then (both views with the same marginal, ``eps`` neglected)

    .. math:: f(v)=2\lambda_{\rm inv}'(1-s_j^2)\,v+\frac{2\lambda_{\rm var}}{d_1}
              \max(0,1-\sqrt v),

    with :math:`\lambda_{\rm inv}'=\lambda_{\rm inv}` (``"sum"``) or
    :math:`\lambda_{\rm inv}/d_1` (``"mean"``). ``f`` is convex, and its minimiser is

    .. math:: v_j^*=\min\Big(1,\Big[\frac{\lambda_{\rm var}}{2d_1\lambda_{\rm inv}'(1-s_j^2)}
              \Big]^2\Big).

    With Bardes et al.'s 25/25: ``"mean"`` gives :math:`\sqrt{v_j^*}=\min(1,1/(2(1-s_j^2)))
    \ge1/2` for every ``j``, ``"sum"`` gives :math:`\sqrt{v_j^*}=1/(2d_1(1-s_j^2))`, about
    :math:`10^{-3}` for :math:`d_1=512` and :math:`s_j^2=0`: the summed invariance makes the
    minimiser itself nearly collapsed. ``s2`` are :math:`s_j^2` in ``[0, 1)``. Fig. 1, App. E;
    chapter ``ch12_model_size``.

    Raises
    ------
    ValueError
        for ``s2`` outside ``[0, 1)``, a bad convention or non-positive coefficients.
    """
    s = np.asarray(s2, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)) or s.min() < 0 or s.max() >= 1:
        raise ValueError(f"s2 must hold squared singular values in [0, 1), got range "
                         f"[{s.min() if s.size else 'nan'}, {s.max() if s.size else 'nan'}]")
    d1 = check_int("d1", d1, lo=1)
    check_choice("invariance", invariance, list(VICREG_INVARIANCE))
    if len(coeffs) != 3:
        raise ValueError(f"coeffs must be (invariance, variance, covariance), got {coeffs!r}")
    ci = check_float("coeffs[0]", coeffs[0], lo=0.0, lo_open=True)
    cv = check_float("coeffs[1]", coeffs[1], lo=0.0, lo_open=True)
    inv = ci / d1 if invariance == "mean" else ci
    root = cv / (2.0 * d1 * inv * (1.0 - s))
    return np.minimum(1.0, root) ** 2


SWEEPS = {"model_size": build, "model_size_long": build_long}
"""The sweeps of this chapter, for ``python -m bookbuild sweep model_size``."""


def seed_summary(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and range (lowest, highest) over seeds of one point of Fig. 1.

    The range is the interval drawn around each mean (the paper averages 15 initialisations
    and does not say what its bands are). Chapter ``ch12_model_size``.

    Raises
    ------
    ValueError
        for no values or a non-finite one.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"values must be a non-empty list of finite numbers, got {v.tolist()}")
    return float(v.mean()), float(v.min()), float(v.max())


def interior_optimum(sizes: Sequence[float], means: Sequence[float], *, margin: float = 0.0
                     ) -> tuple[bool, int]:
    """Whether a curve over increasing sizes peaks strictly inside the grid (Fig. 1's claim).

    Returns ``(interior, i)`` with ``i`` the index of the largest mean: ``interior`` is true
    when ``0 < i < len - 1`` and the peak exceeds both end points by more than ``margin`` (a
    peak within ``margin`` of an end is a plateau, not an optimum). Chapter
    ``ch12_model_size``.

    Raises
    ------
    ValueError
        for fewer than 2 points, unsorted sizes or mismatched lengths.
    """
    s = np.asarray(sizes, dtype=np.float64).ravel()
    m = np.asarray(means, dtype=np.float64).ravel()
    if s.size != m.size or s.size < 2:
        raise ValueError(f"sizes and means must have the same length >= 2, got {s.size} and "
                         f"{m.size}")
    if np.any(np.diff(s) <= 0):
        raise ValueError(f"sizes must be strictly increasing, got {s.tolist()}")
    margin = check_float("margin", margin, lo=0.0)
    i = int(np.argmax(m))
    inside = 0 < i < m.size - 1 and m[i] - max(m[0], m[-1]) > margin
    return bool(inside), i
