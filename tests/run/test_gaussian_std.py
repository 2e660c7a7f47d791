"""A small Gaussian std trains, and one too small for the dtype is refused before training.

The divergence guard allows a Gaussian likelihood with std s a loss of ten
times 1 / (2 s^2) per pixel (divergence.py). It once compared the model's
likelihood object with the string "gaussian", so a run with --gaussian-std
0.01, whose loss before any training is already above 1e3 nats per pixel,
stopped at step 1 as "exploded". A std whose loss cannot be a number in the
dtype (1e-200 in float64: even s^2 is 0) ended in "math domain error".
"""

import math

import numpy as np
import pytest

from minivae import VAE
from minivae.files.serialize import load_npz, save_npz
from minivae.run import evaluate, sample, train
from minivae.run.divergence import MAX_NATS_PER_PIXEL, check_gaussian_std, loss_limit


@pytest.fixture
def blank(tmp_path):
    """Black 8x8 images: an untrained decoder's mean 0.5 is 0.5 off on every pixel."""
    path = tmp_path / "blank.npy"
    np.save(path, np.zeros((60, 8, 8), np.uint8))
    return str(path)


def run(tmp_path, dataset, *options):
    return train.main(["--dataset", dataset, "--epochs", "1", "--hidden", "8", "--latent-dim",
                       "2", "--batch-size", "27", "--out", str(tmp_path / "run"), "--no-plots",
                       "--quiet", *options])


def test_the_limit_of_a_gaussian_model_follows_its_std():
    model = VAE(input_dim=64, hidden_dims=(8,), latent_dim=2, likelihood="gaussian",
                gaussian_std=0.01)
    assert loss_limit(model) == pytest.approx(10 / (2 * 0.01 ** 2) * 64)
    wide = VAE(input_dim=64, hidden_dims=(8,), latent_dim=2, likelihood="gaussian")
    assert loss_limit(wide) == MAX_NATS_PER_PIXEL * 64     # s = 1: the usual limit
    bernoulli = VAE(input_dim=64, hidden_dims=(8,), latent_dim=2)
    assert loss_limit(bernoulli) == MAX_NATS_PER_PIXEL * 64


def test_a_small_std_whose_first_loss_is_high_trains(tmp_path, blank, capsys):
    # Before training the loss is about 64 * 0.25 / (2 * 0.01^2) = 80,000 nats per image,
    # above 1e3 nats per pixel (64,000) but a loss of this likelihood, not a divergence.
    status = run(tmp_path, blank, "--likelihood", "gaussian", "--gaussian-std", "0.01")
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "checkpoint.npz").exists()


@pytest.mark.parametrize("std, dtype", [("1e-200", "float64"), ("1e-17", "float32")])
def test_a_std_too_small_for_the_dtype_is_refused_in_one_line(tmp_path, blank, capsys, std,
                                                              dtype):
    status = run(tmp_path, blank, "--likelihood", "gaussian", "--gaussian-std", std,
                 "--dtype", dtype)
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert f"--gaussian-std {std} is too small for {dtype}" in err
    assert not (tmp_path / "run").exists()                  # refused before anything is written
    suggested = float(err.split("use --gaussian-std ")[1].split()[0])
    check_gaussian_std(suggested, dtype, 64)                # the value it suggests is accepted


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_smallest_std_accepted_keeps_the_limit_squared_finite(dtype):
    largest = float(np.finfo(dtype).max)
    for std in (1e-3, 1e-6, 1e-9, 1e-30, 1e-76, 1e-150, 1e-200):
        limit = 10 / (2 * std ** 2) * 784 if std ** 2 > 0 else math.inf
        if limit <= math.sqrt(largest):                     # limit^2 <= largest
            check_gaussian_std(std, dtype, 784)
        else:
            with pytest.raises(ValueError, match="too small"):
                check_gaussian_std(std, dtype, 784)


@pytest.mark.parametrize("command", ["evaluate", "sample"])
def test_a_checkpoint_with_a_std_too_small_is_refused_by_the_commands(tmp_path, blank, capsys,
                                                                      command):
    assert run(tmp_path, blank, "--likelihood", "gaussian", "--dtype", "float64") == 0
    path = tmp_path / "run" / "checkpoint.npz"
    arrays, meta = load_npz(path)
    meta["config"]["gaussian_std"] = meta["train_config"]["gaussian_std"] = 1e-150
    save_npz(path, arrays, meta)
    capsys.readouterr()
    main = evaluate.main if command == "evaluate" else sample.main
    extra = [] if command == "evaluate" else ["-n", "2", "--out", str(tmp_path / "grid.png")]
    assert main([str(tmp_path / "run"), "--device", "cpu", *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "'config.gaussian_std'" in err and "too small for float64" in err
