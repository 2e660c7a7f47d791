"""The errors the data layer raises, each one a ValueError.

Every message names the file (or source) and says what was wrong and what to
do about it, so that a learner never has to decode a NumPy reshape traceback.

    DataError               base class: bad data, of any kind (a ValueError)
    +-- IDXError            a file that is not valid IDX (header, sizes, gzip)
    +-- ChecksumError       the bytes are not the canonical ones
    +-- DownloadError       every mirror failed (lists what was tried)
    +-- DataNotFoundError   no source had the data (also a FileNotFoundError)
"""

from __future__ import annotations


class DataError(ValueError):
    """Base class for every error about data files and arrays."""


class IDXError(DataError):
    """A file or byte string that is not valid IDX (see :mod:`minivae.data.idx`)."""


class ChecksumError(DataError):
    """The bytes of a dataset file do not have the canonical digest."""


class DownloadError(DataError):
    """A file could not be fetched from any of the sources tried."""


class DataNotFoundError(DataError, FileNotFoundError):
    """No directory, cache, system package or download had the dataset.

    It is a FileNotFoundError too, so ``except FileNotFoundError`` also works.
    """
