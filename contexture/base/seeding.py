"""One seeding function for Python, NumPy and torch (the book's determinism convention)."""

from __future__ import annotations

import os
import random

import numpy as np

from contexture.base.checks import check_int

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed ``random``, NumPy's legacy global state and torch (if installed).

    Returns a fresh :class:`numpy.random.Generator` seeded with ``seed``; library code takes
    such a generator (or a seed) explicitly rather than relying on global state.
    """
    seed = check_int("seed", seed, lo=0, hi=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds third-party code that uses the legacy API
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:  # torch is optional for the pure-NumPy parts of the library
        pass
    else:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)
