"""minivae.load_model takes a run directory, as every command does, and says what is missing
from a directory that holds no run."""

import numpy as np
import pytest

import minivae


def test_load_model_reads_a_run_directory(tmp_path):
    model = minivae.VAE(input_dim=12, hidden_dims=(8,), latent_dim=2, seed=3)
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    model.save(run / "checkpoint.npz")             # what a run writes after each epoch
    loaded = minivae.load_model(str(run))
    assert type(loaded) is minivae.VAE
    for name, p in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], p)


def test_a_directory_without_a_checkpoint_is_named(tmp_path):
    with pytest.raises(minivae.CheckpointError, match="no checkpoint.npz in it"):
        minivae.load_model(str(tmp_path))


def test_a_class_load_of_a_run_directory_points_to_load_model(tmp_path):
    with pytest.raises(minivae.CheckpointError,
                       match=r"is a directory; minivae.load_model\('.*'\) reads the model of a run"):
        minivae.VAE.load(tmp_path)
