r"""The sweep cell of ``python -m contexture.choose``: one context type at a chunk of levels.

The command writes the prepared arrays of the user's file once into ``<out>/prepared.npz``;
each cell reads them, checks their content hash (so a changed file or setting is a new cell
key, and a stale file is refused rather than mixed in) and runs the real-data protocol of
Sec. 5.3 (:func:`contexture.evaluation.evaluate_prepared`: exact spectrum, :math:`\tau` of
Eq. (4), its minimiser and, with a target, the ridge probes). Kept apart from the command's
other code so that editing the report or the figure does not recompute the stored cells.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from contexture.evaluation import evaluate_prepared, prepare_arrays

__all__ = ["PREPARED_ARRAYS", "arrays_sha256", "choose_cell", "load_prepared"]

PREPARED_ARRAYS = ("X_pre", "X_train", "X_test", "y_pre", "y_train", "y_test", "groups")
"""The arrays of ``prepared.npz`` (features of the three parts, raw targets, mask groups)."""


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """The sha256 of named arrays (names, dtypes, shapes and bytes, in sorted name order).

    Independent of how the arrays are stored (zip timestamps), so it keys the cells of
    :func:`choose_cell` by content. Infrastructure of the Sec. 5.3 protocol command.
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_prepared(path: str, sha256: str) -> dict[str, np.ndarray]:
    """Read ``prepared.npz`` and refuse it unless its arrays hash to ``sha256``.

    Raises
    ------
    ValueError
        if the file's arrays are not the ones the cell was keyed with (the file was rewritten
        by another run with other data or settings).
    """
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    got = arrays_sha256(arrays)
    if got != sha256:
        raise ValueError(f"{path} holds other arrays (sha256 {got[:12]}) than this cell was "
                         f"keyed with ({sha256[:12]}); rerun the command")
    return arrays


def choose_cell(prepared: str, prepared_sha256: str, context: str, levels: Sequence[int], *,
                task: str, n_classes: int | None, probe: bool, d0: int, n_levels: int,
                n_masks: int, mask_fraction: float, max_fraction: float,
                seed: int) -> dict[str, Any]:
    r"""One cell: ``context`` at the level indices ``levels`` on the prepared arrays.

    Parameters
    ----------
    prepared, prepared_sha256 : the ``prepared.npz`` file and the hash of its arrays.
    context : ``"rbf"``, ``"knn"``, ``"rbf_mask"`` or ``"knn_mask"`` (Sec. 5.3).
    levels : level indices into the grid of ``n_levels`` levels (0 = strongest association).
    task, n_classes : the target's task and class count (``"regression"`` and ``None`` for
        the dummy all-zero target used when the user gives no target).
    probe : whether a target was given; without one the probe errors are dropped.
    d0, n_levels, n_masks, mask_fraction, max_fraction, seed : as in
        :func:`contexture.evaluation.evaluate_prepared`.

    Returns
    -------
    The record of :func:`~contexture.evaluation.evaluate_prepared` for these levels
    (``tau`` of Eq. (4), ``tau_d_star``, ``s``, ``k``, ``value``, ``neighbourhood``, ...),
    without ``context`` (a sweep axis) and, unless ``probe``, without the probe errors.
    """
    a = load_prepared(prepared, prepared_sha256)
    prep = prepare_arrays(a["X_pre"], a["X_train"], a["y_train"], a["X_test"], a["y_test"],
                          task=task, y_pre=a["y_pre"] if probe else None, groups=a["groups"],
                          n_classes=n_classes, name="choose")
    rec = evaluate_prepared(prep, context, list(levels), d0=d0, n_levels=n_levels,
                            n_masks=n_masks, mask_fraction=mask_fraction,
                            max_fraction=max_fraction, seed=seed)
    rec.pop("context")
    if not probe:
        for key in ("err", "ridge_index", "d_star", "err_star", "target_cosine"):
            rec.pop(key, None)
    return rec
