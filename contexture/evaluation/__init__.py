"""Evaluating contexts on real data: context grids, exact encoders and ridge probes (Sec. 5).

The computational core of the paper's real-data experiments (Sec. 5.1-5.3, App. F.1; Table 1,
Figs 2-3, 5-6, 8-11): for a dataset and one of the four context types (RBF, KNN, RBF_mask,
KNN_mask; ``A = X``) at a grid of association levels, the exact top singular functions (kernel
PCA on the dual kernel) extended by Lemma 3, ridge probes for every dimension ``d <= d0``, the
metric tau of Eq. (4) and the association measures of Sec. 5.1 and App. F.1.

Entry points::

    from contexture.evaluation import evaluate_contexts
    rec = evaluate_contexts("splice", "knn", levels=(0, 10, 20))   # a sweep cell
    rec["tau"], rec["err_star"], rec["err"]                          # per level

:func:`evaluate_contexts` is a pure top-level function of plain arguments, so it is a cell of
:mod:`contexture.sweeps` as it stands (``Sweep("table1", evaluate_contexts, Grid(dataset=...,
context=..., levels=...), fixed={...})``). The natural implementation, for checks, is
:func:`evaluate_reference`.
"""

from __future__ import annotations

from contexture.evaluation.agreement import TAU_INFINITE, tau_error_agreement
from contexture.evaluation.cell import (
    D0_PAPER,
    S_FLOOR,
    evaluate_contexts,
    evaluate_prepared,
    level_grid,
    lipschitz_rows,
    protocol_masks,
    resolve_d0,
    summarise_level,
)
from contexture.evaluation.families import (
    ContextFamily,
    draw_masks,
    reference_conditional,
    sample_sq_dists,
    sq_dists,
    top_k_sorted,
)
from contexture.evaluation.grids import (
    CONTEXT_TYPES,
    LevelGrid,
    check_level_indices,
    knn_levels,
    rbf_gammas,
)
from contexture.evaluation.prepared import (
    DEFAULT_EVAL_CAP,
    DEFAULT_PRETRAIN_CAP,
    PreparedData,
    encode_targets,
    feature_groups,
    prepare_arrays,
    prepare_dataset,
    subseed,
)
from contexture.evaluation.probe import (
    RIDGE_GRID,
    RidgePath,
    check_ridge_grid,
    ridge_path,
    ridge_path_reference,
)
from contexture.evaluation.reference import evaluate_reference
from contexture.evaluation.spectrum import ExactEncoder, exact_encoder, top_eigh, usable_dimension
from contexture.evaluation.sweep import (
    CHAPTER_SETTINGS,
    SWEEP_SETTINGS,
    chapter_sweep,
    held_datasets,
    level_chunks,
    level_table,
    real_data_cell,
    real_data_sweep,
)

__all__ = [
    "CHAPTER_SETTINGS",
    "CONTEXT_TYPES",
    "D0_PAPER",
    "DEFAULT_EVAL_CAP",
    "DEFAULT_PRETRAIN_CAP",
    "RIDGE_GRID",
    "S_FLOOR",
    "SWEEP_SETTINGS",
    "TAU_INFINITE",
    "ContextFamily",
    "ExactEncoder",
    "LevelGrid",
    "PreparedData",
    "RidgePath",
    "check_level_indices",
    "chapter_sweep",
    "check_ridge_grid",
    "draw_masks",
    "encode_targets",
    "evaluate_contexts",
    "evaluate_prepared",
    "evaluate_reference",
    "exact_encoder",
    "feature_groups",
    "held_datasets",
    "knn_levels",
    "level_chunks",
    "level_grid",
    "level_table",
    "lipschitz_rows",
    "prepare_arrays",
    "prepare_dataset",
    "protocol_masks",
    "rbf_gammas",
    "real_data_cell",
    "real_data_sweep",
    "reference_conditional",
    "resolve_d0",
    "ridge_path",
    "ridge_path_reference",
    "sample_sq_dists",
    "sq_dists",
    "subseed",
    "tau_error_agreement",
    "summarise_level",
    "top_eigh",
    "top_k_sorted",
    "usable_dimension",
]
