"""Checking ``.npy`` / ``.npz`` files before NumPy reads them: sizes first, then bytes.

``np.load`` believes the shape a file declares: a 1 KB ``.npy`` that claims
to hold 10^12 floats makes it try to allocate 8 TB, and a small ``.npz``
whose members inflate to gigabytes is inflated in full. Both end in a
MemoryError (or the machine swapping). The checks here read only headers:

* an ``.npy`` header (magic, version, then a dict of dtype, order, shape)
  must declare exactly as many data bytes as follow it in the file;
* an ``.npz`` is a zip archive whose members are ``.npy`` files: the sizes
  its directory declares are checked the same way, member by member, and
  zipfile never inflates a member past its declared size (and checks its CRC);
* the total must stay under a cap, :func:`memory_cap` (the one memory
  budget of budget.py), and an ``.npz`` may not inflate more than
  MAX_RATIO times beyond MIN_BOMB bytes: no image data or trained weights
  compress like that, a zip of zeros does (a 1 MB file holding 1 GB).

Object arrays (which only pickle can restore) are refused here too, so a
file can never run code. The caller passes the exception class to raise
(DataError for a dataset, CheckpointError for a checkpoint).
"""

from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np

from .budget import ENV as ENV_MAX_BYTES, FALLBACK as FALLBACK_CAP  # noqa: F401 (old names)
from .budget import memory_budget as memory_cap  # noqa: F401 (the one budget)
from . import budget

MAX_HEADER = 10000       # bytes of an .npy header dict (NumPy's own default limit)
MAX_RATIO = 500          # inflated / compressed: dSprites' uint8 .npz is ~115, zeros ~1000
MIN_BOMB = 64 << 20      # below 64 MiB inflated, any ratio is harmless


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB" if n >= 1 << 30 else f"{n:,} bytes"


def _too_big(source, total, cap, error):
    return error(f"{source}: holds {_gib(total)} of arrays, more than the limit of {_gib(cap)} "
                 f"(half this machine's memory, or ${ENV_MAX_BYTES}); set {ENV_MAX_BYTES} "
                 "to a larger number of bytes if the machine can hold it")


def read_npy_header(fp, source, error):
    """(shape, dtype, header length) of the .npy stream ``fp``, which is left after the header."""
    start = fp.tell()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Python's own warnings about odd header text
            version = np.lib.format.read_magic(fp)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy format version {version}")
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(fp, max_header_size=MAX_HEADER)
    except Exception as e:   # noqa: BLE001  NumPy parses the header text with ast and
        # tokenize, whose errors for hostile text are many (ValueError, SyntaxError,
        # TokenError, RecursionError, MemoryError...): every one means "not an array".
        raise error(f"{source}: not a readable .npy array ({type(e).__name__}: {e}); "
                    "it may be truncated or corrupt") from None
    if dtype.hasobject:
        raise error(f"{source}: holds Python objects (dtype {dtype}), which only pickle can "
                    "load; minivae never unpickles a file. Save plain numeric arrays")
    return shape, dtype, fp.tell() - start


def _data_bytes(shape, dtype) -> int:
    count = 1
    for n in shape:
        count *= int(n)           # Python ints: no overflow
    return count * dtype.itemsize


def _check_member(fp, size: int, source, error):
    """Check one .npy stream of ``size`` bytes; return (the bytes its array needs, shape, dtype)."""
    shape, dtype, header = read_npy_header(fp, source, error)
    need = _data_bytes(shape, dtype)
    if header + need != size:
        raise error(f"{source}: its header declares shape {shape} of {dtype} = {need:,} bytes "
                    f"of data, but {size - header:,} follow it; the file is truncated or corrupt")
    return need, shape, dtype


def _open_for_reading(path, error):
    """``path`` opened in binary mode, or a clear error that does not blame the file's bytes."""
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise error(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise error(f"{path} cannot be read: permission denied. The file itself may be "
                    "intact: check its permissions (ls -l), do not delete it") from None
    except OSError as e:
        raise error(f"{path} cannot be opened ({e.strerror or e}); check that it is a "
                    "regular, readable file") from None


def check_npy(path, max_bytes: int, error) -> dict:
    """Raise ``error`` unless ``path`` is a plain .npy file whose array fits in ``max_bytes``.

    Returns {"x": (shape, dtype)}: what loading it will give, read from its header.
    """
    with _open_for_reading(path, error) as f:
        file_size = os.fstat(f.fileno()).st_size
        need, shape, dtype = _check_member(f, file_size, path, error)
    if need > max_bytes:
        raise _too_big(path, need, max_bytes, error)
    return {"x": (shape, dtype)}


def _check_ratio(path, inflated: int, compressed: int, error) -> None:
    """Refuse a zip bomb: far more bytes inflated than any real arrays compress to."""
    if inflated > MIN_BOMB and inflated > MAX_RATIO * compressed and not budget.set_on_purpose():
        raise error(f"{path}: its {budget.size(compressed)} inflate to {budget.size(inflated)} "
                    f"({inflated // max(compressed, 1):,} times), more than images or weights "
                    "compress (a zip of zeros does); refused before inflating. If the file is "
                    f"what you meant, set {ENV_MAX_BYTES} to the bytes this machine may hold")


def check_npz(path, max_bytes: int, error) -> dict:
    """Raise ``error`` unless ``path`` is a zip of .npy files whose arrays fit in ``max_bytes``.

    Returns {name: (shape, dtype)} of its arrays, read from their headers.
    """
    arrays = {}
    with _open_for_reading(path, error) as f:
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            raise error(f"{path} is not a readable .npz file (not a zip archive: {e}); "
                        "it may be truncated or corrupt") from None
        with archive:
            members = archive.infolist()
            total = sum(m.file_size for m in members)   # what inflating would produce
            if total > max_bytes:
                raise _too_big(path, total, max_bytes, error)
            _check_ratio(path, total, os.fstat(f.fileno()).st_size, error)
            for m in members:
                where = f"{path} (member {m.filename})"
                if not m.filename.endswith(".npy"):
                    raise error(f"{where}: an .npz holds only .npy arrays")
                try:
                    with archive.open(m) as member:
                        _, shape, dtype = _check_member(member, m.file_size, where, error)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                        RuntimeError) as e:
                    if isinstance(e, error):
                        raise
                    raise error(f"{where}: cannot be read ({type(e).__name__}: {e}); the "
                                "file is truncated or corrupt") from None
                arrays[m.filename[:-len(".npy")]] = (shape, dtype)
    return arrays
