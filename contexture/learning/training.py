"""Full-batch AdamW training (Sec. 4.2, App. E) and the App. D post-hoc spectral reduction."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch import nn
from tqdm import tqdm

from contexture.base.checks import as_numpy, check_choice, check_float, check_int, check_matrix
from contexture.base.linalg import column_signs
from contexture.base.seeding import seed_everything

__all__ = ["PosthocReduction", "TrainHistory", "check_device", "posthoc_reduce", "train"]


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, checked to be usable here, else ``ValueError``.

    Accepts ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or a :class:`torch.device`; a CUDA device
    is refused with a clear message when torch sees no GPU (e.g. the CPU-only build). Used by
    :func:`train` and the chapters' ``device`` parameter (CPU is the reference device).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', "
                         f"got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but torch sees no CUDA GPU here "
                         f"(torch {torch.__version__}); use device='cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return dev


@dataclass
class TrainHistory:
    """Result of :func:`train`.

    ``loss[t]`` is the full-batch loss evaluated before update ``t``; ``final_loss`` is the loss
    after the last update; ``lr[t]`` the learning rate used at step ``t``; ``records`` the
    ``(step, dict)`` pairs returned by the ``callback``; ``encoder`` the trained module.
    """

    loss: np.ndarray
    lr: np.ndarray
    final_loss: float
    encoder: nn.Module
    records: list[tuple[int, dict[str, float]]] = field(default_factory=list)


def train(encoder: nn.Module | Callable[[], nn.Module],
          loss_fn: Callable[[nn.Module, Any], torch.Tensor], data: Any, steps: int,
          lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0, progress: bool = True, *,
          schedule: str = "constant", callback: Callable[[nn.Module, int], dict[str, float]]
          | None = None, callback_every: int = 0, desc: str = "train",
          device: str | torch.device | None = None) -> TrainHistory:
    """Full-batch AdamW on ``loss_fn(encoder, data)`` for ``steps`` steps.

    The paper trains its encoders with full-batch AdamW for a fixed number of steps (Sec. 4.2,
    App. D, App. E). ``seed`` is passed to :func:`contexture.base.seeding.seed_everything`
    first, so a run is deterministic: if ``encoder`` is a zero-argument factory (e.g.
    ``lambda: MLP(8, 512, 3, 512)``) it is built *after* seeding, so the initialisation is
    seeded too; if it is a module, its current parameters are used. Any randomness inside
    ``loss_fn`` (sampled pairs) should use torch's global generator, which is seeded here.
    ``schedule`` is ``"constant"`` or ``"cosine"`` (decay from ``lr`` to 0 over ``steps``).
    ``callback(encoder, k)`` (``k`` = number of updates done) runs in ``torch.no_grad()`` at
    ``k = 0, callback_every, 2 callback_every, ...`` (if ``callback_every > 0``) and always at
    ``k = steps``; its dicts are stored in ``records``. ``device`` (e.g. ``"cpu"``,
    ``"cuda"``; default: leave the encoder where it is) moves the encoder there before the
    optimiser is built; ``loss_fn`` must put its tensors on the same device. CPU is the
    reference device: the same seed gives the same run on CPU, while GPU kernels may differ in
    rounding. Raises ``FloatingPointError`` if the loss becomes non-finite. Chapters
    ``ch03_self_supervised``, ``ch04_manifold``, ``ch06_scaling`` and ``ch12_model_size``.
    """
    steps = check_int("steps", steps, lo=0)
    lr = check_float("lr", lr, lo=0.0, lo_open=True)
    weight_decay = check_float("weight_decay", weight_decay, lo=0.0)
    seed = check_int("seed", seed, lo=0, hi=2**32 - 1)
    check_choice("schedule", schedule, ["constant", "cosine"])
    callback_every = check_int("callback_every", callback_every, lo=0)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(encoder, data), got {loss_fn!r}")
    seed_everything(seed)
    if not isinstance(encoder, nn.Module):
        if not callable(encoder):
            raise TypeError(f"encoder must be an nn.Module or a zero-argument factory, "
                            f"got {type(encoder).__name__}")
        encoder = encoder()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"the encoder factory must return an nn.Module, "
                            f"got {type(encoder).__name__}")
    if device is not None:
        encoder = encoder.to(check_device(device))
    params = [p for p in encoder.parameters() if p.requires_grad]
    if not params:
        raise ValueError("encoder has no trainable parameters")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    losses = np.empty(steps)
    lrs = np.empty(steps)
    records: list[tuple[int, dict[str, float]]] = []
    encoder.train()

    def evaluate() -> torch.Tensor:
        value = loss_fn(encoder, data)
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            raise TypeError("loss_fn must return a scalar torch.Tensor")
        return value

    def record(step: int) -> None:
        if callback is not None:
            with torch.no_grad():
                records.append((step, {k: float(v) for k, v in callback(encoder, step).items()}))

    if callback_every:
        record(0)
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    every = max(1, steps // 100)
    for t in bar:
        step_lr = lr if schedule == "constant" else 0.5 * lr * (1.0 + math.cos(math.pi * t / steps))
        for group in opt.param_groups:
            group["lr"] = step_lr
        opt.zero_grad(set_to_none=True)
        value = evaluate()
        losses[t] = float(value.detach())
        lrs[t] = step_lr
        if not math.isfinite(losses[t]):
            raise FloatingPointError(f"loss became non-finite ({losses[t]}) at step {t}")
        value.backward()
        opt.step()
        if callback_every and (t + 1) % callback_every == 0 and t + 1 < steps:
            record(t + 1)
        if progress and t % every == 0:
            bar.set_postfix(loss=f"{losses[t]:.6g}", refresh=False)
    bar.close()
    with torch.no_grad():
        final = float(evaluate().detach())
    record(steps)
    return TrainHistory(loss=losses, lr=lrs, final_loss=final, encoder=encoder, records=records)


# --------------------------------------------------------------------------------------------
# App. D post-hoc reduction
# --------------------------------------------------------------------------------------------

@dataclass
class PosthocReduction:
    """Result of :func:`posthoc_reduce` (App. D).

    ``eigenvalues``: all ``d1`` generalised eigenvalues, descending (estimates of
    ``s_1^2, s_2^2, ...``). ``features``: ``(n, d)`` reduced embedding, centred, unit variance
    per column, uncorrelated (estimates of ``mu_1..mu_d``). ``mean`` (``d1``) and ``projection``
    (``d1 x d``) give ``features = (phi - mean) @ projection``; :meth:`transform` applies the
    same map to new points (out-of-sample, e.g. downstream splits).
    """

    eigenvalues: np.ndarray
    features: np.ndarray
    mean: np.ndarray
    projection: np.ndarray

    def transform(self, phi: Any) -> np.ndarray:
        """Map new embeddings ``phi`` (``m x d1``) to the reduced coordinates."""
        arr = check_matrix("phi", as_numpy(phi))
        if arr.shape[1] != self.mean.shape[0]:
            raise ValueError(f"phi must have {self.mean.shape[0]} columns, got shape {arr.shape}")
        return (arr - self.mean) @ self.projection


def posthoc_reduce(phi: Any, d: int, *, gram: Any | None = None,
                   apply_kernel: Callable[[np.ndarray], np.ndarray] | None = None,
                   weights: Any | None = None, ridge: float = 1e-8) -> PosthocReduction:
    """App. D: estimate the spectrum and the top-``d`` eigenfunctions from an embedding ``Phi``.

    With weights ``w`` (uniform ``1/n`` by default; ``px`` for an exact finite context):

    * ``C_Phi = Phi~^T diag(w) Phi~`` (``Cov_{P_X}[Phi]``, ``Phi~`` centred under ``w``);
    * ``B_Phi[i, j] = <phi~_i, T_{k_X+} phi~_j>``, where
      ``(T_{k_X+} f)(x_i) = sum_j K[i, j] w_j f(x_j)`` for the dual-kernel Gram
      ``gram[i, j] = k_X^+(x_i, x_j)``, or ``apply_kernel(F)`` returns ``T_{k_X+} F`` column by
      column (``n x d1``);
    * solve ``B v = lambda (C + delta I) v`` with ``scipy.linalg.eigh``, where the stated
      regularisation is ``delta = ridge * tr(C) / d1`` (relative to the mean variance; directions
      of ``C`` far below ``delta``, e.g. collapsed output dimensions, get eigenvalue ~0 instead of
      noise ratios).

    Returns the eigenvalues (estimates of ``s_1^2..s_{d1}^2``; the Rayleigh-Ritz values of
    ``T_{k_X+}`` on ``span(Phi~)``) and ``Phi~ [v_1..v_d]`` rescaled to unit variance, with the
    library's sign convention (:func:`contexture.base.linalg.column_signs`). This is the
    "dimensional-collapse fix" of the Fig. 1 experiment (App. E, ``d1 = 512 -> d = 128``) and the
    eigenvalue estimator of App. D (Fig. 7, Table 2).
    """
    F = check_matrix("phi", as_numpy(phi))
    n, d1 = F.shape
    if n < 2:
        raise ValueError(f"phi must have at least 2 rows (samples), got shape {F.shape}")
    d = check_int("d", d, lo=1, hi=d1)
    ridge = check_float("ridge", ridge, lo=0.0)
    if (gram is None) == (apply_kernel is None):
        raise ValueError("pass exactly one of gram (the n x n dual-kernel Gram) or apply_kernel")
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        w = check_matrix("weights", as_numpy(weights), ndim=1, nonnegative=True)
        if w.shape[0] != n or abs(float(w.sum()) - 1.0) > 1e-9:
            raise ValueError(f"weights must be a length-{n} probability vector, got shape "
                             f"{w.shape} and sum {float(w.sum())!r}")
    mean = w @ F
    Fc = F - mean
    if gram is not None:
        K = check_matrix("gram", as_numpy(gram))
        if K.shape != (n, n):
            raise ValueError(f"gram must have shape ({n}, {n}), got {K.shape}")
        TF = K @ (w[:, None] * Fc)
    else:
        if not callable(apply_kernel):
            raise TypeError("apply_kernel must be callable as apply_kernel(F) -> T_{k_X+} F")
        TF = check_matrix("apply_kernel(F)", as_numpy(apply_kernel(Fc)))
        if TF.shape != Fc.shape:
            raise ValueError(f"apply_kernel(F) must return shape {Fc.shape}, got {TF.shape}")
    C = Fc.T @ (w[:, None] * Fc)
    B = Fc.T @ (w[:, None] * TF)
    B = 0.5 * (B + B.T)
    C = 0.5 * (C + C.T)
    if float(np.trace(C)) <= 0:
        raise ValueError("phi has zero variance (every column is constant)")
    delta = ridge * float(np.trace(C)) / d1
    try:
        evals, vecs = scipy.linalg.eigh(B, C + delta * np.eye(d1))
    except np.linalg.LinAlgError as err:
        raise ValueError(f"Cov[phi] + delta I is not positive definite (delta = {delta!r}); "
                         f"use ridge > 0 for rank-deficient embeddings") from err
    order = np.argsort(evals)[::-1]
    evals, vecs = evals[order], vecs[:, order]
    V = vecs[:, :d]
    var = np.einsum("ij,ij->j", V, C @ V)
    if np.any(var <= 0):
        raise ValueError("the top-d generalised eigenvectors have zero variance; lower d")
    V = V / np.sqrt(var)
    feats = Fc @ V
    signs = column_signs(feats)
    V = V * signs
    return PosthocReduction(eigenvalues=evals, features=feats * signs, mean=mean, projection=V)
