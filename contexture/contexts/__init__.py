"""Contexts: finite joint laws P+ and sample-based contexts (Sec. 1, Sec. 2.1, Sec. 5.3).

All share the :class:`Context` interface (``px``, ``pa``, ``joint``, kernels, operators, ``svd``).
"""

from __future__ import annotations

from contexture.contexts.discrete import (
    LabelContext,
    graph_context,
    label_context,
    label_noise_channel,
)
from contexture.contexts.finite import Context, FiniteContext, Matrix, check_context
from contexture.contexts.sample import (
    KNNContext,
    MaskedKNNContext,
    MaskedRBFContext,
    RBFContext,
    SampleContext,
    knn_context,
    knn_mask_context,
    rbf_context,
    rbf_mask_context,
)

__all__ = [
    "Context",
    "FiniteContext",
    "KNNContext",
    "LabelContext",
    "MaskedKNNContext",
    "MaskedRBFContext",
    "Matrix",
    "RBFContext",
    "SampleContext",
    "check_context",
    "graph_context",
    "knn_context",
    "knn_mask_context",
    "label_context",
    "label_noise_channel",
    "rbf_context",
    "rbf_mask_context",
]
