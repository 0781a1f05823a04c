"""Real datasets of the paper: registry, canonical files, preprocessing, splits and loading.

The 28 OpenML datasets of Table 1 (Sec. 5.3, arXiv v2 numbering) plus MNIST (Sec. 4, App. E).
Files are prepared by ``python -m data_scripts.prepare`` (OpenML download or a local mirror) into
``<data_dir>/<name>/{canonical.npz, meta.json}``; :func:`load` reads, verifies and preprocesses
them. Used by the appendix chapter ``datasets`` and by every chapter on real data.

Example::

    from contexture import data
    ds = data.load("abalone", seed=0)        # 70/15/15 split, preprocessing fitted on pretrain
    X_pre, _ = ds.part("pretrain")
    X_tr, y_tr = ds.part("train")
"""

from __future__ import annotations

from contexture.data.canonical import CanonicalTable, file_digest, read_canonical, write_canonical
from contexture.data.dataset import Dataset, load, load_canonical, provenance_table, summary_table
from contexture.data.errors import (
    ChecksumError,
    DataError,
    DataNotPreparedError,
    DataUnavailableError,
    DownloadError,
    UnknownDatasetError,
)
from contexture.data.paths import data_dir, mirror_dir
from contexture.data.preprocess import MISSING_LEVEL, Preprocessor, fit_preprocessor
from contexture.data.registry import REGISTRY, DatasetInfo, info, names
from contexture.data.splits import PAPER_FRACTIONS, Split, split_indices

__all__ = [
    "MISSING_LEVEL",
    "PAPER_FRACTIONS",
    "REGISTRY",
    "CanonicalTable",
    "ChecksumError",
    "DataError",
    "DataNotPreparedError",
    "DataUnavailableError",
    "Dataset",
    "DatasetInfo",
    "DownloadError",
    "Preprocessor",
    "Split",
    "UnknownDatasetError",
    "data_dir",
    "file_digest",
    "fit_preprocessor",
    "info",
    "load",
    "load_canonical",
    "mirror_dir",
    "names",
    "provenance_table",
    "read_canonical",
    "split_indices",
    "summary_table",
    "write_canonical",
]
