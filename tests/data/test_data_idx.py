"""The IDX reader: generated files round-trip; damaged ones raise IDXError, only."""

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minivae.data import IDXError, read_idx, write_idx
from minivae.data.errors import DataError
from minivae.data.idx import IDX_DTYPES, decompress, parse_idx, to_idx_bytes

NATIVE_DTYPES = [dt.newbyteorder("=") for dt in IDX_DTYPES.values()]
# No per-example deadline: a busy CI machine must not turn slowness into failure.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def idx_arrays(draw, min_side=0):
    """A random array that IDX can store: any of its six dtypes, 1-4 dimensions."""
    dtype = draw(st.sampled_from(NATIVE_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=min_side, max_side=5))
    return draw(hnp.arrays(dtype, shape))


def same_array(a, b):
    """Equal shape, dtype and bits (NaN payloads included)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def parses_or_idx_error(data):
    """parse_idx(decompress(data)) must return an array or raise IDXError, nothing else."""
    try:
        return parse_idx(decompress(data))
    except IDXError:
        return None


# --- valid files -----------------------------------------------------------

@relaxed
@given(idx_arrays())
def test_round_trip_raw_and_gzip(array):
    data = to_idx_bytes(array)
    assert same_array(parse_idx(data), array)
    assert same_array(parse_idx(decompress(gzip.compress(data))), array)


def test_header_layout_matches_mnist():
    data = to_idx_bytes(np.zeros((60000, 28, 28), np.uint8))
    assert data[:16].hex() == "00000803" "0000ea60" "0000001c" "0000001c"
    assert len(data) == 16 + 60000 * 784


def test_multi_byte_types_are_big_endian_on_disk():
    data = to_idx_bytes(np.array([1, 256], np.int32))
    assert data == bytes.fromhex("00000c01 00000002 00000001 00000100")
    assert parse_idx(data).dtype == np.dtype("int32")  # native order once read


def test_files_round_trip_and_result_is_writable(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3-ubyte.gz", "a-idx3-ubyte"):
        path = write_idx(tmp_path / name, array)
        assert path.read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\0\0")
        back = read_idx(path)
        np.testing.assert_array_equal(back, array)
        back[0, 0, 0] = 7  # a learner may edit the images: no read-only surprise
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-idx3-ubyte", "a-idx3-ubyte.gz"]


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(5, dtype=np.uint8)
    (tmp_path / "raw.gz").write_bytes(to_idx_bytes(array))
    (tmp_path / "packed").write_bytes(gzip.compress(to_idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed"), array)


def test_unstorable_arrays_are_refused():
    with pytest.raises(IDXError, match="dtype"):
        to_idx_bytes(np.zeros(3, np.uint16))
    with pytest.raises(IDXError, match="dimensions"):
        to_idx_bytes(np.array(5, np.uint8))


# --- damaged files ---------------------------------------------------------

@relaxed
@given(idx_arrays(), st.data())
def test_truncated_file_raises(array, data):
    raw = to_idx_bytes(array)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(IDXError):
        parse_idx(raw[:cut])


@relaxed
@given(idx_arrays(), st.binary(min_size=1, max_size=9))
def test_trailing_bytes_raise(array, extra):
    with pytest.raises(IDXError, match="unexpected bytes"):
        parse_idx(to_idx_bytes(array) + extra)


@relaxed
@given(idx_arrays(), st.integers(0, 1), st.integers(1, 255))
def test_wrong_magic_raises(array, position, value):
    raw = bytearray(to_idx_bytes(array))
    raw[position] = value
    with pytest.raises(IDXError, match="magic number"):
        parse_idx(bytes(raw))


@relaxed
@given(idx_arrays(), st.integers(0, 255).filter(lambda c: c not in IDX_DTYPES))
def test_unknown_type_code_raises(array, code):
    raw = bytearray(to_idx_bytes(array))
    raw[2] = code
    with pytest.raises(IDXError, match="type code"):
        parse_idx(bytes(raw))


@relaxed
@given(idx_arrays(min_side=1), st.data())
def test_wrong_declared_size_raises(array, data):
    # With every side >= 1, changing one side changes the byte count.
    raw = bytearray(to_idx_bytes(array))
    axis = data.draw(st.integers(0, array.ndim - 1))
    new = data.draw(st.integers(0, 2**32 - 1).filter(lambda n: n != array.shape[axis]))
    raw[4 + 4 * axis: 8 + 4 * axis] = new.to_bytes(4, "big")
    with pytest.raises(IDXError, match="header declares shape"):
        parse_idx(bytes(raw))


def test_zero_dimensions_raise():
    with pytest.raises(IDXError, match="0 dimensions"):
        parse_idx(b"\x00\x00\x08\x00")


@relaxed
@given(idx_arrays(), st.data())
def test_truncated_gzip_raises(array, data):
    packed = gzip.compress(to_idx_bytes(array))
    cut = data.draw(st.integers(1, len(packed) - 1))
    with pytest.raises(IDXError):
        parse_idx(decompress(packed[:cut]))


@relaxed
@given(idx_arrays(), st.data())
def test_corrupt_gzip_raises_or_decodes_the_same(array, data):
    # A flipped byte in the deflate body or trailer is caught by zlib or the
    # CRC. (Rarely the byte is unused padding and the data come out intact,
    # which is also fine: what must never happen is another exception.)
    packed = bytearray(gzip.compress(to_idx_bytes(array), mtime=0))
    position = data.draw(st.integers(10, len(packed) - 1))  # after the 10-byte header
    packed[position] ^= data.draw(st.integers(1, 255))
    result = parses_or_idx_error(bytes(packed))
    assert result is None or same_array(result, array)


@relaxed
@given(idx_arrays(), st.data())
def test_any_damage_gives_idx_error_and_nothing_else(array, data):
    raw = bytearray(to_idx_bytes(array))
    if data.draw(st.booleans()):
        raw = bytearray(gzip.compress(bytes(raw)))
    for _ in range(data.draw(st.integers(1, 4))):  # flip, insert or delete bytes
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        i = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[i] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            raw.insert(i, data.draw(st.integers(0, 255)))
        elif raw:
            del raw[i]
    parses_or_idx_error(bytes(raw))


def test_errors_name_the_file_and_are_value_errors(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(to_idx_bytes(np.zeros((3, 2, 2), np.uint8)))[:-5])
    with pytest.raises(IDXError) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "gzip" in str(info.value)
    assert isinstance(info.value, DataError) and isinstance(info.value, ValueError)

    path.write_bytes(to_idx_bytes(np.zeros((3, 2, 2), np.uint8))[:-1])
    with pytest.raises(IDXError, match=r"shape \(3, 2, 2\).*1 bytes missing"):
        read_idx(path)
