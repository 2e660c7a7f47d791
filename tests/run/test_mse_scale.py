"""One MSE scale per line: a model trained on [-1, 1] (pixel_range "symmetric", the faces
presets) prints its test MSE on the scale of its training loss, and says which; the loss
figure, the report and `evaluate` agree with the lines."""

import csv

import numpy as np
import pytest

from minivae.run import evaluate, train
from minivae.run.plots.curves import loss_curves_figure
from minivae.run.plots.summary import metrics_table, summary_rows

from conftest import make_tiny

D = 64   # the tiny blobs are 8x8


@pytest.fixture(scope="module")
def symmetric_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mse")
    out = tmp / "run"
    argv = ["--dataset", make_tiny(tmp / "tiny.npz"), "--model", "ae", "--likelihood", "mse",
            "--pixel-range", "symmetric", "--hidden", "32", "--latent-dim", "4", "--epochs", "2",
            "--batch-size", "32", "--device", "cpu", "--no-plots", "--out", str(out)]
    return argv, out


def last_row(out):
    with open(out / "metrics.csv") as f:
        return {k: float(v) for k, v in list(csv.DictReader(f))[-1].items()}


def test_train_and_test_mse_are_on_one_scale(symmetric_run, capsys):
    argv, out = symmetric_run
    assert train.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    row = last_row(out)
    # For an autoencoder the test loss per pixel is the test MSE on the model's scale.
    on_model_scale = row["test_loss"] / D
    assert abs(row["mse"] * 4 - on_model_scale) < 1e-6       # metrics.csv's mse is on [0, 1]
    epoch = [line for line in lines if line.startswith("epoch   2")][0]
    assert f"test MSE {on_model_scale:.4f} (both on [-1, 1])" in epoch
    assert f"train MSE {row['train_loss'] / D:.4f}" in epoch
    done = [line for line in lines if line.startswith("Done")][0]
    assert f"test MSE {on_model_scale:.4f} per pixel on [-1, 1]" in done
    assert len(epoch) <= 100 and len(done) <= 100


def test_evaluate_says_both_scales(symmetric_run, capsys):
    argv, out = symmetric_run
    if not (out / "checkpoint.npz").exists():
        assert train.main(argv) == 0
    capsys.readouterr()
    assert evaluate.main([str(out)]) == 0
    text = capsys.readouterr().out
    row = last_row(out)
    assert f"MSE {row['mse'] * 4:.5f} per pixel on [-1, 1] ({row['mse']:.5f} on [0, 1])" in text


def test_the_figure_and_the_report_use_the_loss_scale():
    rows = [{"epoch": 1, "train_loss": 0.4 * D, "test_loss": 0.36 * D, "mse": 0.09,
             "psnr": 10.5, "ssim": 0.5, "seconds": 1.0}]
    fig = loss_curves_figure(rows, autoencoder=("MSE", D), pixel_range="symmetric")
    loss_ax, mse_ax = fig.axes[:2]
    assert np.allclose(mse_ax.lines[0].get_ydata(), [0.36])
    assert "[-1, 1]" in mse_ax.get_title() and "[-1, 1]" in loss_ax.get_title()
    summary = dict(summary_rows(rows, {"pixel_range": "symmetric"}, "cpu", is_vae=False))
    assert summary["final test MSE"] == "0.36000 per pixel on [-1, 1]"
    header, _ = metrics_table(rows, is_vae=False, pixel_range="symmetric")
    assert "MSE per pixel on [0, 1]" in header
    unit = dict(summary_rows(rows, {}, "cpu", is_vae=False))   # [0, 1] models: unchanged
    assert unit["final test MSE"] == "0.09000 per pixel"
