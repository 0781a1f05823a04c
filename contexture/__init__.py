"""contexture: helper library of the companion book to "Contextures: Representations from
Contexts" (Zhai et al., ICML 2025; arXiv v2 numbering throughout).

Submodules by concern: :mod:`.contexts` (finite and sample-based contexts), :mod:`.operators`
and :mod:`.spectra` (Definitions 1-2, Lemmas 3-4), :mod:`.metrics` (Sec. 4-5, App. C, F),
:mod:`.objectives`, :mod:`.encoders`, :mod:`.training` (Sec. 3, App. D), :mod:`.data` (datasets),
:mod:`.results` (reproduced numbers), :mod:`.plotting`, :mod:`.seeding`, :mod:`.pipeline` (the
book build). The public names below are imported lazily, so ``import contexture`` is cheap and
torch is only loaded when a torch-based name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "analytic", "association_theory", "contexts", "crops", "data", "encoders", "manifold",
    "metrics",
    "objectives", "operators", "optimality_theory", "pipeline", "plotting", "results", "scaling",
    "seeding", "spectra", "ssl", "supervised", "training",
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
    "LeNet": "encoders",
    "LookupEncoder": "encoders",
    "MLP": "encoders",
    # metrics
    "WorstCase": "metrics",
    "approximation_error": "metrics",
    "canonical_correlations": "metrics",
    "cca_alignment": "metrics",
    "chi2_from_joint": "metrics",
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
    "balanced_risk": "objectives",
    "dae_risk": "objectives",
    "dae_risk_batch": "objectives",
    "laplacian_eigenmaps_loss": "objectives",
    "laplacian_eigenmaps_loss_batch": "objectives",
    "laplacian_eigenmaps_minimum": "objectives",
    "lora_loss": "objectives",
    "lora_loss_batch": "objectives",
    "lora_minimum": "objectives",
    "non_contrastive_loss": "objectives",
    "non_contrastive_loss_batch": "objectives",
    "non_contrastive_minimum": "objectives",
    "spectral_contrastive_loss": "objectives",
    "spectral_contrastive_loss_batch": "objectives",
    "spectral_contrastive_minimum": "objectives",
    "supervised_kernel": "objectives",
    "supervised_minimum": "objectives",
    "supervised_risk": "objectives",
    "supervised_risk_batch": "objectives",
    "vicreg_loss": "objectives",
    "vicreg_loss_batch": "objectives",
    "whiten": "objectives",
    # seeding
    "seed_everything": "seeding",
    # spectra
    "InaccurateSpectrumError": "spectra",
    "InaccurateSpectrumWarning": "spectra",
    "SingularSystem": "spectra",
    "extend": "spectra",
    "reconstruct_joint": "spectra",
    "svd": "spectra",
    # --- contexts and spectra ---
    # (Context classes, constructors, SingularSystem, svd, extend, reconstruct_joint and the
    # InaccurateSpectrum* names are listed above under "contexts" and "spectra")
    "residuals": "spectra",
    "adjoint_operator": "operators",
    "chi_square": "operators",
    "expectation_operator": "operators",
    "kernel_a": "operators",
    "kernel_a_operator": "operators",
    "kernel_x": "operators",
    "kernel_x_operator": "operators",
    "QuadratureContext": "analytic",
    "cycle_fourier_modes": "analytic",
    "cycle_translation_context": "analytic",
    "cycle_translation_spectrum": "analytic",
    "gaussian_noise_context": "analytic",
    "gaussian_noise_singular_functions": "analytic",
    "gaussian_noise_spectrum": "analytic",
    "hypercube_masking_context": "analytic",
    "hypercube_masking_singular_functions": "analytic",
    "hypercube_masking_spectrum": "analytic",
    "hypercube_points": "analytic",
    "label_noise_context": "analytic",
    "label_noise_spectrum": "analytic",
    "parity_functions": "analytic",
    "resampling_context": "analytic",
    "resampling_spectrum": "analytic",
    "subsets_by_size": "analytic",
    "CropSample": "crops",
    "crop_size": "crops",
    "random_crops": "crops",
    # --- end contexts and spectra ---
    # training
    "PosthocReduction": "training",
    "TrainHistory": "training",
    "posthoc_reduce": "training",
    "train": "training",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'contexture' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
