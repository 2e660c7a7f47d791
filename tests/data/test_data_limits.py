"""Data files that would exhaust memory, and things that are not files at all.

Sizes are checked before anything is allocated: a small .gz that inflates to
far more than the file it claims to be, a 1 KB .npy that declares a huge
shape, a small .npz that inflates to gigabytes. tracemalloc (NumPy reports
its array memory to it) measures the peak allocation of each refusal.
"""

import gzip
import os
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from minivae.data import DataError, DownloadError, fetch_dataset, load_dataset, load_mnist
from minivae.data.catalog import MNIST
from minivae.data.custom import load_array_file
from minivae.data.download import download, fetch_from_mirrors
from minivae.data.idx import read_idx

from test_data_download import LocalMirror
from conftest import peak_bytes

MiB = 1 << 20
T10K = MNIST.files[("test", "images")]           # 7,840,016 bytes uncompressed


def gzip_of_zeros(n_bytes: int) -> bytes:
    """A gzip file of n_bytes zeros, built a MiB at a time (about 1000x smaller)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)    # 31: gzip container
    chunk, parts = bytes(MiB), []
    for _ in range(n_bytes // MiB):
        parts.append(z.compress(chunk))
    return b"".join(parts) + z.flush()


@pytest.fixture(scope="module")
def bomb():
    """64 MiB of zeros as a ~64 KB .gz: eight times the canonical t10k-images file."""
    return gzip_of_zeros(64 * MiB)


def test_gzip_bomb_in_the_data_dir_is_refused_before_it_inflates(tmp_path, bomb):
    path = tmp_path / f"{T10K.name}.gz"
    path.write_bytes(bomb)
    assert len(bomb) < MiB
    err, peak = peak_bytes(lambda: load_mnist("test", root=tmp_path, download=False))
    assert isinstance(err, DataError) and "inflates to more than 7,840,016 bytes" in str(err)
    assert peak < 2 * T10K.size + 4 * MiB          # never the 64 MiB
    assert path.read_bytes() == bomb                # the user's file: reported, kept


def test_gzip_bomb_from_a_mirror_is_refused_and_not_cached(tmp_path, bomb, monkeypatch):
    mirror = LocalMirror({f"{T10K.name}.gz": bomb})
    try:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        err, peak = peak_bytes(lambda: fetch_dataset("mnist", mirrors=[mirror.url("ok")],
                                                     use_pypi=False, progress=False))
    finally:
        mirror.close()
    assert isinstance(err, DataError) and f"{T10K.name}.gz" in str(err)
    assert "it inflates to more than 7,840,016 bytes" in str(err)
    assert peak < 2 * T10K.size + 4 * MiB
    assert not list((tmp_path / "cache").rglob("*.gz"))


class EndlessHandler(BaseHTTPRequestHandler):
    """Sends zeros with no Content-Length, without end (until the client hangs up)."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(bytes(1 << 16))
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_download_larger_than_its_file_can_be_is_stopped(tmp_path):
    mirror = LocalMirror({"big": os.urandom(MiB)})
    try:
        with pytest.raises(DownloadError, match="announces 1,048,576 bytes, more than"):
            download(mirror.url("ok") + "big", tmp_path / "big", max_bytes=1000)
    finally:
        mirror.close()
    server = ThreadingHTTPServer(("127.0.0.1", 0), EndlessHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(DownloadError, match=r"more than 1,000,000 bytes.*stopped"):
            fetch_from_mirrors("endless", [url], tmp_path / "big", max_bytes=10**6)
    finally:
        server.shutdown()
        server.server_close()
    assert os.listdir(tmp_path) == []               # no partial file left


def test_read_idx_takes_a_cap(tmp_path, bomb):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(bomb)
    err, peak = peak_bytes(lambda: read_idx(path, max_bytes=MiB))
    assert isinstance(err, DataError) and "inflates to more than 1,048,576 bytes" in str(err)
    assert peak < MiB + 3 * MiB                    # the cap, plus a few MiB of gzip buffers


def npy_header(shape, dtype="<f8") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_a_1kb_npy_declaring_a_huge_shape_is_refused_without_allocating(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_header((10**6, 10**6)) + bytes(1000))
    err, peak = peak_bytes(lambda: load_dataset(path, "train"))
    assert isinstance(err, DataError) and "declares shape (1000000, 1000000)" in str(err)
    assert peak < MiB


def test_a_small_npz_inflating_past_the_cap_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((1024, 128, 128), dtype=np.uint8))   # 16 MiB of zeros
    assert path.stat().st_size < 100_000
    err, peak = peak_bytes(lambda: load_array_file(path, max_bytes=4 * MiB))
    assert isinstance(err, DataError) and "more than the limit of 4,194,304 bytes" in str(err)
    assert peak < MiB
    monkeypatch.setenv("MINIVAE_MAX_DATA_BYTES", str(4 * MiB))     # the same, for the CLI
    with pytest.raises(DataError, match="MINIVAE_MAX_DATA_BYTES"):
        load_dataset(path, "train")
    monkeypatch.setenv("MINIVAE_MAX_DATA_BYTES", str(32 * MiB))    # raised: it loads
    assert load_dataset(path, "train")[0].shape == (922, 128, 128)


def test_a_member_inflating_past_its_declared_size_is_refused(tmp_path):
    path = tmp_path / "lie.npz"
    np.savez(path, x=np.zeros((10, 8, 8), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    # Shrink the declared uncompressed size in both zip headers: zipfile then stops
    # reading at that size and the .npy header no longer matches it.
    real = (10 * 64 + 128).to_bytes(4, "little")
    assert data.count(real) == 4                  # local header and central directory, twice each
    path.write_bytes(bytes(data).replace(real, (100).to_bytes(4, "little")))
    with pytest.raises(DataError, match="lie.npz"):
        load_array_file(path)


def make_non_file(path, kind):
    """A directory, a FIFO or a symbolic link to nothing at ``path``."""
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this system")
        os.mkfifo(path)
    else:
        path.symlink_to(path.with_name("gone"))


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling link"])
def test_a_non_file_where_mnist_should_be_is_named(tmp_path, kind):
    path = tmp_path / f"{T10K.name}.gz"
    make_non_file(path, kind)
    with pytest.raises(DataError) as info:
        load_mnist("test", root=tmp_path, download=False)
    message = str(info.value)
    assert str(path) in message
    assert {"directory": "is a directory", "fifo": "is a FIFO",
            "dangling link": "symbolic link to"}[kind] in message
    assert os.path.lexists(path)                    # nothing removed


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling link"])
def test_a_non_file_given_as_dataset_is_named(tmp_path, kind):
    path = tmp_path / "faces.npz"
    make_non_file(path, kind)
    with pytest.raises(DataError, match="is a directory|is a FIFO|symbolic link to"):
        load_dataset(path, "train")


def test_a_gzip_file_still_loads_when_it_is_the_real_thing(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 4), dtype=np.uint8)
    from minivae.data import write_idx
    write_idx(tmp_path / "x.idx.gz", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx.gz", max_bytes=4 + 12 + 80), images)
    with pytest.raises(DataError, match="inflates to more than 95 bytes"):
        read_idx(tmp_path / "x.idx.gz", max_bytes=95)
    assert gzip.decompress((tmp_path / "x.idx.gz").read_bytes())[:4] == b"\x00\x00\x08\x03"


def test_a_killed_downloads_leftovers_are_removed_from_the_cache_once_stale(tmp_path):
    from minivae.data.download import STALE_SECONDS, remove_stale_temporaries
    old = time.time() - STALE_SECONDS - 10
    names = [".t10k-images-idx3-ubyte.gz.ab12cd.part", ".minivae-tmp-ab12cd", "notes.part",
             ".fresh.gz.ef34.part"]
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    for name in names[:3]:
        os.utime(tmp_path / name, (old, old))
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(names[:2])
    assert sorted(os.listdir(tmp_path)) == [".fresh.gz.ef34.part", "notes.part"]
