"""save/load: round trips, and clear errors for every kind of wrong file."""

import os
import stat

import numpy as np
import pytest

from minivae import VAE, Autoencoder, CheckpointError
from minivae.files.serialize import save_npz


def test_round_trip(tmp_path):
    model = VAE(input_dim=20, hidden_dims=(8, 6), latent_dim=3, beta=2.0, likelihood="gaussian", seed=4)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = VAE.load(path)
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.params.flat, model.params.flat)
    x = np.random.default_rng(0).random((3, 20))
    eps = np.zeros((3, 3))
    assert float(loaded.loss(x, eps)[0]) == float(model.loss(x, eps)[0])


def test_load_builds_the_right_class_and_can_change_dtype(tmp_path):
    Autoencoder(input_dim=10, hidden_dims=(4,), latent_dim=2).save(tmp_path / "ae.npz")
    model = Autoencoder.load(tmp_path / "ae.npz", dtype="float64")
    assert isinstance(model, Autoencoder) and model.dtype == np.float64
    with pytest.raises(CheckpointError, match="holds a model of kind 'ae', not a VAE"):
        VAE.load(tmp_path / "ae.npz")


def test_another_architecture_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    VAE(input_dim=20, hidden_dims=(8,), latent_dim=3).save(path)
    model = VAE(input_dim=20, hidden_dims=(9,), latent_dim=3)
    from minivae.files.serialize import load_npz
    arrays, _ = load_npz(path)
    with pytest.raises(CheckpointError, match=r"enc0.W has shape \(20, 8\), this model needs \(20, 9\)"):
        model.load_params(arrays, path)
    deeper = VAE(input_dim=20, hidden_dims=(8, 8), latent_dim=3)
    with pytest.raises(CheckpointError, match="different architecture"):
        deeper.load_params(arrays, path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files_are_clear_errors(tmp_path, damage):
    path = tmp_path / "m.npz"
    VAE(input_dim=20, hidden_dims=(8,), latent_dim=3).save(path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a zip" * 100, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="not a readable .npz file"):
        VAE.load(path)


def test_foreign_npz_and_nan_params_are_refused(tmp_path):
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not one written by minivae"):
        VAE.load(tmp_path / "foreign.npz")
    model = VAE(input_dim=20, hidden_dims=(8,), latent_dim=3)
    model.params["mu.b"][0] = np.nan
    model.save(tmp_path / "nan.npz")
    with pytest.raises(CheckpointError, match="mu.b contains NaN"):
        VAE.load(tmp_path / "nan.npz")
    with pytest.raises(FileNotFoundError):
        VAE.load(tmp_path / "missing.npz")


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save_npz(path, {"a": np.arange(3)}, {"ok": True})
    before = path.read_bytes()

    def savez_that_dies_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr("minivae.files.serialize.np.savez", savez_that_dies_midway)
    with pytest.raises(OSError, match="disk full"):
        save_npz(path, {"a": np.arange(4)}, {"ok": False})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]   # no temporary left behind


def test_a_write_that_dies_before_the_rename_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save_npz(path, {"a": np.arange(3)}, {"ok": True})
    before = path.read_bytes()

    def fsync_that_fails(fd):
        raise OSError("disk full")

    monkeypatch.setattr("minivae.files.serialize.os.fsync", fsync_that_fails)
    with pytest.raises(OSError, match="disk full"):
        save_npz(path, {"a": np.arange(4)}, {"ok": False})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]   # no temporary left behind


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_mode_of_a_plain_open(tmp_path, umask):
    from minivae.data.idx import write_idx
    from minivae.files.serialize import write_text
    from minivae.files.serialize import atomic_write
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain", "wb"):
            pass
        atomic_write(tmp_path / "raw.bin", b"x")
        save_npz(tmp_path / "m.npz", {"a": np.arange(3)}, {})
        write_text(tmp_path / "config.json", "{}\n")
        write_idx(tmp_path / "x.idx", np.zeros((2, 3), dtype=np.uint8))
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == expected
    for name in ("raw.bin", "m.npz", "config.json", "x.idx"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name
    assert (tmp_path / "raw.bin").read_bytes() == b"x"
