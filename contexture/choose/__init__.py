r"""Choose a context for your own data: ``python -m contexture.choose data.csv``.

The metric :math:`\tau` of Eq. (4) ranks contexts without labels (Sec. 5.3, Table 1, arXiv v2
numbering), so a practitioner can pick the association strength before training. This command
applies the book's real-data protocol (:mod:`contexture.evaluation`) to a CSV / TSV / Parquet
file: the book's preprocessing, a seeded subsample and 70/15/15 split, the exact spectrum of
each context type at a grid of association levels, :math:`\tau`, :math:`\arg\min_d\tau_d`, a
ranking (``ranking.csv``), a figure (``tau.png``), the singular values (``spectra.npz``) and,
with ``--target``, the ridge probe's held-out error and the agreement of :math:`\tau`'s
ranking with it. The cells run through :mod:`contexture.sweeps` (resumable; local processes
or Dask).

Example::

    python -m contexture.choose data.csv --target y --levels 7 --max-rows 1500 --out out/
"""

from __future__ import annotations

from contexture.choose.cell import choose_cell
from contexture.choose.cli import build_parser, main
from contexture.choose.core import (
    ChooseError,
    ChooseSettings,
    agreement,
    choose,
    prepare_file,
    ranking_table,
    read_table,
)

__all__ = [
    "ChooseError",
    "ChooseSettings",
    "agreement",
    "build_parser",
    "choose",
    "choose_cell",
    "main",
    "prepare_file",
    "ranking_table",
    "read_table",
]
