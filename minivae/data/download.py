"""Fetching a file over HTTP(S) so that a failure never looks like success.

Three rules make a download safe to trust:

1. Time-outs. Opening a connection waits at most ``connect_timeout`` (5 s),
   each read at most ``timeout`` (30 s). A mirror that cannot be reached is
   remembered and not asked again for the next file, and an error that says
   the network itself is down (no route, no DNS) stops trying mirrors at all:
   behind a firewall that drops packets, the data step falls back to PyPI
   after about 5 s per mirror instead of 30 s per mirror and file.
2. Atomic write. Bytes go to a temporary file next to the destination
   (``.train-images-idx3-ubyte.gz.XXXX.part``); only after the whole body has
   arrived *and* passed ``verify`` is it renamed onto the real name with
   ``os.replace``, which is atomic. An interrupted, truncated or corrupt
   transfer therefore leaves nothing that looks like a dataset file; what a
   killed one leaves, :func:`remove_stale_temporaries` removes an hour later.
3. Several mirrors. :func:`fetch_from_mirrors` tries each base URL in order
   and, if all fail, raises one error that lists every URL and its fault.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from ..files.serialize import TMP_PREFIX, default_file_mode
from .errors import DataError, DownloadError

DEFAULT_TIMEOUT = 30.0  # seconds one read may wait; tests use ~0.5
CONNECT_TIMEOUT = 5.0   # seconds opening a connection may take (a dropped SYN costs this)
# A connection error with one of these says no host can be reached, not just this one.
# (EAI_AGAIN: the name server itself cannot be reached.)
NETWORK_DOWN = {errno.ENETUNREACH, errno.ENETDOWN, socket.EAI_AGAIN}
CHUNK_BYTES = 1 << 16  # read the body 64 KiB at a time, to update the progress bar
USER_AGENT = "minivae-data/1.0 (python urllib)"  # some servers refuse urllib's default
STALE_SECONDS = 3600  # a temporary file this old in the cache was left by a killed download


def download(url: str, dest, *, timeout: float = DEFAULT_TIMEOUT,
             verify: Callable[[Path], None] | None = None,
             progress: bool = True, max_bytes: int | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, with a time-out and a progress bar.

    Parameters
    ----------
    url : str
        What to fetch (http, https, or file URLs).
    dest : str or Path
        Where the file ends up; its directory is created if needed.
    timeout : float
        Seconds any single connect or read may wait before giving up.
    verify : callable, optional
        Called with the path of the complete temporary file; raise (e.g.
        ChecksumError) to reject it. The file is then deleted, not renamed.
    progress : bool
        Show a tqdm progress bar (only when stderr is a terminal).
    max_bytes : int, optional
        Give up once the body is larger than this (a wrong or hostile server
        could otherwise fill the disk).

    Raises
    ------
    OSError, http.client.HTTPException
        The server could not be reached, refused, or timed out.
    DownloadError
        The body ended before the Content-Length the server announced, or
        was larger than ``max_bytes``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            received = 0
            if max_bytes is not None and total is not None and total > max_bytes:
                raise DownloadError(f"{url}: the server announces {total:,} bytes, more than "
                                    f"the {max_bytes:,} this file can take")
            # disable=None: the bar shows on a terminal and stays out of logs.
            with tqdm(total=total, desc=dest.name, unit="B", unit_scale=True,
                      unit_divisor=1024, disable=None if progress else True) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    f.write(chunk)
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise DownloadError(f"{url}: more than {max_bytes:,} bytes, more than "
                                            "this file can take; stopped")
                    bar.update(len(chunk))
            # http.client returns a short body without complaint when the
            # connection drops, so the length check is ours to make.
            if total is not None and received != total:
                raise DownloadError(f"{url}: transfer cut off after {received} of "
                                    f"{total} bytes")
            f.flush()
            os.fsync(f.fileno())
        if verify is not None:
            verify(tmp)
        os.chmod(tmp, default_file_mode())    # mkstemp made it 0o600
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)  # after a successful rename there is nothing left


class Unreachable(OSError):
    """A mirror could not even be connected to; ``network_down``: no host can be."""

    def __init__(self, message, network_down=False):
        super().__init__(message)
        self.network_down = network_down


def probe(url: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Open and close a TCP connection to ``url``'s host; raise Unreachable if that fails.

    Separating the connect from the download gives a firewalled host a short
    time-out (a dropped packet is never answered) while a slow transfer keeps
    the long one. Skipped for file URLs and when a proxy is configured (the
    proxy, not the host, is what urllib will connect to).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or urllib.request.getproxies().get(parts.scheme):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise Unreachable(f"cannot connect to {parts.hostname}:{port} "
                          f"({type(exc).__name__}: {exc})",
                          network_down=exc.errno in NETWORK_DOWN) from None


def fetch_from_mirrors(filename: str, mirrors: Sequence[str], dest, *,
                       timeout: float = DEFAULT_TIMEOUT,
                       verify: Callable[[Path], None] | None = None,
                       progress: bool = True, max_bytes: int | None = None,
                       unreachable: dict | None = None,
                       connect_timeout: float = CONNECT_TIMEOUT) -> Path:
    """Download ``filename`` from the first of ``mirrors`` that works.

    Parameters
    ----------
    filename : str
        The file's name on the mirrors, e.g. "train-images-idx3-ubyte.gz".
    mirrors : sequence of str
        Base URLs tried in order; the URL is ``mirror.rstrip("/") + "/" + filename``.
    dest, timeout, verify, progress, max_bytes
        As for :func:`download`. A mirror whose file fails ``verify`` counts
        as a failed mirror: the next one is tried.
    unreachable : dict, optional
        Mirror -> why it could not be connected to. Mirrors found in it are
        skipped, and those that cannot be reached now are added: pass the
        same dict for every file of a dataset. A "network is down" error
        marks every mirror.
    connect_timeout : float
        Seconds opening a connection may take.

    Raises
    ------
    DownloadError
        Every mirror failed; the message lists each URL and why.
    """
    unreachable = {} if unreachable is None else unreachable
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            if mirror in unreachable:
                raise Unreachable(f"not tried: {unreachable[mirror]}")
            probe(url, connect_timeout)
            return download(url, dest, timeout=timeout, verify=verify, progress=progress,
                            max_bytes=max_bytes)
        except Unreachable as exc:
            failures.append(f"  {url}\n      {exc}")
            if mirror not in unreachable:
                for dead in (mirrors if exc.network_down else [mirror]):
                    unreachable.setdefault(dead, str(exc))
        except (OSError, http.client.HTTPException, DataError) as exc:
            # OSError covers refused connections, time-outs and HTTP errors
            # (urllib's URLError and HTTPError); DataError a bad checksum.
            failures.append(f"  {url}\n      {type(exc).__name__}: {exc}")
    if not failures:
        raise DownloadError(f"no mirrors given for {filename}")
    raise DownloadError(f"could not download {filename}; tried:\n" + "\n".join(failures))


def remove_stale_temporaries(directory: Path) -> list[str]:
    """Delete the partial downloads and temporaries a kill left in a cache directory.

    Only minivae's own names (``.NAME.XXXX.part``, ``.minivae-tmp-XXXX``) older
    than STALE_SECONDS go: a download running in another process is younger.
    """
    if not directory.is_dir():
        return []
    gone, now = [], time.time()
    for path in directory.iterdir():
        ours = path.name.startswith(TMP_PREFIX) or (path.name.startswith(".")
                                                    and path.name.endswith(".part"))
        if ours and path.is_file() and now - path.stat().st_mtime > STALE_SECONDS:
            path.unlink(missing_ok=True)
            gone.append(path.name)
    return gone
