"""Metrics of the paper: alignment, optimality, Appendix C, association, tau, correlations.

Singular values passed as ``s`` are always the **nontrivial** ones, ``s[0]`` = :math:`s_1`.
"""

from __future__ import annotations

from contexture.metrics.alignment import (
    canonical_correlations,
    cca_alignment,
    mutual_knn_alignment,
    principal_angles,
    span_alignment,
    subspace_distance,
)
from contexture.metrics.association import (
    decay_rate,
    function_lipschitz_estimate,
    kernel_deviation,
    lemma17_bound,
    lemma25_bound,
    lipschitz_estimate,
)
from contexture.metrics.correlation import distance_correlation, pearson
from contexture.metrics.optimality import (
    WorstCase,
    approximation_error,
    compatibility,
    converse_task,
    thm16_eps_range,
    thm16_extremal_task,
    worst_case_error,
    worst_case_error_exact,
)
from contexture.metrics.ratio_trace import (
    generalized_eigenvalues,
    ky_fan_check,
    ratio_trace,
    ratio_trace_matrices,
    thm24_bound,
    trace_gap,
    trace_gap_terms,
)
from contexture.metrics.tau import tau, tau_exponential

__all__ = [
    "WorstCase",
    "approximation_error",
    "canonical_correlations",
    "cca_alignment",
    "compatibility",
    "converse_task",
    "decay_rate",
    "distance_correlation",
    "function_lipschitz_estimate",
    "generalized_eigenvalues",
    "kernel_deviation",
    "ky_fan_check",
    "lemma17_bound",
    "lemma25_bound",
    "lipschitz_estimate",
    "mutual_knn_alignment",
    "pearson",
    "principal_angles",
    "ratio_trace",
    "ratio_trace_matrices",
    "span_alignment",
    "subspace_distance",
    "tau",
    "tau_exponential",
    "thm16_eps_range",
    "thm16_extremal_task",
    "thm24_bound",
    "trace_gap",
    "trace_gap_terms",
    "worst_case_error",
    "worst_case_error_exact",
]
