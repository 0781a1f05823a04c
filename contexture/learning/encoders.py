"""Encoders used by the experiments: a Tanh MLP with skips (Sec. 4.2, App. D), a LeNet-5-style
CNN (the MNIST experiment of Sec. 5.2) and a lookup table (one free vector per point) for exact
finite contexts (Theorems 6-12).
"""

from __future__ import annotations

import torch
from torch import nn

from contexture.base.checks import check_choice, check_float, check_int

__all__ = ["MLP", "LeNet", "LookupEncoder"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    """Fully connected encoder of Sec. 4.2 / App. E and App. D: Tanh with skips.

    ``depth`` is the number of hidden layers (so a "2-layer network" has ``depth=1``, the
    paper's convention). Layout::

        h_1 = act(L_1 x)                       # in_dim -> width
        h_k = h_{k-1} + act(L_k h_{k-1})       # width -> width, k = 2..depth (skip=True)
        out = L_out h_depth                    # width -> out_dim, linear

    With ``skip=False`` the hidden layers are plain ``h_k = act(L_k h_{k-1})``. The first layer
    has no skip (its input dimension differs). Initialisation is PyTorch's default for
    ``nn.Linear`` (weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``), drawn from torch's
    global generator: call :func:`contexture.base.seeding.seed_everything` first (``train`` does so
    when given a factory). Chapters ``ch03_self_supervised`` and ``ch06_scaling``.
    """

    def __init__(self, in_dim: int, width: int, depth: int, out_dim: int,
                 activation: str = "tanh", skip: bool = True) -> None:
        super().__init__()
        in_dim = check_int("in_dim", in_dim, lo=1)
        width = check_int("width", width, lo=1)
        depth = check_int("depth", depth, lo=1)
        out_dim = check_int("out_dim", out_dim, lo=1)
        check_choice("activation", activation, sorted(_ACTIVATIONS))
        self.in_dim, self.width, self.depth, self.out_dim = in_dim, width, depth, out_dim
        self.skip = bool(skip)
        self.act = _ACTIVATIONS[activation]()
        self.hidden = nn.ModuleList(
            [nn.Linear(in_dim, width)] + [nn.Linear(width, width) for _ in range(depth - 1)])
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"x must have last dimension {self.in_dim}, "
                             f"got shape {tuple(x.shape)}")
        h = self.act(self.hidden[0](x))
        for layer in self.hidden[1:]:
            z = self.act(layer(h))
            h = h + z if self.skip else z
        return self.out(h)


class LeNet(nn.Module):
    """LeNet-5-style CNN for 28x28 single-channel images (the MNIST experiment of Sec. 5.2).

    Variant (the paper does not specify one): the classic MNIST adaptation of LeCun et al.
    (1998) with a padded first convolution, so that 28x28 inputs behave like 32x32 ones::

        conv 1->6, 5x5, pad 2 -> act -> avgpool 2     # 6 x 14 x 14
        conv 6->16, 5x5       -> act -> avgpool 2     # 16 x 5 x 5
        flatten 400 -> fc 120 -> act -> fc 84 -> act -> fc out_dim (linear)

    Average pooling and Tanh follow the original; ``activation`` may select ReLU/GELU instead.
    Input shape ``(B, 1, 28, 28)``, ``(B, 28, 28)`` or ``(B, 784)``. Initialisation: PyTorch
    defaults (``U(+-1/sqrt(fan_in))``). Fig. 4 of the paper.
    """

    def __init__(self, out_dim: int, activation: str = "tanh") -> None:
        super().__init__()
        out_dim = check_int("out_dim", out_dim, lo=1)
        check_choice("activation", activation, sorted(_ACTIVATIONS))
        act = _ACTIVATIONS[activation]
        self.out_dim = out_dim
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), act(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), act(), nn.AvgPool2d(2), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(400, 120), act(), nn.Linear(120, 84), act(),
                                  nn.Linear(84, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(-1, 1, 28, 28)
        elif x.ndim == 3 and tuple(x.shape[1:]) == (28, 28):
            x = x[:, None]
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"x must have shape (B, 1, 28, 28), (B, 28, 28) or (B, 784), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x))


class LookupEncoder(nn.Module):
    """One free vector per point of a finite space: the "all functions" model class.

    With a lookup table the function class is all of ``L^2``, so gradient descent on a
    population objective of :mod:`contexture.learning.objectives` can reach the minimisers of
    Theorems
    6-12 (Definition 5: the span of the top singular functions). ``forward()`` returns the
    whole ``num_points x out_dim`` table, ``forward(index)`` the rows ``index``. The table is
    initialised ``N(0, init_scale^2)`` from a ``torch.Generator`` seeded with ``seed`` (or from
    torch's global generator if ``seed`` is None). float64 by default (spectral precision).
    """

    def __init__(self, num_points: int, out_dim: int, *, init_scale: float = 1.0,
                 seed: int | None = None, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        num_points = check_int("num_points", num_points, lo=1)
        out_dim = check_int("out_dim", out_dim, lo=1)
        init_scale = check_float("init_scale", init_scale, lo=0.0)
        gen = None
        if seed is not None:
            gen = torch.Generator().manual_seed(check_int("seed", seed, lo=0, hi=2**63 - 1))
        table = torch.randn(num_points, out_dim, generator=gen, dtype=dtype) * init_scale
        self.table = nn.Parameter(table)

    def forward(self, index: torch.Tensor | None = None) -> torch.Tensor:
        return self.table if index is None else self.table[index]
