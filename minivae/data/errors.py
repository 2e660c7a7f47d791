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


def float_range_hint(lo: float, hi: float) -> str:
    """What to do with float images whose values (min ``lo``, max ``hi``) are not in [0, 1].

    The two ranges learners bring: PyTorch's ``Normalize(0.5, 0.5)`` gives
    [-1, 1], and 0..255 stored as floats needs dividing by 255. Only a maximum
    above 2 looks like 0..255 (a digit's brightest pixels are near 255); a
    maximum of 1.5 is [0, 1] images a little off, not pixel values to divide.
    """
    if lo != lo or hi != hi or abs(lo) == float("inf") or abs(hi) == float("inf"):
        return "Replace the NaN or infinite values first"
    if -1.0 <= lo < 0.0 and hi <= 1.0:
        return ("They look normalised to [-1, 1] (PyTorch's Normalize(0.5, 0.5)): map them "
                "back with (x + 1) / 2, and train with --pixel-range symmetric if the model "
                "should work on [-1, 1]")
    if lo >= 0.0 and 2.0 < hi <= 255.0:
        return "They look like 0..255 pixel values: divide them by 255"
    if lo >= 0.0:
        return ("Bring them into [0, 1]: np.clip(x, 0, 1) if only a few lie above 1, or "
                "rescale them, e.g. x / x.max()")
    return "Rescale them into [0, 1], e.g. (x - x.min()) / (x.max() - x.min())"
