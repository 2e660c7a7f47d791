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
* the total must stay under a cap, :func:`memory_cap`.

Object arrays (which only pickle can restore) are refused here too, so a
file can never run code. The caller passes the exception class to raise
(DataError for a dataset, CheckpointError for a checkpoint).
"""

from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np

ENV_MAX_BYTES = "MINIVAE_MAX_DATA_BYTES"
FALLBACK_CAP = 4 << 30   # 4 GiB when the machine's memory cannot be read
MAX_HEADER = 10000       # bytes of an .npy header dict (NumPy's own default limit)


def memory_cap() -> int:
    """The most bytes a loaded file may hold: ``$MINIVAE_MAX_DATA_BYTES``, else half the RAM."""
    value = os.environ.get(ENV_MAX_BYTES, "").strip()
    if value.isdigit():
        return int(value)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):   # not POSIX
        return FALLBACK_CAP


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


def _check_member(fp, size: int, source, error) -> int:
    """Check one .npy stream of ``size`` bytes; return the bytes its array needs."""
    shape, dtype, header = read_npy_header(fp, source, error)
    need = _data_bytes(shape, dtype)
    if header + need != size:
        raise error(f"{source}: its header declares shape {shape} of {dtype} = {need:,} bytes "
                    f"of data, but {size - header:,} follow it; the file is truncated or corrupt")
    return need


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


def check_npy(path, max_bytes: int, error) -> None:
    """Raise ``error`` unless ``path`` is a plain .npy file whose array fits in ``max_bytes``."""
    with _open_for_reading(path, error) as f:
        size = os.fstat(f.fileno()).st_size
        need = _check_member(f, size, path, error)
    if need > max_bytes:
        raise _too_big(path, need, max_bytes, error)


def check_npz(path, max_bytes: int, error) -> None:
    """Raise ``error`` unless ``path`` is a zip of .npy files whose arrays fit in ``max_bytes``."""
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
            for m in members:
                where = f"{path} (member {m.filename})"
                if not m.filename.endswith(".npy"):
                    raise error(f"{where}: an .npz holds only .npy arrays")
                try:
                    with archive.open(m) as member:
                        _check_member(member, m.file_size, where, error)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                        RuntimeError) as e:
                    if isinstance(e, error):
                        raise
                    raise error(f"{where}: cannot be read ({type(e).__name__}: {e}); the "
                                "file is truncated or corrupt") from None
