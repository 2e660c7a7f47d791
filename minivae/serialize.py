"""Saving arrays to ``.npz`` files safely: no pickle, atomic writes, clear errors.

A file holds named arrays plus one JSON string of metadata (stored as a
0-d unicode array, which ``np.load(..., allow_pickle=False)`` can read).
Writes go to a temporary file in the same directory which is then renamed
over the target, so a crash mid-write never leaves a half-written file
where a good one was.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from .backend import to_numpy

META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A file that is not a readable minivae file, or belongs to another model."""


def default_file_mode() -> int:
    """The permissions ``open(path, "w")`` would give a new file: 0o666 less the umask.

    ``tempfile.mkstemp`` creates its files 0o600 (private); a file renamed into
    place from one should look like any other file the user writes.
    """
    umask = os.umask(0)      # the only way to read the umask is to set it...
    os.umask(umask)          # ...and put it back at once
    return 0o666 & ~umask


def atomic_write(path, data: bytes) -> str:
    """Replace ``path`` by ``data`` atomically; returns the path.

    The bytes go to a temporary file in the same directory (a rename across
    file systems would not be atomic), reach the disk (fsync), get the mode of
    a normally written file, and are renamed over ``path``. Readers see the
    old file or the new one, never a part, even after SIGKILL or a crash.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())   # the bytes are on disk before the name points at them
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)      # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save_npz(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` (name -> array, CPU or GPU) and ``meta`` (JSON-able) to path, atomically."""
    payload = {name: to_numpy(a) for name, a in arrays.items()}
    if META_KEY in payload:
        raise ValueError(f"{META_KEY!r} is reserved")
    payload[META_KEY] = np.array(json.dumps(meta))
    buf = io.BytesIO()                       # the whole file in memory, then one atomic write
    np.savez(buf, **payload)
    atomic_write(path, buf.getvalue())


def load_npz(path):
    """Read a file written by :func:`save_npz`; returns (arrays, meta) on the CPU."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):   # an .npz is a zip archive; NumPy's own error misleads
        raise CheckpointError(f"{path} is not a readable minivae .npz file (not a zip archive); "
                              "it may be truncated or corrupt")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise CheckpointError(
            f"{path} is not a readable minivae .npz file ({type(e).__name__}: {e}); "
            "it may be truncated or corrupt"
        ) from None
    if META_KEY not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not one written by minivae (no metadata)")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({e})") from None
    return arrays, meta
