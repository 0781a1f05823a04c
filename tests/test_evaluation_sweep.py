"""The shared real-data sweep: its grid, its checks and its per-level table."""

from __future__ import annotations

import numpy as np
import pytest

from contexture.data import UnknownDatasetError
from contexture.evaluation import evaluate_contexts
from contexture.evaluation.sweep import (
    chapter_sweep,
    held_datasets,
    level_chunks,
    level_table,
    real_data_sweep,
)
from contexture.sweeps import run_sweep

SMALL = dict(n_pretrain_cap=80, n_eval_cap=40, d0=10, n_levels=5, n_masks=2, seed=1)


def test_level_chunks_split_sorted_levels():
    assert level_chunks([4, 0, 2, 3], 3) == ((0, 2, 3), (4,))
    assert level_chunks(range(5), 5) == ((0, 1, 2, 3, 4),)
    with pytest.raises(ValueError, match="empty"):
        level_chunks([], 2)
    with pytest.raises(ValueError):
        level_chunks([0, 1], 0)


def test_sweep_checks_its_input_before_running():
    with pytest.raises(UnknownDatasetError):
        real_data_sweep(["no_such_data"])
    with pytest.raises(ValueError, match="context type"):
        real_data_sweep(["diabetes"], contexts=["knn", "gauss"])
    with pytest.raises(ValueError, match="unknown setting"):
        real_data_sweep(["diabetes"], n_level=5)
    with pytest.raises(ValueError, match="outside the grid"):
        real_data_sweep(["diabetes"], levels=[0, 5], n_levels=5)


def test_two_chapters_share_their_cells(tmp_path):
    wide = real_data_sweep(["diabetes"], ("rbf", "knn"), (0, 2, 4), level_chunk=2, **SMALL)
    narrow = real_data_sweep(["diabetes"], ("knn",), (0, 2, 4), level_chunk=2, **SMALL)
    first = run_sweep(wide, store=tmp_path, workers=1, progress=False)
    again = run_sweep(narrow, store=tmp_path, workers=1, progress=False)
    assert (first.n_computed, again.n_computed, again.n_cached) == (4, 0, 2)
    table = level_table(first)
    assert list(table["context"]) == ["rbf"] * 3 + ["knn"] * 3
    assert list(table["level"]) == [0, 2, 4] * 2
    # the rows are those of a direct call of the cell
    direct = evaluate_contexts("diabetes", "knn", (0, 2, 4), **SMALL)
    knn = table[table["context"] == "knn"]
    np.testing.assert_array_equal(knn["tau"].to_numpy(), direct["tau"])
    np.testing.assert_array_equal(knn["err_star"].to_numpy(), direct["err_star"])
    assert (knn["n_pretrain"] == 80).all() and (knn["d0"] == 10).all()


def test_level_table_refuses_an_empty_result():
    with pytest.raises(ValueError, match="no records"):
        level_table([])


def test_chapter_sweep_from_parameters():
    params = dict(datasets=[], levels=[0, 34], level_chunk=2, d0=16, n_pretrain_cap=100,
                  n_eval_cap=50, seed=0, n_levels=35, n_masks=2, mask_fraction=0.2,
                  lipschitz_n=50)
    sweep = chapter_sweep(params, ("knn",))
    assert len(sweep) == len(held_datasets()) == 26
    assert "colleges" not in held_datasets()
    assert sweep.fixed["association"] is True
    with pytest.raises(KeyError, match="level_chunk"):
        chapter_sweep({k: v for k, v in params.items() if k != "level_chunk"})
