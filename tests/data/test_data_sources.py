"""Where data come from: real MNIST and Fashion-MNIST, the search order, custom arrays.

Real MNIST is reached only through MINIVAE_DATA_DIR (CI points it at the
project's copy); Fashion-MNIST through Debian's dataset-fashion-mnist package.
Without them the tests that need them skip, saying why. Nothing here downloads.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import NO_MNIST, peak_bytes

from minivae.data import (
    ChecksumError,
    DataError,
    DataNotFoundError,
    find_file,
    load_dataset,
    load_fashion_mnist,
    load_labels,
    load_mnist,
    to_unit_float,
)
from minivae.data import datasets
from minivae.data.idx import to_idx_bytes

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
LABELS = "t10k-labels-idx1-ubyte"  # the smallest canonical file: 10 kB, fast to verify


def _real_mnist_dir():
    """The directory holding real MNIST, from MINIVAE_DATA_DIR (as DIR/mnist or DIR)."""
    root = os.environ.get("MINIVAE_DATA_DIR")
    for d in ([Path(root) / "mnist", Path(root)] if root else []):
        if (d / f"{LABELS}.gz").is_file() or (d / LABELS).is_file():
            return d
    return None


REAL_MNIST = _real_mnist_dir()
needs_mnist = pytest.mark.skipif(
    REAL_MNIST is None, reason=NO_MNIST)
needs_fashion = pytest.mark.skipif(
    not (DEBIAN_FASHION / f"{LABELS}.gz").is_file(),
    reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist")


def mnist_file(name):
    """Path of a real MNIST file (gz or raw) from MINIVAE_DATA_DIR."""
    gz = REAL_MNIST / f"{name}.gz"
    return gz if gz.is_file() else REAL_MNIST / name


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty explicit, cache and system directories; downloads off."""
    dirs = {k: tmp_path / k for k in ("explicit", "cache", "system")}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.delenv("MINIVAE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(dirs["cache"]))
    monkeypatch.setenv("MINIVAE_OFFLINE", "1")
    monkeypatch.setattr(datasets, "SYSTEM_DIR", dirs["system"])
    dirs["cache"] = dirs["cache"] / "minivae"
    return dirs


def put(src, directory, name=None):
    directory.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, directory / (name or Path(src).name)))


# --- real data ---------------------------------------------------------------

@needs_mnist
def test_real_mnist_loads_verifies_and_has_canonical_label_counts(monkeypatch):
    monkeypatch.setenv("MINIVAE_OFFLINE", "1")  # found through MINIVAE_DATA_DIR, never fetched
    for split, n, counts in (("train", 60000, MNIST_TRAIN_COUNTS),
                             ("test", 10000, MNIST_TEST_COUNTS)):
        images, labels = load_mnist(split)  # through MINIVAE_DATA_DIR
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert np.bincount(labels, minlength=10).tolist() == counts
    assert images.max() == 255 and images.min() == 0


@needs_mnist
def test_root_argument_is_the_explicit_directory(places):
    images, labels = load_mnist("test", root=REAL_MNIST)
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    assert load_dataset("MNIST", "test", root=REAL_MNIST)[0].shape == (10000, 28, 28)


@needs_mnist
def test_labels_alone_are_found_where_the_dataset_is_without_its_images(places, monkeypatch):
    """load_labels reads the labels file only, found in load_dataset's search order."""
    put(mnist_file(LABELS), places["explicit"] / "mnist")
    with pytest.raises(DataNotFoundError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", "test", root=places["explicit"])
    labels = load_labels("MNIST", "test", root=places["explicit"])
    assert labels.dtype == np.uint8 and np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(places["explicit"]))
    assert np.array_equal(load_labels("mnist", "test"), labels)
    moved = put(mnist_file(LABELS), places["system"] / "mnist")
    monkeypatch.delenv("MINIVAE_DATA_DIR")
    assert find_file("mnist", "test", "labels") == moved       # /usr/share/datasets/mnist
    assert np.array_equal(load_labels("mnist", "test"), labels)


@needs_fashion
def test_fashion_mnist_loads_from_debian_location(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIVAE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("MINIVAE_OFFLINE", "1")
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
    expected = DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz"
    assert find_file("fashion-mnist", "test", "images") == expected
    assert load_dataset("fashion_mnist", "test")[1].shape == (10000,)


# --- search order --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_data_dir_variable_that_is_no_directory_is_an_error(places, tmp_path, monkeypatch,
                                                              kind):
    """Not silently skipped for the cache and /usr/share/datasets, as a typo would be."""
    bad = tmp_path / "nowhere"
    if kind == "a file":
        bad.write_text("")
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(bad))
    with pytest.raises(DataNotFoundError, match=rf"\$MINIVAE_DATA_DIR={bad}: no such directory"):
        load_labels("mnist", "test")
    assert find_file("mnist", "test", "labels", root=places["explicit"]) is None   # root wins
    monkeypatch.setenv("MINIVAE_DATA_DIR", "")                                      # unset
    assert find_file("mnist", "test", "labels") is None


@needs_mnist
def test_the_files_read_are_named_with_their_place(places, monkeypatch):
    nested = places["explicit"] / "mnist"
    for name in (LABELS, "t10k-images-idx3-ubyte"):
        put(mnist_file(name), nested)
    read = []
    load_dataset("mnist", "test", root=places["explicit"], sources=read)
    assert [p.parent for p in read] == [nested, nested]
    assert datasets.where_read(read, "mnist", places["explicit"]) == f"{nested} (data directory)"
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(places["explicit"]))
    assert datasets.where_read(read, "MNIST") == f"{nested} ($MINIVAE_DATA_DIR)"
    places["cache"].mkdir()
    shutil.move(nested, places["cache"])
    monkeypatch.delenv("MINIVAE_DATA_DIR")
    read = []
    load_dataset("mnist", "test", sources=read)
    assert datasets.where_read(read, "mnist") == f"{places['cache'] / 'mnist'} (cache)"

@needs_mnist
def test_search_order_explicit_then_cache_then_system(places, monkeypatch):
    src = mnist_file(LABELS)
    system = put(src, places["system"] / "mnist")
    assert find_file("mnist", "test", "labels") == system
    cached = put(src, places["cache"] / "mnist")
    assert find_file("mnist", "test", "labels") == cached
    flat = put(src, places["explicit"])
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(places["explicit"]))
    assert find_file("mnist", "test", "labels") == flat
    nested = put(src, places["explicit"] / "mnist")  # DIR/mnist/ comes before DIR/
    assert find_file("mnist", "test", "labels") == nested
    # root (--data-dir) replaces MINIVAE_DATA_DIR; a missing file falls through.
    other = places["explicit"].parent / "other"
    other.mkdir()
    assert find_file("mnist", "test", "labels", root=other) == cached


@needs_mnist
def test_raw_and_gzip_files_both_accepted(places):
    import gzip
    raw = places["explicit"] / LABELS
    raw.write_bytes(gzip.decompress(mnist_file(LABELS).read_bytes())
                    if mnist_file(LABELS).suffix == ".gz" else mnist_file(LABELS).read_bytes())
    assert find_file("mnist", "test", "labels", root=places["explicit"]) == raw


def test_corrupt_file_placed_by_user_is_reported_and_kept(places):
    bad = places["explicit"] / LABELS
    bad.write_bytes(to_idx_bytes(np.zeros(10000, np.uint8)))  # valid IDX, wrong digits
    with pytest.raises(ChecksumError) as info:
        find_file("mnist", "test", "labels", root=places["explicit"])
    message = str(info.value)
    assert str(bad) in message and "27ae3e4e09519cfbb04c329615203637" in message
    assert "actual   MD5" in message
    assert bad.exists()  # the user's file is never deleted


def test_damaged_gzip_placed_by_user_is_reported_and_kept(places):
    bad = places["explicit"] / f"{LABELS}.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="damaged gzip"):
        find_file("mnist", "test", "labels", root=places["explicit"])
    assert bad.exists()


@needs_mnist
def test_corrupt_cache_file_is_removed_and_search_goes_on(places):
    bad = places["cache"] / "mnist" / f"{LABELS}.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x1f\x8b truncated")
    good = put(mnist_file(LABELS), places["system"] / "mnist")
    assert find_file("mnist", "test", "labels") == good
    assert not bad.exists()


@needs_mnist
@needs_fashion
def test_another_datasets_file_in_a_flat_directory_is_skipped(places):
    # MNIST and Fashion-MNIST share file names; a flat directory of MNIST
    # must not break Fashion-MNIST, which then comes from the next place.
    put(mnist_file(LABELS), places["explicit"])
    put(DEBIAN_FASHION / f"{LABELS}.gz", places["system"] / "fashion-mnist")
    path = find_file("fashion-mnist", "test", "labels", root=places["explicit"])
    assert path == places["system"] / "fashion-mnist" / f"{LABELS}.gz"


def test_nothing_found_offline_says_where_it_looked_and_what_to_do(places):
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test", root=places["explicit"])
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    for place in (places["explicit"], places["cache"] / "mnist", places["system"] / "mnist"):
        assert str(place) in message
    assert "MINIVAE_OFFLINE" in message and "--data-dir" in message
    assert "train-images-idx3-ubyte.gz" in message  # names every file to place


def test_bad_split_and_name_are_value_errors():
    with pytest.raises(ValueError, match=r"\('train', 'test'\)"):
        load_mnist("valid")
    with pytest.raises(ValueError, match="mnist"):
        load_dataset("cifar10", "train")


def test_default_cache_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datasets.cache_dir() == tmp_path / "minivae"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the spec says
    assert datasets.cache_dir() == Path.home() / ".cache" / "minivae"


# --- custom arrays ---------------------------------------------------------------

def test_npy_holds_out_a_deterministic_last_tenth(tmp_path):
    images = np.arange(20 * 5 * 6, dtype=np.uint8).reshape(20, 5, 6)
    np.save(tmp_path / "x.npy", images)
    train, train_labels = load_dataset(tmp_path / "x.npy", "train")
    test, _ = load_dataset(str(tmp_path / "x.npy"), "test")
    np.testing.assert_array_equal(train, images[:18])
    np.testing.assert_array_equal(test, images[18:])
    assert train_labels is None


def test_npz_with_its_own_split_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    faces = rng.random((7, 64, 64, 3)).astype(np.float64)  # colour, float in [0, 1]
    path = tmp_path / "faces.npz"
    np.savez(path, x_train=faces[:5], x_test=faces[5:], y_train=np.arange(5), y_test=np.arange(2))
    images, labels = load_dataset(path, "test")
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.float32
    assert labels.tolist() == [0, 1]
    x = to_unit_float(images, np)  # (2, 12288): any size trains
    assert x.shape == (2, 64 * 64 * 3) and x.dtype == np.float32


def test_one_split_of_an_npz_inflates_that_split_alone(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "split.npz"
    big, small = (rng.integers(0, 256, (n, 32, 32), dtype=np.uint8) for n in (3000, 100))
    np.savez(path, x_train=big, x_test=small, y_train=np.arange(3000), y_test=np.arange(100))
    images, labels = load_dataset(path, "test")
    np.testing.assert_array_equal(images, small)
    assert labels.tolist() == list(range(100))
    raised, peak = peak_bytes(lambda: load_dataset(path, "test"))
    assert raised is None and peak < 1_000_000, peak               # not the 3 MB of x_train


def test_npz_single_array_under_any_name(tmp_path):
    np.savez(tmp_path / "a.npz", anything=np.zeros((10, 4, 4), np.uint8), labels=np.arange(10))
    np.savez(tmp_path / "b.npz", images=np.zeros((10, 4, 4), np.uint8), y=np.arange(10))
    assert load_dataset(tmp_path / "a.npz", "train")[0].shape == (9, 4, 4)
    images, labels = load_dataset(tmp_path / "b.npz", "test")
    assert images.shape == (1, 4, 4) and labels.tolist() == [9]


def test_labels_alone_are_load_datasets_labels_without_reading_the_images(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (2000, 32, 32), dtype=np.uint8)      # 2 MB of images
    files = {"split.npz": dict(x_train=big[:1500], x_test=big[1500:], y_train=np.arange(1500),
                               y_test=np.arange(500) % 3),
             "one.npz": dict(images=big, y=np.arange(2000) % 7),
             "unlabelled.npz": dict(x=big), "x.npy": dict(x=big)}
    for name, arrays in files.items():
        path = tmp_path / name
        (np.save(path, arrays["x"]) if name.endswith(".npy") else np.savez(path, **arrays))
        for split in ("train", "test"):
            _, want = load_dataset(path, split)
            got = load_labels(str(path), split)
            assert (got is None and want is None) or np.array_equal(got, want), (name, split)
            _, peak = peak_bytes(lambda: load_labels(path, split))
            assert peak < 100_000, (name, split, peak)              # not the 2 MB of images
    np.savez(tmp_path / "short.npz", x=big, y=np.arange(5))
    with pytest.raises(DataError, match=r"labels must be \(N,\) = \(2000,\) integers"):
        load_labels(tmp_path / "short.npz", "train")


@pytest.mark.parametrize("array, match", [
    (np.full((4, 3, 3), np.nan, np.float32), "NaN"),
    (np.full((4, 3, 3), 1.5, np.float32), r"\[0, 1\]"),
    (np.full((4, 3, 3), -0.1), r"\[0, 1\]"),
    (np.zeros((4, 9), np.uint8), r"\(N, H, W\)"),
    (np.zeros((4, 3, 3, 7), np.uint8), r"C in \(1, 3, 4\)"),
    (np.zeros((4, 3, 3), np.int16), "uint8"),
    (np.zeros((0, 3, 3), np.uint8), "no images"),
])
def test_bad_custom_arrays_raise_clear_errors(tmp_path, array, match):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=match):
        load_dataset(tmp_path / "bad.npy", "train")


def test_pickled_npy_and_missing_files_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="only pickle can load"):
        load_dataset(tmp_path / "obj.npy", "train")
    with pytest.raises(DataNotFoundError):
        load_dataset(tmp_path / "missing.npz", "train")
