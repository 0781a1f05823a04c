"""Sweeps: grids of pure cells, stored resumably on disk, run locally or on a Dask cluster.

A chapter states an experiment table as a :class:`Sweep`: a top-level function ``cell`` (a
pure function of its keyword arguments returning a small record) and a :class:`Grid` of
parameter points. :func:`run_sweep` computes the cells missing from the store (one file per
finished cell, keyed by the parameters and the hash of the code the cell runs), in this process,
in local worker processes or on a Dask cluster, and returns a :class:`SweepResult`::

    from contexture.sweeps import Grid, Sweep, run_sweep

    grid = Grid(dataset=["abalone", "splice"], context=["rbf", "knn"], level=range(35))
    result = run_sweep(Sweep("table1", evaluate_cell, grid, fixed={"seed": 0}))
    result.table()                      # pandas DataFrame of the scalar fields
    result.get(dataset="abalone", context="knn", level=3)

A chapter companion lists its sweeps in a module-level ``SWEEPS = {"table1": build}`` (``build``
maps the chapter's parameters to a :class:`Sweep`), so that ``python -m bookbuild sweep table1
--profile paper --scheduler tcp://host:8786`` can fill the store before the chapter runs.
"""

from contexture.sweeps.codehash import code_hash, module_closure
from contexture.sweeps.grid import Grid
from contexture.sweeps.result import CellFailure, SweepFailed, SweepResult
from contexture.sweeps.runner import SCHEDULER_ENV, run_sweep
from contexture.sweeps.store import STORE_ENV, CellStore, CorruptCellWarning, default_store
from contexture.sweeps.sweep import Sweep

__all__ = [
    "SCHEDULER_ENV",
    "STORE_ENV",
    "CellFailure",
    "CellStore",
    "CorruptCellWarning",
    "Grid",
    "Sweep",
    "SweepFailed",
    "SweepResult",
    "code_hash",
    "default_store",
    "module_closure",
    "run_sweep",
]
