"""The numbers a learner reads are labelled for what they are: an mse run's loss is a squared
error plus KL (not nats), its importance-weighted -log p(x) includes the Gaussian's constant,
every -log p(x) comes with its standard error, and a Bernoulli density of grey levels says
that it is not a likelihood of discrete images."""

import math
import re

import numpy as np
import pytest

from minivae.run import evaluate, train
from minivae.run.evaluation import eval_generator, iw_log_likelihood
from minivae.run.plots.summary import summary_rows
from minivae.run.checkpoints import load_model
from minivae.data import load_dataset, to_unit_float

from conftest import make_tiny

D = 64   # the tiny blobs are 8x8


def train_tiny(tmp_path, name, *extra):
    out = tmp_path / name
    argv = ["--dataset", make_tiny(tmp_path / "tiny.npz"), "--hidden", "32", "--latent-dim", "4",
            "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--no-plots",
            "--out", str(out), *extra]
    assert train.main(argv) == 0
    return out


def test_an_mse_run_speaks_of_a_squared_error_and_its_nll_includes_the_constant(tmp_path,
                                                                                   capsys):
    out = train_tiny(tmp_path, "mse", "--likelihood", "mse")
    done = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Done")][0]
    assert "squared error + KL" in done and "nats" not in done and len(done) <= 100
    assert evaluate.main([str(out), "--iw", "5"]) == 0
    text = capsys.readouterr().out
    constant = 0.5 * D * math.log(math.pi)
    assert "per image (squared error" in text and f"0.5 D log(pi) = {constant:.2f}" in text
    printed = float(re.search(r"-log p\(x\) ~ ([\d.]+) nats/image \(std err [\d.]+;", text)[1])
    # The same estimate by hand: minus the mean log-weight bound, plus the constant.
    model = load_model(str(out / "checkpoint.npz"))
    x = to_unit_float(load_dataset(str(tmp_path / "tiny.npz"), "test")[0])
    seed = 1                                     # the run's seed; evaluate draws with seed + 1
    log_px = iw_log_likelihood(model, x, 5, rng=eval_generator(model, seed + 1), batch_size=100)
    assert printed == pytest.approx(-float(np.mean(log_px)) + constant, abs=2e-3)
    assert printed > constant
    assert all(len(line) <= 100 for line in text.splitlines()[1:])


def test_the_report_does_not_call_a_squared_error_nats():
    rows = [{"epoch": 1, "test_loss": 37.62, "psnr": 14.0, "ssim": 0.5, "seconds": 1.0}]
    mse = dict(summary_rows(rows, {"likelihood": "mse"}, "cpu", is_vae=True))
    assert "squared error" in mse["final test loss"]
    assert "nats per image (negative ELBO" not in mse["final test loss"]
    bce = dict(summary_rows(rows, {"likelihood": "bernoulli"}, "cpu", is_vae=True))
    assert "nats per image (negative ELBO" in bce["final test loss"]


@pytest.mark.parametrize("binarize", [False, True])
def test_a_bernoulli_nll_of_grey_levels_says_so(tmp_path, capsys, binarize):
    out = train_tiny(tmp_path, "bce", *(["--binarize"] if binarize else []))
    capsys.readouterr()
    assert evaluate.main([str(out), "--iw", "3"]) == 0
    text = capsys.readouterr().out
    assert ("not the probability of discrete images" in text) is not binarize
    assert "std err" in text
