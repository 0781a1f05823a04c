"""Errors raised by the data layer.

Each message says what went wrong, names the file or dataset involved and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ChecksumError",
    "DataError",
    "DataNotPreparedError",
    "DataUnavailableError",
    "DownloadError",
    "UnknownDatasetError",
]


class DataError(Exception):
    """Base class of every error raised by :mod:`contexture.data` and ``data_scripts``."""


class UnknownDatasetError(DataError, ValueError):
    """A dataset name that is not in the registry; the message lists the known names."""


class DataNotPreparedError(DataError, FileNotFoundError):
    """The canonical files of a dataset are missing; the message says how to prepare them."""


class DataUnavailableError(DataNotPreparedError):
    """A dataset that has no offline copy and must be downloaded from OpenML."""


class ChecksumError(DataError, ValueError):
    """A file whose sha256 (or md5) differs from the recorded one; the file is refused."""


class DownloadError(DataError, OSError):
    """A download that failed or was cut short; nothing is left under the final name."""
