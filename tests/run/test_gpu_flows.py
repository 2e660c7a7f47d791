"""The commands with --device cuda, end to end: train (its figures and report.html), resume,
evaluate --iw, sample; and the evaluation functions given host data or a NumPy generator.

They run on CuPy on a GPU, and without one on the CPU stand-in for CuPy
(tests/conftest.py). The stand-in draws its noise with NumPy's PCG64 from the
same seeds as the CPU, so there a GPU run must also give the CPU run's
numbers (to float32's rounding: the fused kernels compute in another order);
on a real GPU cuRAND draws other noise and only the flows are checked.
"""

import csv
import re

import numpy as np
import pytest

from minivae import VAE, backend
from minivae.backend import Generator, get_xp, to_numpy
from minivae.run import evaluate, evaluation, sample, train

from conftest import make_tiny

ARGS = ["--hidden", "16", "--latent-dim", "2", "--batch-size", "32", "--quiet", "--threads", "1"]


def on_standin():
    import cupy_standin
    return backend.cupy_module() is cupy_standin


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path / "tiny.npz", n_train=96, n_test=40)


def train_run(tmp_path, tiny, name, *options):
    out = tmp_path / name
    status = train.main(["--dataset", tiny, *ARGS, "--out", str(out), *options])
    assert status == 0, f"train {' '.join(options)} failed"
    return out


def metrics(run):
    with open(run / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def assert_same_numbers(gpu_rows, cpu_rows, columns=("train_loss", "test_loss", "mse", "ssim")):
    assert len(gpu_rows) == len(cpu_rows)
    for g, c in zip(gpu_rows, cpu_rows):
        for column in columns:
            assert g[column] == pytest.approx(c[column], rel=1e-4), column


@pytest.mark.cuda
def test_train_on_the_gpu_draws_the_figures_and_the_report(tmp_path, tiny):
    run = train_run(tmp_path, tiny, "gpu", "--epochs", "2", "--device", "cuda")
    for name in ("checkpoint.npz", "metrics.csv", "config.json", "report.html",
                 "loss_curves.png", "reconstructions.png", "samples.png"):
        assert (run / name).is_file(), f"{name} missing from the GPU run"
    assert "<img" in (run / "report.html").read_text()
    rows = metrics(run)
    assert len(rows) == 2 and all(np.isfinite(r["test_loss"]) for r in rows)
    if on_standin():
        cpu = train_run(tmp_path, tiny, "cpu", "--epochs", "2", "--device", "cpu", "--no-plots")
        assert_same_numbers(rows, metrics(cpu))


@pytest.mark.cuda
@pytest.mark.parametrize("model", [
    ["--k", "3", "--objective", "iwae"],
    ["--arch", "conv", "--channels", "3,4", "--hidden", "", "--latent-dim", "2"],
    ["--model", "ae"],
], ids=["iwae", "conv-vae", "ae"])
def test_other_models_train_on_the_gpu(tmp_path, tiny, model):
    rows = metrics(train_run(tmp_path, tiny, "gpu", "--epochs", "1", "--device", "cuda",
                             "--no-plots", *model))
    if on_standin():
        cpu = train_run(tmp_path, tiny, "cpu", "--epochs", "1", "--device", "cpu",
                        "--no-plots", *model)
        assert_same_numbers(rows, metrics(cpu), ("train_loss", "test_loss"))


@pytest.mark.cuda
def test_a_gpu_run_resumed_repeats_the_uninterrupted_run(tmp_path, tiny):
    whole = train_run(tmp_path, tiny, "whole", "--epochs", "2", "--device", "cuda", "--no-plots")
    part = train_run(tmp_path, tiny, "part", "--epochs", "1", "--device", "cuda", "--no-plots")
    assert train.main(["--resume", str(part), "--epochs", "2", "--quiet"]) == 0
    assert_same_numbers(metrics(part), metrics(whole))


@pytest.mark.cuda
def test_evaluate_iw_and_sample_on_the_gpu(tmp_path, tiny, capsys):
    run = train_run(tmp_path, tiny, "gpu", "--epochs", "1", "--device", "cuda", "--no-plots")
    capsys.readouterr()

    def numbers(device):
        assert evaluate.main([str(run), "--iw", "30", "--device", device, "--threads", "1"]) == 0
        out = capsys.readouterr().out                              # the numbers, not the seconds
        return [float(v) for v in re.findall(r"-?\d+\.\d+(?! s\b)", out)]

    on_gpu = numbers("cuda")
    assert len(on_gpu) >= 3 and all(np.isfinite(on_gpu))
    if on_standin():
        assert on_gpu == pytest.approx(numbers("cpu"), rel=1e-4)
    grid = tmp_path / "grid.png"
    assert sample.main([str(run), "-n", "6", "--out", str(grid), "--device", "cuda"]) == 0
    assert grid.stat().st_size > 0


# -- the evaluation functions on a GPU model: issue 24's two bugs ---------------------

def gpu_model():
    return VAE(input_dim=64, hidden_dims=(8,), latent_dim=3, device="cuda", seed=0)


def host_images(n=12):
    return np.random.default_rng(0).random((n, 64), dtype=np.float32)     # (N, D) on the host


@pytest.mark.cuda
def test_reconstruction_metrics_of_a_gpu_model_take_host_images():
    model = gpu_model()
    on_host = evaluation.reconstruction_metrics(model, host_images(), (8, 8), batch_size=5)
    on_device = evaluation.reconstruction_metrics(model, get_xp("cuda").asarray(host_images()),
                                                  (8, 8), batch_size=5)
    assert on_host == on_device and np.isfinite(on_host["ssim"])


@pytest.mark.cuda
def test_a_numpy_generator_serves_every_evaluation_of_a_gpu_model():
    """evaluate_elbo took a NumPy-side generator; test_set_metrics and iw_log_likelihood too."""
    model, xp = gpu_model(), get_xp("cuda")
    x = xp.asarray(host_images())
    elbo, quality = evaluation.test_set_metrics(model, x, (8, 8), batch_size=5,
                                                rng=Generator(np, 3))
    assert elbo["loss"] == pytest.approx(
        evaluation.evaluate_elbo(model, x, batch_size=5, rng=Generator(np, 3))["loss"], rel=1e-6)
    log_px = evaluation.iw_log_likelihood(model, x, 7, rng=Generator(np, 3), batch_size=5)
    assert log_px.shape == (12,) and np.isfinite(to_numpy(log_px)).all()
    if on_standin():   # here the device generator draws NumPy's numbers from the same seed
        on_device = evaluation.iw_log_likelihood(model, x, 7, rng=Generator(xp, 3), batch_size=5)
        assert to_numpy(log_px) == pytest.approx(to_numpy(on_device), rel=1e-6)
