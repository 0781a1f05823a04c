r""":math:`\tau` on MNIST with random-crop contexts: calculators for ``ch13_mnist_crops``.

Sec. 5.2 of the paper (arXiv v2 numbering) illustrates the metric :math:`\tau` of Eq. (4) on
MNIST with random-crop contexts of crop ratio :math:`\alpha\in\{0.5, 0.2, 0.05\}` (weak,
moderate, strong association): a LeNet trained with the non-contrastive loss
:math:`\mathcal L_N` (VICReg) and AdamW, its spectrum estimated as in App. D, and
:math:`\tau_d` set beside the error of a ridge probe for the binary task "digit > 4" (Fig. 4);
Fig. 5b shows the cosines between that task and the estimated eigenfunctions. This module holds
what only that chapter needs:

* :func:`mnist_parts` -- which real MNIST images pretrain, train the probe and test it;
* :class:`WideLeNet`, :func:`make_lenet` -- the library's LeNet, or the same layout with wider
  fully connected layers (the classic one has rank at most 84, :func:`output_rank`);
* :class:`CropPairLoss` -- VICReg on two random crops of the same images (Sec. 3.2);
* :func:`view_mean_operator`, :func:`estimate_spectrum`, :func:`view_statistics` -- App. D on
  the context side (several crops per image), the average encoder of Sec. 3.2 and held-out
  Rayleigh quotients;
* :func:`mnist_crops_cell`, :func:`build`, :data:`SWEEPS` -- one sweep cell per crop ratio;
* :func:`strength_roles`, :func:`curve_shape`, :func:`rebound`, :func:`digit_task`.

Crop semantics: :mod:`contexture.contexts.crops` with ``semantics="removed"`` (alpha is the
fraction of the image area the crop removes; assumed, the paper does not define alpha).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from contexture.base.checks import check_choice, check_float, check_int, check_matrix
from contexture.contexts.crops import crop_size, random_crops
from contexture.data import load
from contexture.evaluation import RIDGE_GRID, check_ridge_grid, ridge_path
from contexture.learning.encoders import LeNet
from contexture.learning.objectives import vicreg_loss_batch
from contexture.learning.training import PosthocReduction, posthoc_reduce, train
from contexture.metrics import tau
from contexture.sweeps import Grid, Sweep

__all__ = [
    "CLASSIC_FC",
    "DATASET",
    "SWEEPS",
    "CropPairLoss",
    "CurveShape",
    "MnistParts",
    "ViewStatistics",
    "WideLeNet",
    "build",
    "curve_shape",
    "digit_task",
    "embed_views",
    "estimate_spectrum",
    "make_lenet",
    "mnist_crops_cell",
    "mnist_parts",
    "output_rank",
    "rebound",
    "strength_roles",
    "view_mean_operator",
    "view_statistics",
]

DATASET = "mnist"
"""The dataset of the paper's Fig. 4 and Fig. 5b (Sec. 5.2)."""

CLASSIC_FC = (120, 84)
"""The fully connected widths of LeNet-5 (LeCun et al. 1998), as in the library's ``LeNet``."""

N_TRAIN5K = 5000
N_TEST = 10000


# ---- data -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MnistParts:
    """Real MNIST images (``float32``, ``(n, 28, 28)``, pixels / 255) of the three parts.

    ``pretrain``: the images the encoder is trained on (no labels used) and on which the
    spectrum is estimated; ``probe_train`` / ``probe_test`` with their digit labels: the ridge
    probe's training and test images. ``pretrain_train_index`` indexes the 5,000 training digits
    (``subset="train5k"``), ``pretrain_test_index``, ``probe_train_index`` and
    ``probe_test_index`` the 10,000 test digits; the three test-set index sets are disjoint.
    """

    pretrain: np.ndarray
    probe_train: np.ndarray
    probe_train_labels: np.ndarray
    probe_test: np.ndarray
    probe_test_labels: np.ndarray
    pretrain_train_index: np.ndarray
    pretrain_test_index: np.ndarray
    probe_train_index: np.ndarray
    probe_test_index: np.ndarray


def _images(X: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(X.reshape(-1, 28, 28), dtype=np.float32)


def mnist_parts(n_pretrain_train: int, n_pretrain_test: int, n_probe_train: int,
                n_probe_test: int, seed: int = 0) -> MnistParts:
    """Seeded, disjoint parts of the real MNIST images held offline (Fig. 4, Sec. 5.2).

    Pretraining: ``n_pretrain_train`` of the 5,000 real training digits
    (``contexture.data.load("mnist", subset="train5k")``, a random subset) plus
    ``n_pretrain_test`` test digits; the probe trains on ``n_probe_train`` and is tested on
    ``n_probe_test`` further test digits. The test-set parts come from one seeded permutation of
    the 10,000 test digits, in that order, so they never overlap. The paper pretrains on the
    60,000 training images, which are not held offline (assumed split; chapter
    ``ch13_mnist_crops``).

    Raises
    ------
    ValueError
        for sizes out of range, no pretraining image, or test-set parts that do not fit in the
        10,000 test digits.
    """
    n_pt = check_int("n_pretrain_train", n_pretrain_train, lo=0, hi=N_TRAIN5K)
    n_ps = check_int("n_pretrain_test", n_pretrain_test, lo=0, hi=N_TEST)
    n_tr = check_int("n_probe_train", n_probe_train, lo=3, hi=N_TEST)
    n_te = check_int("n_probe_test", n_probe_test, lo=1, hi=N_TEST)
    seed = check_int("seed", seed, lo=0)
    if n_pt + n_ps < 2:
        raise ValueError(f"pretraining needs at least 2 images, got n_pretrain_train = {n_pt} "
                         f"and n_pretrain_test = {n_ps}")
    if n_ps + n_tr + n_te > N_TEST:
        raise ValueError(f"n_pretrain_test + n_probe_train + n_probe_test must be at most "
                         f"{N_TEST} (the test digits), got {n_ps} + {n_tr} + {n_te} = "
                         f"{n_ps + n_tr + n_te}")
    train5k = load(DATASET, subset="train5k")
    test = load(DATASET)
    i_train = np.sort(np.random.default_rng([seed, 1]).permutation(N_TRAIN5K)[:n_pt])
    perm = np.random.default_rng([seed, 2]).permutation(N_TEST)
    i_pre, i_tr, i_te = (np.sort(perm[:n_ps]), np.sort(perm[n_ps:n_ps + n_tr]),
                         np.sort(perm[n_ps + n_tr:n_ps + n_tr + n_te]))
    pre = np.concatenate([_images(train5k.X[i_train]), _images(test.X[i_pre])])
    return MnistParts(pretrain=pre, probe_train=_images(test.X[i_tr]),
                      probe_train_labels=test.y[i_tr].astype(np.int64),
                      probe_test=_images(test.X[i_te]),
                      probe_test_labels=test.y[i_te].astype(np.int64),
                      pretrain_train_index=i_train, pretrain_test_index=i_pre,
                      probe_train_index=i_tr, probe_test_index=i_te)


def digit_task(labels: Any, threshold: int = 4) -> np.ndarray:
    """The binary task of Fig. 4 as a regression target: ``+1`` for a digit ``> threshold``,
    ``-1`` otherwise (``float64``; the paper's task is "digit > 4"; the ±1 coding is assumed).

    Raises
    ------
    ValueError
        for labels that are not digits 0-9.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer) \
            or y.min() < 0 or y.max() > 9:
        raise ValueError(f"labels must be a non-empty 1-D array of digits 0-9, got {y!r:.80}")
    threshold = check_int("threshold", threshold, lo=0, hi=8)
    return np.where(y > threshold, 1.0, -1.0)


# ---- the encoder ----------------------------------------------------------------------------


class WideLeNet(nn.Module):
    """LeNet-5's layout with fully connected widths ``fc_widths`` (Fig. 4, Sec. 5.2).

    The convolutional part is exactly that of :class:`contexture.learning.encoders.LeNet`
    (conv 1->6 5x5 pad 2, act, avgpool 2, conv 6->16 5x5, act, avgpool 2, flatten 400); then
    ``fc 400 -> fc_widths[0] -> act -> ... -> fc_widths[-1] -> act -> fc out_dim`` (linear).
    With ``fc_widths = (120, 84)`` it is the library's LeNet, parameter for parameter (the same
    initialisation after the same seed). The output of any such network lies in an affine space
    of dimension at most ``fc_widths[-1]``, so the classic LeNet cannot hold more than 84
    eigenfunctions however large ``out_dim`` is (:func:`output_rank`); the chapter widens the
    layers (assumed; the paper does not give its variant). Chapter ``ch13_mnist_crops``.
    """

    def __init__(self, out_dim: int, fc_widths: Sequence[int] = CLASSIC_FC,
                 activation: str = "tanh") -> None:
        super().__init__()
        out_dim = check_int("out_dim", out_dim, lo=1)
        widths = [check_int(f"fc_widths[{i}]", w, lo=1) for i, w in enumerate(fc_widths)]
        if not widths:
            raise ValueError("fc_widths must hold at least one width, got []")
        act = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}[
            check_choice("activation", activation, ["gelu", "relu", "tanh"])]
        self.out_dim, self.fc_widths = out_dim, tuple(widths)
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), act(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), act(), nn.AvgPool2d(2), nn.Flatten())
        layers: list[nn.Module] = []
        prev = 400
        for w in widths:
            layers += [nn.Linear(prev, w), act()]
            prev = w
        layers.append(nn.Linear(prev, out_dim))
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3 and tuple(x.shape[1:]) == (28, 28):
            x = x[:, None]
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"x must have shape (B, 1, 28, 28) or (B, 28, 28), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x))


def make_lenet(out_dim: int, fc_widths: Sequence[int] = CLASSIC_FC) -> nn.Module:
    """The library's :class:`~contexture.learning.encoders.LeNet` for ``fc_widths = (120, 84)``,
    else a :class:`WideLeNet` (Tanh). Build it after seeding (``train`` does). Fig. 4; chapter
    ``ch13_mnist_crops``."""
    widths = tuple(check_int(f"fc_widths[{i}]", w, lo=1) for i, w in enumerate(fc_widths))
    if widths == CLASSIC_FC:
        return LeNet(out_dim)
    return WideLeNet(out_dim, widths)


def output_rank(Z: Any, rtol: float = 1e-6) -> int:
    """Number of covariance eigenvalues of the rows of ``Z`` (``n x d``) above ``rtol`` times the
    largest: the dimension of the affine span the embedding fills (at most ``fc_widths[-1]``
    for a LeNet, :class:`WideLeNet`). Chapter ``ch13_mnist_crops``.

    Raises
    ------
    ValueError
        for fewer than 2 rows or a constant embedding.
    """
    F = check_matrix("Z", np.asarray(Z, dtype=np.float64))
    if F.shape[0] < 2:
        raise ValueError(f"Z must have at least 2 rows, got shape {F.shape}")
    rtol = check_float("rtol", rtol, lo=0.0, lo_open=True, hi=1.0)
    ev = np.linalg.eigvalsh(np.cov(F, rowvar=False).reshape(F.shape[1], F.shape[1]))
    if ev[-1] <= 0:
        raise ValueError("Z is constant (zero covariance)")
    return int(np.sum(ev > rtol * ev[-1]))


# ---- training: VICReg on positive pairs of crops --------------------------------------------


@dataclass
class CropPairLoss:
    """VICReg on a minibatch of positive pairs: two random crops of the same images (Sec. 3.2).

    Called as ``loss(encoder, images)`` by :func:`contexture.learning.training.train` (which
    seeds torch): draws ``batch`` distinct images with torch's generator, two crops of each with
    :func:`contexture.contexts.crops.random_crops` (seeded from torch's generator, so a run is
    deterministic) and returns :func:`contexture.learning.objectives.vicreg_loss_batch`.
    The coefficients are given in the convention of Bardes et al.'s reference code (invariance
    averaged over output dimensions, variance averaged over the two views), so the library's
    function gets ``inv_coeff / out_dim``, ``var_coeff / 2`` and ``cov_coeff``. Fig. 4;
    chapter ``ch13_mnist_crops``.
    """

    alpha: float
    batch: int
    out_dim: int
    inv_coeff: float = 25.0
    var_coeff: float = 25.0
    cov_coeff: float = 1.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.alpha = check_float("alpha", self.alpha, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        self.batch = check_int("batch", self.batch, lo=2)
        self.out_dim = check_int("out_dim", self.out_dim, lo=1)
        for name in ("inv_coeff", "var_coeff", "cov_coeff"):
            setattr(self, name, check_float(name, getattr(self, name), lo=0.0))
        self.device = check_choice("device", self.device, ["cpu", "cuda"])

    def __call__(self, encoder: nn.Module, images: np.ndarray) -> torch.Tensor:
        n = images.shape[0]
        idx = torch.randperm(n)[:min(self.batch, n)].numpy()
        crop_seed = int(torch.randint(0, 2**31 - 1, (1,)))
        views = torch.from_numpy(random_crops(images[idx], self.alpha, n_views=2,
                                              seed=crop_seed).views).to(self.device)
        return vicreg_loss_batch(encoder(views[:, 0]), encoder(views[:, 1]),
                                 inv_coeff=self.inv_coeff / self.out_dim,
                                 var_coeff=self.var_coeff / 2.0, cov_coeff=self.cov_coeff)


def embed_views(encoder: nn.Module, images: Any, alpha: float, n_views: int, seed: int, *,
                device: str = "cpu", batch_size: int = 4096) -> np.ndarray:
    """``Psi(a)`` for ``n_views`` random crops ``a ~ P+(. | x)`` of each image: ``(n, V, d1)``
    float64 (the network runs in float32, evaluation mode, no gradients). Fig. 4; chapter
    ``ch13_mnist_crops``."""
    imgs = np.asarray(images, dtype=np.float32)
    n_views = check_int("n_views", n_views, lo=1)
    batch_size = check_int("batch_size", batch_size, lo=1)
    views = random_crops(imgs, alpha, n_views=n_views, seed=seed).views
    flat = views.reshape(-1, 28, 28)
    was_training = encoder.training
    encoder.eval()
    out = []
    with torch.no_grad():
        for start in range(0, flat.shape[0], batch_size):
            x = torch.from_numpy(flat[start:start + batch_size]).to(device)
            out.append(encoder(x).double().cpu().numpy())
    encoder.train(was_training)
    return np.concatenate(out).reshape(imgs.shape[0], n_views, -1)


# ---- App. D on the context side --------------------------------------------------------------


def view_mean_operator(n: int, n_views: int) -> Callable[[np.ndarray], np.ndarray]:
    r"""The positive-pair operator on a sample of ``n`` images with ``n_views`` crops each.

    Rows are ordered image by image (``row = image * n_views + view``). For ``G`` (``n V x k``)
    the returned map gives, in each row, the mean of ``G`` over the *other* crops of the same
    image: an unbiased estimate of :math:`(T^*Tg)(a)=\mathbb E[g(A^+)\mid A=a]`, the operator
    :math:`T_{k_A^+}` whose eigenvalues are :math:`s_i^2` (Lemma 3). It is the ``apply_kernel``
    of :func:`contexture.learning.training.posthoc_reduce` for App. D on the context side
    (:func:`estimate_spectrum`). Chapter ``ch13_mnist_crops``.

    Raises
    ------
    ValueError
        for ``n < 1`` or ``n_views < 2`` (a positive pair needs two crops).
    """
    n = check_int("n", n, lo=1)
    V = check_int("n_views", n_views, lo=2)

    def apply(G: np.ndarray) -> np.ndarray:
        if G.ndim != 2 or G.shape[0] != n * V:
            raise ValueError(f"G must have {n * V} rows (n = {n} images x {V} views), "
                             f"got shape {G.shape}")
        blocks = G.reshape(n, V, -1)
        return ((blocks.sum(1, keepdims=True) - blocks) / (V - 1)).reshape(n * V, -1)

    return apply


def estimate_spectrum(Z: Any, d: int, ridge: float = 1e-8) -> PosthocReduction:
    r"""App. D from crops: eigenvalues :math:`\hat s_i^2` and the reduction to ``d`` functions.

    ``Z`` (``n x V x d1``) holds ``Psi(a)`` for ``V >= 2`` crops of each of ``n`` images. With
    uniform weights over the ``n V`` crops (a sample of :math:`P_{\mathcal A}`),
    :func:`~contexture.learning.training.posthoc_reduce` estimates
    :math:`C=\mathrm{Cov}_{P_{\mathcal A}}[\Psi]` and
    :math:`B=\langle\tilde\psi_i,T_{k_A^+}\tilde\psi_j\rangle` (:func:`view_mean_operator`) and
    solves :math:`Bv=\lambda Cv`. By Lemma 3 :math:`T_{k_A^+}=T^*T` has the same nonzero
    eigenvalues as :math:`T_{k_X^+}=TT^*`, so the eigenvalues estimate :math:`s_1^2,s_2^2,\dots`
    and the reduced features estimate :math:`\nu_1,\dots,\nu_d` (on crops); the eigenfunctions
    on images follow by the average encoder :math:`\mu_i\propto T\nu_i` (Sec. 3.2, Corollary 9;
    :func:`view_statistics`). The paper's App. D writes the same estimator for an encoder of
    ``x``; with crops only the context side is observable. Chapter ``ch13_mnist_crops``.
    """
    arr = np.asarray(Z, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1] < 2 or 0 in arr.shape:
        raise ValueError(f"Z must have shape (n, V, d1) with V >= 2 crops per image, "
                         f"got {arr.shape}")
    n, V, d1 = arr.shape
    return posthoc_reduce(arr.reshape(n * V, d1), d, apply_kernel=view_mean_operator(n, V),
                          ridge=ridge)


@dataclass(frozen=True, eq=False)
class ViewStatistics:
    r"""Reduced coordinates on the crops of a set of images (:func:`view_statistics`).

    ``features`` (``n x d``): the average encoder :math:`\frac1V\sum_v\hat\nu_i(a_v)`, an
    estimate of :math:`T\hat\nu_i = \hat s_i\hat\mu_i` on each image; ``variance`` (``d``): the
    variance of :math:`\hat\nu_i` over all crops; ``pair_covariance`` (``d``): the covariance of
    :math:`\hat\nu_i` between two different crops of the same image (an unbiased estimate of
    :math:`\|T\hat\nu_i\|^2` for centred :math:`\hat\nu_i`); ``rayleigh`` (``d``): their ratio,
    the Rayleigh quotient :math:`\langle\hat\nu_i,T^*T\hat\nu_i\rangle/\|\hat\nu_i\|^2`.
    """

    features: np.ndarray
    variance: np.ndarray
    pair_covariance: np.ndarray
    rayleigh: np.ndarray


def view_statistics(Z: Any, reduction: PosthocReduction) -> ViewStatistics:
    r"""Apply the App. D reduction to ``V >= 2`` crops per image (``Z``: ``n x V x d1``).

    On the pretraining crops the Rayleigh quotients reproduce the estimated eigenvalues; on
    held-out images they are an out-of-sample estimate of the same quantities (each at most
    :math:`s_1^2`), which shows how much the in-sample estimate is inflated by fitting ``B``
    and ``C`` on the same crops. Sec. 3.2 (average encoder), App. D; chapter
    ``ch13_mnist_crops``.
    """
    arr = np.asarray(Z, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1] < 2:
        raise ValueError(f"Z must have shape (n, V, d1) with V >= 2, got {arr.shape}")
    n, V, d1 = arr.shape
    R = reduction.transform(arr.reshape(n * V, d1)).reshape(n, V, -1)
    Rc = R - R.reshape(n * V, -1).mean(0)
    total = Rc.sum(1)
    variance = np.einsum("nvi,nvi->i", Rc, Rc) / (n * V)
    pair = (np.einsum("ni,ni->i", total, total) - np.einsum("nvi,nvi->i", Rc, Rc)) \
        / (n * V * (V - 1))
    return ViewStatistics(features=R.mean(1), variance=variance, pair_covariance=pair,
                          rayleigh=pair / variance)


# ---- the sweep cell --------------------------------------------------------------------------


def _cosines(F: np.ndarray, y: np.ndarray) -> np.ndarray:
    Fc = F - F.mean(0)
    yc = y - y.mean()
    norms = np.linalg.norm(Fc, axis=0) * np.linalg.norm(yc)
    return np.abs(Fc.T @ yc) / np.where(norms > 0, norms, np.inf)


def mnist_crops_cell(alpha: float, *, n_pretrain_train: int = 3000, n_pretrain_test: int = 0,
                     n_probe_train: int = 2000, n_probe_test: int = 2000, out_dim: int = 512,
                     d0: int = 256, fc_widths: Sequence[int] = (512, 512), steps: int = 600,
                     batch: int = 256, lr: float = 1e-3, weight_decay: float = 1e-4,
                     inv_coeff: float = 25.0, var_coeff: float = 25.0, cov_coeff: float = 1.0,
                     n_est_views: int = 4, n_eval_views: int = 8, est_ridge: float = 1e-8,
                     sensitivity_ridges: Sequence[float] = (),
                     ridge_grid: Sequence[float] = RIDGE_GRID, beta: float = 1.0,
                     seed: int = 0, device: str = "cpu", threads: int = 1,
                     progress: bool = False) -> dict[str, Any]:
    r"""One random-crop context of Fig. 4 (Sec. 5.2): train, estimate the spectrum, probe.

    1. :func:`mnist_parts` (real digits only).
    2. A LeNet (:func:`make_lenet`, output ``out_dim`` = :math:`d_1`) trained with AdamW by
       :func:`contexture.learning.training.train` for ``steps`` minibatch steps of
       :class:`CropPairLoss` (crop ratio ``alpha``, area removed).
    3. App. D (:func:`estimate_spectrum`, regulariser ``est_ridge``) on ``n_est_views`` fresh
       crops of every pretraining image: eigenvalues :math:`\hat s_i^2` and the top ``d0``
       reduced functions; ``sensitivity_eigenvalues[k]`` repeats the eigenvalues with the
       regulariser ``sensitivity_ridges[k]`` (how much the tail depends on it).
    4. The average encoder over ``n_eval_views`` crops of each probe image
       (:func:`view_statistics`), scaled to unit variance on the probe's training part: the
       estimated eigenfunctions :math:`\hat\mu_1..\hat\mu_{d_0}`.
    5. :math:`\tau_d` of Eq. (4) from :math:`\hat s_i=\sqrt{\mathrm{clip}(\hat s_i^2,0,1)}`
       (:func:`contexture.metrics.tau`, ``d = 1..d0``); ridge probes of the ±1 task "digit > 4"
       on :math:`\hat\mu_1..\hat\mu_d` for ``d = 0..d0``
       (:func:`contexture.evaluation.ridge_path`); the cosines of Fig. 5b on the probe's
       training part.

    ``threads`` fixes torch's CPU threads for the cell (restored afterwards): results are
    bit-for-bit reproducible for a given thread count. Returns a record of arrays and numbers
    (see the chapter); ``seconds`` and ``train_seconds`` are wall-clock times and are not
    reproducible; ``cov_eigenvalues`` are the principal variances of the network's outputs on
    the pretraining crops (descending). Chapter ``ch13_mnist_crops``.

    Raises
    ------
    ValueError
        for bad sizes (``d0 + 1 > out_dim``, ``d0 > n_probe_train``, ...).
    """
    t_start = time.perf_counter()
    alpha = check_float("alpha", alpha, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    out_dim = check_int("out_dim", out_dim, lo=2)
    d0 = check_int("d0", d0, lo=1, hi=out_dim - 1)
    steps = check_int("steps", steps, lo=1)
    n_est_views = check_int("n_est_views", n_est_views, lo=2)
    n_eval_views = check_int("n_eval_views", n_eval_views, lo=2)
    threads = check_int("threads", threads, lo=1)
    est_ridge = check_float("est_ridge", est_ridge, lo=0.0, lo_open=True)
    device = check_choice("device", device, ["cpu", "cuda"])
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device 'cuda' was asked for, but torch sees no CUDA GPU here "
                         f"(torch {torch.__version__}); use device='cpu'")
    grid = check_ridge_grid(ridge_grid)
    if d0 > n_probe_train - 2:
        raise ValueError(f"d0 must be at most n_probe_train - 2 = {n_probe_train - 2}, got {d0}")
    parts = mnist_parts(n_pretrain_train, n_pretrain_test, n_probe_train, n_probe_test, seed)
    widths = tuple(int(w) for w in fc_widths)
    loss = CropPairLoss(alpha, batch, out_dim, inv_coeff, var_coeff, cov_coeff, device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        history = train(lambda: make_lenet(out_dim, widths).to(device), loss, parts.pretrain,
                        steps, lr=lr, weight_decay=weight_decay, seed=seed, progress=progress,
                        desc=f"VICReg, alpha = {alpha}")
        train_seconds = time.perf_counter() - t0
        net = history.encoder
        Z_est = embed_views(net, parts.pretrain, alpha, n_est_views, seed + 1, device=device)
        Z_tr = embed_views(net, parts.probe_train, alpha, n_eval_views, seed + 2, device=device)
        Z_te = embed_views(net, parts.probe_test, alpha, n_eval_views, seed + 3, device=device)
    finally:
        torch.set_num_threads(old_threads)
    red = estimate_spectrum(Z_est, d0, ridge=est_ridge)
    ev = red.eigenvalues
    sens = [check_float(f"sensitivity_ridges[{i}]", r, lo=0.0, lo_open=True)
            for i, r in enumerate(sensitivity_ridges)]
    sens_ev = np.array([estimate_spectrum(Z_est, 1, ridge=r).eigenvalues for r in sens]
                       ).reshape(len(sens), out_dim)
    s = np.sqrt(np.clip(ev, 0.0, 1.0))
    tau_value, tau_d_star, tau_curve = tau(s, beta=beta, d0=d0)
    own = view_statistics(Z_est, red)
    held = view_statistics(Z_tr, red)
    scale = held.features.std(0)
    F_tr = held.features / scale
    F_te = view_statistics(Z_te, red).features / scale
    y_tr, y_te = digit_task(parts.probe_train_labels), digit_task(parts.probe_test_labels)
    path = ridge_path(F_tr, y_tr, F_te, y_te, grid)
    err = path.err
    d_star = int(np.argmin(err[1:])) + 1
    every = max(1, steps // 200)
    h, w = crop_size(28, 28, alpha)
    return {
        "crop_height": h, "crop_width": w,
        "n_positions": (28 - h + 1) * (28 - w + 1),
        "eigenvalues": ev, "s": s, "n_negative": int(np.sum(ev < 0)),
        "sensitivity_eigenvalues": sens_ev,
        "n_above_one": int(np.sum(ev > 1)), "sum_s2": float(np.sum(s[:d0] ** 2)),
        "output_rank": output_rank(Z_est.reshape(-1, out_dim)),
        "cov_eigenvalues": np.linalg.eigvalsh(np.cov(Z_est.reshape(-1, out_dim),
                                                     rowvar=False))[::-1].copy(),
        "tau": float(tau_value), "tau_d_star": int(tau_d_star), "tau_curve": tau_curve,
        "err": err, "loo": path.loo, "ridge_index": path.index, "d_star": d_star,
        "err_star": float(err[d_star]),
        "target_cosine": _cosines(F_tr, y_tr),
        "insample_rayleigh": own.rayleigh, "holdout_rayleigh": held.rayleigh,
        "loss": history.loss[::every], "loss_every": every, "final_loss": history.final_loss,
        "n_pretrain": int(parts.pretrain.shape[0]), "n_probe_train": int(n_probe_train),
        "n_probe_test": int(n_probe_test), "d0": d0, "out_dim": out_dim, "beta": float(beta),
        "positive_share_train": float(np.mean(y_tr > 0)),
        "train_seconds": train_seconds, "seconds": time.perf_counter() - t_start,
    }


_FIXED = ("n_pretrain_train", "n_pretrain_test", "n_probe_train", "n_probe_test", "out_dim",
          "d0", "fc_widths", "steps", "batch", "lr", "weight_decay", "inv_coeff", "var_coeff",
          "cov_coeff", "n_est_views", "n_eval_views", "est_ridge", "sensitivity_ridges",
          "ridge_grid", "seed", "device", "threads")


def build(params: Mapping[str, Any]) -> Sweep:
    """The chapter's sweep ``mnist_crops``: one cell per crop ratio of ``params["alphas"]``.

    ``params`` holds the chapter's parameters (``alphas`` and every key of the cell's keyword
    arguments listed in the chapter); ``beta = 1`` (Eq. (4), as in the paper). Fig. 4, Sec. 5.2;
    chapter ``ch13_mnist_crops``.

    Raises
    ------
    KeyError
        when a parameter is missing; ``ValueError`` for repeated or out-of-range crop ratios.
    """
    missing = [key for key in ("alphas", *_FIXED) if key not in params]
    if missing:
        raise KeyError(f"chapter parameters lack {missing} for the mnist_crops sweep")
    alphas = [check_float(f"alphas[{i}]", a, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
              for i, a in enumerate(params["alphas"])]
    if not alphas or len(set(alphas)) != len(alphas):
        raise ValueError(f"alphas must be a non-empty list of distinct ratios, got {alphas}")
    fixed = {key: params[key] for key in _FIXED}
    fixed["fc_widths"] = [int(w) for w in params["fc_widths"]]
    fixed["ridge_grid"] = [float(v) for v in check_ridge_grid(params["ridge_grid"])]
    fixed["sensitivity_ridges"] = [float(v) for v in params["sensitivity_ridges"]]
    fixed["beta"] = 1.0
    return Sweep("mnist_crops", mnist_crops_cell, Grid(alpha=alphas), fixed=fixed)


SWEEPS = {"mnist_crops": build}
"""The sweeps of this chapter, for ``python -m bookbuild sweep mnist_crops``."""


# ---- reading the curves ---------------------------------------------------------------------


def strength_roles(alphas: Sequence[float]) -> dict[str, float]:
    """Name the crop ratios by association (area removed): ``strong`` = smallest alpha (the crop
    keeps the most of the image), ``weak`` = largest, ``moderate`` = the median (upper median
    for an even count). For the paper's 0.5, 0.2, 0.05 (Fig. 4) this gives weak 0.5, moderate
    0.2, strong 0.05. Chapter ``ch13_mnist_crops``.

    Raises
    ------
    ValueError
        for fewer than 2 distinct ratios.
    """
    a = sorted({check_float(f"alphas[{i}]", v, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
                for i, v in enumerate(alphas)})
    if len(a) < 2:
        raise ValueError(f"alphas must hold at least 2 distinct ratios, got {list(alphas)}")
    return {"weak": a[-1], "moderate": a[len(a) // 2], "strong": a[0]}


@dataclass(frozen=True)
class CurveShape:
    r"""The shape of a curve :math:`c_1..c_n` over ``d = 1..n`` (:func:`curve_shape`).

    ``d_min``: the smallest minimiser; ``interior``: ``1 < d_min < n``; ``rise``:
    :math:`c_n-\min_d c_d`; ``drop``: :math:`c_1-\min_d c_d`; ``down_share``: the share of
    steps (between finite values) on which the curve decreases; ``dips_then_rises``: an
    interior minimum with ``rise`` and ``drop`` both above the given threshold.
    """

    d_min: int
    interior: bool
    rise: float
    drop: float
    down_share: float
    dips_then_rises: bool


def curve_shape(values: Any, threshold: float = 0.0) -> CurveShape:
    r"""Read a curve such as :math:`\tau_d` (``values[d - 1]``, ``+inf`` allowed at the start)
    as "first decreases, then increases" (Fig. 4: the paper's reading of :math:`\tau_d` for the
    weak and moderate contexts). Chapter ``ch13_mnist_crops``.

    Raises
    ------
    ValueError
        for fewer than 2 values, NaN, or a negative threshold.
    """
    c = np.asarray(values, dtype=np.float64).ravel()
    if c.size < 2 or np.isnan(c).any():
        raise ValueError(f"values must hold at least 2 numbers and no NaN, got {c!r:.80}")
    threshold = check_float("threshold", threshold, lo=0.0)
    i = int(np.argmin(c))
    fin = c[np.isfinite(c)]
    steps = np.diff(fin)
    rise = float(c[-1] - c[i])
    drop = float(c[0] - c[i])
    interior = 0 < i < c.size - 1
    return CurveShape(d_min=i + 1, interior=interior, rise=rise, drop=drop,
                      down_share=float(np.mean(steps < 0)) if steps.size else float("nan"),
                      dips_then_rises=interior and rise > threshold and drop > threshold)


def rebound(err: Any) -> tuple[float, int]:
    r"""The largest rise of :math:`\mathrm{err}_d` above its running minimum,
    :math:`\max_d(\mathrm{err}_d-\min_{d'\le d}\mathrm{err}_{d'})`, and the ``d`` where it
    occurs (``err[d]`` for ``d = 0..``). Zero for a curve that never increases; the chapter calls
    the error "monotonically decreasing in d" (the paper's reading of Fig. 4) when the rebound
    is below a stated tolerance. Chapter ``ch13_mnist_crops``.

    Raises
    ------
    ValueError
        for fewer than 2 values or non-finite values.
    """
    e = np.asarray(err, dtype=np.float64).ravel()
    if e.size < 2 or not np.all(np.isfinite(e)):
        raise ValueError(f"err must hold at least 2 finite values, got {e!r:.80}")
    gap = e - np.minimum.accumulate(e)
    i = int(np.argmax(gap))
    return float(gap[i]), i
