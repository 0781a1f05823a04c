"""contexture: helper library of the companion book to "Contextures: Representations from
Contexts" (Zhai et al., ICML 2025; arXiv v2 numbering throughout).

Layers, bottom to top (each imports only those below it; ``tests/test_layers.py`` runs the
import-linter contracts of ``pyproject.toml``):

- :mod:`.base` -- argument checks, matrix helpers, seeding;
- :mod:`.operators`, :mod:`.spectra` -- kernels, expectation operators and exact singular systems
  of a joint law (Definitions 1-2, Lemmas 3-4);
- :mod:`.contexts` -- finite, sample-based and closed-form contexts (Sec. 1, 2.1, 5.3);
- :mod:`.metrics` -- alignment, optimality, ratio trace, association, tau (Sec. 4-5, App. C, F);
- :mod:`.learning` (objectives, encoders, training; Sec. 3, App. D) and :mod:`.data` (datasets);
- :mod:`.chapters` -- one companion module per book chapter;
- :mod:`.runtime` -- results registry, plotting style, provenance.

The book build tool (``bookbuild``) lives outside this package. The public names below are
imported lazily, so ``import contexture`` is cheap and torch is only loaded when a torch-based
name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Subpackages reachable as attributes (``contexture.metrics``), and the results registry of the
# chapter runtime (``from contexture import results``).
_SUBMODULES = {
    "base": "base", "chapters": "chapters", "contexts": "contexts", "data": "data",
    "learning": "learning", "metrics": "metrics", "operators": "operators",
    "spectra": "spectra", "runtime": "runtime", "results": "runtime.results",
}

_LAZY = {
    # contexts
    "Context": "contexts",
    "FiniteContext": "contexts",
    "KNNContext": "contexts",
    "LabelContext": "contexts",
    "MaskedKNNContext": "contexts",
    "MaskedRBFContext": "contexts",
    "RBFContext": "contexts",
    "SampleContext": "contexts",
    "graph_context": "contexts",
    "knn_context": "contexts",
    "knn_mask_context": "contexts",
    "label_context": "contexts",
    "label_noise_channel": "contexts",
    "rbf_context": "contexts",
    "rbf_mask_context": "contexts",
    # encoders
    "LeNet": "learning.encoders",
    "LookupEncoder": "learning.encoders",
    "MLP": "learning.encoders",
    # metrics
    "WorstCase": "metrics",
    "approximation_error": "metrics",
    "canonical_correlations": "metrics",
    "cca_alignment": "metrics",
    "compatibility": "metrics",
    "converse_task": "metrics",
    "decay_rate": "metrics",
    "distance_correlation": "metrics",
    "function_lipschitz_estimate": "metrics",
    "generalized_eigenvalues": "metrics",
    "kernel_deviation": "metrics",
    "ky_fan_check": "metrics",
    "lemma17_bound": "metrics",
    "lemma25_bound": "metrics",
    "lipschitz_estimate": "metrics",
    "mutual_knn_alignment": "metrics",
    "pearson": "metrics",
    "principal_angles": "metrics",
    "ratio_trace": "metrics",
    "ratio_trace_matrices": "metrics",
    "span_alignment": "metrics",
    "subspace_distance": "metrics",
    "tau": "metrics",
    "tau_exponential": "metrics",
    "thm16_eps_range": "metrics",
    "thm16_extremal_task": "metrics",
    "thm24_bound": "metrics",
    "trace_gap": "metrics",
    "trace_gap_terms": "metrics",
    "worst_case_error": "metrics",
    "worst_case_error_exact": "metrics",
    # objectives
    "balanced_risk": "learning.objectives",
    "dae_risk": "learning.objectives",
    "dae_risk_batch": "learning.objectives",
    "laplacian_eigenmaps_loss": "learning.objectives",
    "laplacian_eigenmaps_loss_batch": "learning.objectives",
    "laplacian_eigenmaps_minimum": "learning.objectives",
    "lora_loss": "learning.objectives",
    "lora_loss_batch": "learning.objectives",
    "lora_minimum": "learning.objectives",
    "non_contrastive_loss": "learning.objectives",
    "non_contrastive_loss_batch": "learning.objectives",
    "non_contrastive_minimum": "learning.objectives",
    "spectral_contrastive_loss": "learning.objectives",
    "spectral_contrastive_loss_batch": "learning.objectives",
    "spectral_contrastive_minimum": "learning.objectives",
    "supervised_kernel": "learning.objectives",
    "supervised_minimum": "learning.objectives",
    "supervised_risk": "learning.objectives",
    "supervised_risk_batch": "learning.objectives",
    "vicreg_loss": "learning.objectives",
    "vicreg_loss_batch": "learning.objectives",
    "whiten": "learning.objectives",
    # base: seeding and the weighted eigendecomposition
    "seed_everything": "base.seeding",
    "weighted_eigh": "base.linalg",
    # spectra
    "InaccurateSpectrumError": "spectra",
    "InaccurateSpectrumWarning": "spectra",
    "SingularSystem": "spectra",
    "extend": "spectra",
    "reconstruct_joint": "spectra",
    "svd": "spectra",
    "residuals": "spectra",
    # operators and closed-form contexts
    "adjoint_operator": "operators",
    "chi_square": "operators",
    "expectation_operator": "operators",
    "kernel_a": "operators",
    "kernel_a_operator": "operators",
    "kernel_x": "operators",
    "kernel_x_operator": "operators",
    "QuadratureContext": "contexts.analytic",
    "cycle_fourier_modes": "contexts.analytic",
    "cycle_translation_context": "contexts.analytic",
    "cycle_translation_spectrum": "contexts.analytic",
    "gaussian_noise_context": "contexts.analytic",
    "gaussian_noise_singular_functions": "contexts.analytic",
    "gaussian_noise_spectrum": "contexts.analytic",
    "hypercube_masking_context": "contexts.analytic",
    "hypercube_masking_singular_functions": "contexts.analytic",
    "hypercube_masking_spectrum": "contexts.analytic",
    "hypercube_points": "contexts.analytic",
    "hypercube_spectrum": "contexts.analytic",
    "label_noise_context": "contexts.analytic",
    "label_noise_spectrum": "contexts.analytic",
    "parity_features": "contexts.analytic",
    "parity_subsets": "contexts.analytic",
    "resampling_context": "contexts.analytic",
    "resampling_spectrum": "contexts.analytic",
    "CropSample": "contexts.crops",
    "crop_size": "contexts.crops",
    "random_crops": "contexts.crops",
    # training
    "PosthocReduction": "learning.training",
    "TrainHistory": "learning.training",
    "posthoc_reduce": "learning.training",
    "train": "learning.training",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f".{_SUBMODULES[name]}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'contexture' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
