"""The IDX file format of MNIST and Fashion-MNIST: read, validate, write.

An IDX file is a tiny header followed by the raw array, big-endian:

    byte 0-1   0x00 0x00          (the "magic number" starts with two zeros)
    byte 2     type code          0x08 uint8, 0x09 int8, 0x0B int16,
                                  0x0C int32, 0x0D float32, 0x0E float64
    byte 3     ndim               1 for labels, 3 for images
    then       ndim sizes         each a big-endian uint32: N, rows, cols
    then       the data           prod(sizes) items, row-major

So MNIST's training images start 00 00 08 03 | 00 00 EA 60 | 00 00 00 1C |
00 00 00 1C: uint8, 3 dimensions, (60000, 28, 28). The distributed files are
gzip-compressed; :func:`read_idx` accepts either form, telling them apart by
gzip's own magic bytes (1F 8B), not by the file name.

Every check below raises :class:`IDXError` (a ValueError) that names the file
and the fault. A file with missing or extra bytes is an error, not something
to reshape around: a truncated download must never look like a dataset.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from pathlib import Path

import numpy as np

from ..files.npyfile import ENV_MAX_BYTES, memory_cap
from ..files.serialize import atomic_write
from .errors import DataError, IDXError

# Type code -> dtype as stored on disk (big-endian: ">").
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# The reverse table, keyed by the byte-order-free kind and size ("i2", "f4"...).
_CODE_OF = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}

GZIP_MAGIC = b"\x1f\x8b"


def _too_big(source, what, max_bytes) -> IDXError:
    return IDXError(f"{source}: {what} more than {max_bytes:,} bytes, the most this file may "
                    f"hold here (the file's known size, or ${ENV_MAX_BYTES}); it is not the "
                    "expected file")


def decompress(raw: bytes, source: str = "<bytes>", max_bytes: int | None = None) -> bytes:
    """The IDX bytes inside ``raw``: gunzipped if it is gzip, else ``raw`` itself.

    At most ``max_bytes`` (default :func:`minivae.files.npyfile.memory_cap`) are
    inflated: a small .gz that would inflate to gigabytes (a "gzip bomb") is
    refused after max_bytes + 1, before its checksum could be computed. A
    damaged gzip stream (truncated, bad CRC, corrupt deflate data) raises
    IDXError: gzip's own exceptions are three unrelated types.
    """
    max_bytes = memory_cap() if max_bytes is None else max_bytes
    if not raw.startswith(GZIP_MAGIC):
        if len(raw) > max_bytes:
            raise _too_big(source, f"{len(raw):,} bytes is", max_bytes)
        return raw
    data = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            # A MiB at a time, stopping one byte past the cap: the memory used stays
            # below about twice max_bytes (the data, then its final copy to bytes).
            while len(data) <= max_bytes and (chunk := stream.read(min(1 << 20,
                                                                       max_bytes + 1 - len(data)))):
                data += chunk
    except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise IDXError(
            f"{source}: damaged gzip data ({exc}). The file is probably truncated "
            "or corrupt; delete it and fetch it again."
        ) from None
    if len(data) > max_bytes:
        raise _too_big(source, "it inflates to", max_bytes)
    return bytes(data)


def check_regular_file(path) -> None:
    """Raise DataError unless ``path`` is a regular file (it must exist).

    A directory, a FIFO (reading one would wait forever), a device or a
    symbolic link to nothing each get their own message, not "not found".
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise DataError(f"{path} is a symbolic link to {os.readlink(path)}, which does "
                            "not exist; fix or remove the link") from None
        raise
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if not stat.S_ISREG(mode)
            else None)
    if kind:
        raise DataError(f"{path} is {kind}, not a data file; remove it or put the file there")


def read_idx_bytes(path, max_bytes: int | None = None) -> bytes:
    """The uncompressed IDX bytes of the file at ``path`` (gzip or raw), at most ``max_bytes``."""
    path = Path(path)
    max_bytes = memory_cap() if max_bytes is None else max_bytes
    check_regular_file(path)
    size = path.stat().st_size
    # A gzip file is at most a little larger than what it holds (stored blocks),
    # so a file much larger than the cap holds more than the cap.
    if size > max_bytes + max_bytes // 100 + (1 << 16):
        raise _too_big(path, f"at {size:,} bytes it is", max_bytes)
    return decompress(path.read_bytes(), str(path), max_bytes)


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Validate the IDX bytes ``data`` and return the array they hold.

    Parameters
    ----------
    data : bytes
        Uncompressed IDX bytes (use :func:`decompress` first for gzip).
    source : str
        What to call the data in error messages (usually the file path).

    Returns
    -------
    np.ndarray
        A writable array in native byte order, shape as declared in the header,
        e.g. (60000, 28, 28) uint8 for MNIST training images.

    Raises
    ------
    IDXError
        Bad magic number, unknown type code, zero dimensions, a header cut
        short, or a payload that is not exactly prod(sizes) items.
    """
    data = bytes(data) if not isinstance(data, bytes) else data
    if len(data) < 4:
        raise IDXError(f"{source}: not an IDX file: only {len(data)} bytes, "
                       "shorter than the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        hint = " (it looks like gzip with a damaged header)" if data[:1] == b"\x1f" else ""
        raise IDXError(f"{source}: not an IDX file: the magic number must start "
                       f"with two zero bytes, got {data[:2].hex(' ')}{hint}")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {dt.name}" for c, dt in IDX_DTYPES.items())
        raise IDXError(f"{source}: unknown IDX type code 0x{code:02X}; "
                       f"valid codes are {known}")
    if ndim == 0:
        raise IDXError(f"{source}: the IDX header declares 0 dimensions; "
                       "an IDX array has at least one")

    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IDXError(f"{source}: truncated header: {ndim} dimensions need "
                       f"{header_len} header bytes, the file has {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))

    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize  # object: no overflow
    actual = len(data) - header_len
    if actual != expected:
        fault = (f"{expected - actual} bytes missing (truncated)" if actual < expected
                 else f"{actual - expected} unexpected bytes after the data")
        raise IDXError(f"{source}: the header declares shape {shape} of "
                       f"{dtype.name} = {expected} bytes of data, but the file "
                       f"holds {actual}: {fault}")

    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    # astype copies: the result is writable and in the machine's byte order.
    return array.astype(dtype.newbyteorder("="))


def read_idx(path, max_bytes: int | None = None) -> np.ndarray:
    """Read and validate the IDX file at ``path`` (gzip or raw).

    ``max_bytes`` caps the uncompressed size (default: half the machine's
    memory, or ``$MINIVAE_MAX_DATA_BYTES``); nothing larger is allocated.

    >>> images = read_idx("train-images-idx3-ubyte.gz")   # (60000, 28, 28) uint8
    """
    path = Path(path)
    return parse_idx(read_idx_bytes(path, max_bytes), str(path))


def to_idx_bytes(array) -> bytes:
    """The uncompressed IDX encoding of ``array`` (inverse of :func:`parse_idx`)."""
    array = np.asarray(array)
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _CODE_OF:
        raise IDXError(f"IDX cannot store dtype {array.dtype}; use one of "
                       f"{sorted(dt.name for dt in IDX_DTYPES.values())}")
    if array.ndim == 0 or array.ndim > 255:
        raise IDXError(f"IDX stores 1 to 255 dimensions, got {array.ndim}")
    if any(n >= 2**32 for n in array.shape):
        raise IDXError(f"IDX sizes are uint32; shape {array.shape} is too large")
    code = _CODE_OF[key]
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    return header + payload


def write_idx(path, array, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip it if ``compress`` (default: name ends .gz).

    The file is written under a temporary name and renamed into place
    (:func:`minivae.files.serialize.atomic_write`), so a crash never leaves a
    half-written file behind.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    data = to_idx_bytes(array)
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)  # mtime=0: reproducible
    atomic_write(path, data)
    return path
