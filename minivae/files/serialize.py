"""Saving arrays to ``.npz`` files safely: no pickle, atomic writes, clear errors.

A file holds named arrays plus one JSON string of metadata (stored as a
0-d unicode array, which ``np.load(..., allow_pickle=False)`` can read).
Writes go to a temporary file in the same directory which is then renamed
over the target, so a crash mid-write never leaves a half-written file
where a good one was.

Reading trusts nothing in the file: sizes are checked against the file and
against a memory cap (:func:`memory_cap`) *before* anything is allocated
(see npyfile.py), and :func:`validate_meta` checks every metadata field of
a checkpoint before a model is built from it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from ..backend import to_numpy
from .metadata import CheckpointError, validate_meta  # noqa: F401 (re-exported)
from .npyfile import check_npz, memory_cap

META_KEY = "__meta__"
TMP_PREFIX = ".minivae-tmp-"   # the temporary files of atomic_write: see clean_temporary_files


class WriteError(OSError):
    """A file could not be written; the message names it and says what to do."""

    def __str__(self):
        return self.strerror


def write_error(e: OSError, path) -> WriteError:
    """``e`` (raised while writing ``path``) as a WriteError that names the path and a remedy."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        why = (f"the disk holding {os.path.dirname(os.path.abspath(path))} is full (or over "
               "quota); free some space and run the command again")
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied; choose a place you may write to"
    else:
        why = e.strerror or str(e)
    return WriteError(e.errno, f"cannot write {path}: {why}")


def default_file_mode() -> int:
    """The permissions ``open(path, "w")`` would give a new file: 0o666 less the umask.

    ``tempfile.mkstemp`` creates its files 0o600 (private); a file renamed into
    place from one should look like any other file the user writes.
    """
    umask = os.umask(0)      # the only way to read the umask is to set it...
    os.umask(umask)          # ...and put it back at once
    return 0o666 & ~umask


def atomic_write(path, data: bytes) -> str:
    """Replace ``path`` by ``data`` atomically; returns the path (:func:`atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)
    return os.fspath(path)


@contextlib.contextmanager
def atomic_file(path, text: bool = False):
    """A file to write in a ``with`` block; it replaces ``path`` atomically when the block ends.

    The bytes go to a temporary file in the same directory (a rename across
    file systems would not be atomic), reach the disk (fsync), get the mode of
    a normally written file, and are renamed over ``path``. Readers see the
    old file or the new one, never a part, even after SIGKILL or a crash; if
    the block raises (Ctrl-C included), the temporary file is removed and
    ``path`` is left as it was. ``text=True``: a UTF-8 text file, for large
    tables written row by row rather than held in memory whole.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
        mode = {"mode": "w", "encoding": "utf-8", "newline": ""} if text else {"mode": "wb"}
        with os.fdopen(fd, **mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())   # the bytes are on disk before the name points at them
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)      # atomic on POSIX and Windows
    except OSError as e:
        _remove(tmp)
        raise write_error(e, path) from None
    except BaseException:
        _remove(tmp)
        raise


def write_text(path, text: str) -> None:
    """Replace ``path`` by ``text`` atomically (temporary file + rename)."""
    atomic_write(path, text.encode("utf-8"))


def _remove(tmp) -> None:
    if tmp is not None and os.path.exists(tmp):
        os.remove(tmp)


def clean_temporary_files(directory) -> list[str]:
    """Delete the temporary files a kill left in ``directory``; return their names.

    Only names atomic_write makes (``.minivae-tmp-XXXXXXXX``) are touched, so a
    user's own file is never deleted. Call it only while no other process writes
    there (training holds the run directory's lock when it does).
    """
    gone = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(TMP_PREFIX) and os.path.isfile(path) and not os.path.islink(path):
            os.remove(path)
            gone.append(name)
    return gone


def save_npz(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` (name -> array, CPU or GPU) and ``meta`` (JSON-able) to path, atomically."""
    payload = {name: to_numpy(a) for name, a in arrays.items()}
    if META_KEY in payload:
        raise ValueError(f"{META_KEY!r} is reserved")
    payload[META_KEY] = np.array(json.dumps(meta))
    buf = io.BytesIO()                       # the whole file in memory, then one atomic write
    np.savez(buf, **payload)
    atomic_write(path, buf.getvalue())


def load_npz(path, max_bytes=None):
    """Read a file written by :func:`save_npz`; returns (arrays, meta) on the CPU.

    Nothing is allocated before the sizes the file declares are checked against
    the file and against ``max_bytes`` (default :func:`memory_cap`).
    """
    path = os.fspath(path)
    check_npz(path, memory_cap() if max_bytes is None else max_bytes, CheckpointError)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except MemoryError:
        raise CheckpointError(f"{path}: not enough memory to load it") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError,
            RuntimeError) as e:
        raise CheckpointError(
            f"{path} is not a readable minivae .npz file ({type(e).__name__}: {e}); "
            "it may be truncated or corrupt"
        ) from None
    if META_KEY not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not one written by minivae (no metadata)")
    raw = arrays.pop(META_KEY)
    if raw.shape != () or raw.dtype.kind != "U":
        raise CheckpointError(f"{path}: its metadata is not a JSON string")
    try:
        meta = json.loads(str(raw))
    except (json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is not a JSON object")
    return arrays, meta
