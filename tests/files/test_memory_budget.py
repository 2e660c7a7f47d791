"""The one memory budget (minivae/files/budget.py) and the zip bombs it sees through.

An .npz is refused from its zip directory when it inflates far more than any
image data or weights compress (a 1 MB file of 1 GB of zeros trained at a
5.8 GB peak before); tracemalloc (NumPy reports its arrays to it) shows that
nothing was inflated. MINIVAE_MAX_DATA_BYTES sets the budget on purpose.
"""

import io
import json
import zipfile
import zlib

import numpy as np
import pytest

from minivae.data import DataError, load_dataset
from minivae.data.custom import load_array_file
from minivae.files import budget
from minivae.files.npyfile import MAX_RATIO, MIN_BOMB
from minivae.files.serialize import CheckpointError, load_npz
from conftest import peak_bytes

MiB = 1 << 20


def npz_of_zeros(path, shape, name="x", meta=None):
    """An .npz of one uint8 array of zeros, deflated a MiB at a time (never held whole)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": shape})
    n = int(np.prod(shape))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(f"{name}.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(MiB)
            for start in range(0, n, MiB):
                member.write(chunk[:min(MiB, n - start)])
        if meta is not None:
            buf = io.BytesIO()
            np.save(buf, np.array(json.dumps(meta)))
            z.writestr("__meta__.npy", buf.getvalue())
    return str(path)


def test_the_budget_is_half_the_memory_unless_set(monkeypatch):
    monkeypatch.delenv(budget.ENV, raising=False)
    assert budget.memory_budget() > 0 and not budget.set_on_purpose()
    monkeypatch.setenv(budget.ENV, "12345")
    assert budget.memory_budget() == 12345 and budget.set_on_purpose()


def test_a_refusal_says_what_was_asked_the_budget_and_what_lowers_it(monkeypatch):
    monkeypatch.setenv(budget.ENV, str(MiB))
    with pytest.raises(budget.OverBudget) as info:
        budget.check(29 << 30, "--k 10000 with --batch-size 1000", "lower one of them",
                     per=" per step")
    assert str(info.value) == ("--k 10000 with --batch-size 1000 needs 29 GiB per step, more "
                               "than the memory budget of 1 MiB ($MINIVAE_MAX_DATA_BYTES); "
                               "lower one of them")
    budget.check(MiB, "exactly the budget", "nothing")        # the budget itself fits
    assert budget.size(812) == "812 bytes" and budget.size(3 << 50) == "3 PiB"


def test_a_small_npz_of_a_gigabyte_of_zeros_is_refused_without_inflating(tmp_path, monkeypatch):
    """The campaign's 972 KB .npz held 1 GB of zeros; here 128 MiB in ~130 KB."""
    monkeypatch.delenv(budget.ENV, raising=False)
    path = npz_of_zeros(tmp_path / "zeros.npz", (128 * 1024, 32, 32))
    assert (tmp_path / "zeros.npz").stat().st_size * MAX_RATIO < 128 * MiB
    err, peak = peak_bytes(lambda: load_dataset(path, "train"))
    assert isinstance(err, DataError), err
    assert "inflate to 128 MiB" in str(err) and "MINIVAE_MAX_DATA_BYTES" in str(err)
    assert peak < MiB                                          # nothing was inflated


def test_a_checkpoint_bomb_is_refused_the_same_way(tmp_path, monkeypatch):
    monkeypatch.delenv(budget.ENV, raising=False)
    path = npz_of_zeros(tmp_path / "ckpt.npz", (MIN_BOMB + MiB,), name="param/enc0.W",
                        meta={"format": "minivae", "version": 1, "config": {"model": "vae"}})
    err, peak = peak_bytes(lambda: load_npz(path))
    assert isinstance(err, CheckpointError) and "times), more than images or weights" in str(err)
    assert peak < MiB


def test_below_the_floor_or_set_on_purpose_a_ratio_is_no_refusal(tmp_path, monkeypatch):
    monkeypatch.delenv(budget.ENV, raising=False)
    small = npz_of_zeros(tmp_path / "small.npz", (1000, 64, 64))   # 4 MB of zeros: a blank set
    assert load_array_file(small)[0].shape == (900, 64, 64)
    big = npz_of_zeros(tmp_path / "big.npz", (20 * 1024, 64, 64))  # 80 MiB of zeros
    with pytest.raises(DataError, match="inflate to 80 MiB"):
        load_array_file(big)
    monkeypatch.setenv(budget.ENV, str(1 << 30))                   # the user's choice
    assert load_array_file(big, "test")[0].shape == (2048, 64, 64)


def test_a_compressed_file_of_real_images_is_no_bomb(tmp_path, monkeypatch):
    """Noise-free digits compress about 5x, sparse binary shapes about 100x (dSprites 115x)."""
    monkeypatch.delenv(budget.ENV, raising=False)
    x = np.zeros((20000, 64, 64), np.uint8)                        # 80 MiB, one square each
    rng = np.random.default_rng(0)
    for i, (r, c) in enumerate(rng.integers(0, 56, (len(x), 2))):
        x[i, r:r + 8, c:c + 8] = 255
    np.savez_compressed(tmp_path / "shapes.npz", x=x)
    ratio = x.nbytes / (tmp_path / "shapes.npz").stat().st_size
    assert 20 < ratio < MAX_RATIO
    assert load_array_file(tmp_path / "shapes.npz", "test")[0].shape == (2000, 64, 64)


def test_zlib_cannot_compress_past_the_ratio_by_much():
    """Deflate's best is about 1030:1, so MAX_RATIO = 500 leaves only near-constant data."""
    data = bytes(16 * MiB)
    assert MAX_RATIO < len(data) / len(zlib.compress(data, 9)) < 1100
