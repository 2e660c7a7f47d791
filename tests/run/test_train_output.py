"""The training command's output and its newer options.

What it prints (through a pipe, within 100 columns, in an autoencoder's own
words), ``--config runs/<run>/config.json``, ``--optimizer sgd``,
``--decoder-hidden``, ``--likelihood mse``, ``--latent-dim 1`` with every
figure, and the console scripts. Runs use the tiny 8x8 blobs of conftest.
"""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from minivae.run import train
from minivae.run.runs import load_checkpoint

from test_train_cli import REPO, run_cli, tiny, tiny_args  # noqa: F401  (tiny: a fixture)

def test_output_reaches_a_pipe_while_the_run_goes_on(tiny, tmp_path):
    """Through a pipe (| tee, > log, nohup, CI) each line arrives when it is printed."""
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [a for a in tiny_args(tiny, tmp_path / "run", "--epochs", "10000") if a != "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "minivae.train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(8)]   # the header, then epoch 1
        assert proc.poll() is None, "the run ended before its lines were read"
    finally:
        proc.kill()
        proc.wait()
    assert lines[0].startswith("Training a VAE") and lines[7].startswith("epoch   1 |")


def test_autoencoder_speaks_of_mse_per_pixel_not_of_an_elbo(tiny, tmp_path, capsys):
    args = [a for a in tiny_args(tiny, tmp_path / "ae", "--epochs", "2", "--model", "ae")
            if a != "--quiet"]
    assert train.main(args) == 0
    out = capsys.readouterr().out
    for word in ("ELBO", "KL", "posterior", "beta", "nats"):
        assert word not in out, word
    assert out.startswith("Training an autoencoder") and "per pixel" in out.splitlines()[0]
    with open(tmp_path / "ae" / "metrics.csv") as f:
        row = list(csv.DictReader(f))[-1]
    epoch_2 = [line for line in out.splitlines() if line.startswith("epoch   2")][0]
    # The BCE per pixel is the summed loss over 64 pixels; the MSE is metrics.csv's, per pixel.
    assert f"train BCE {float(row['train_loss']) / 64:.4f}" in epoch_2
    assert f"MSE {float(row['mse']):.4f}" in epoch_2


def test_rerun_from_a_runs_config_json(tiny, tmp_path, capsys, monkeypatch):
    """The README's recipe: --config runs/<run>/config.json trains the same run anew."""
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "first"
    assert train.main(tiny_args(tiny, first, "--epochs", "1")) == 0
    assert train.main(["--config", str(first / "config.json")]) == 0
    assert "already holds a run" in capsys.readouterr().err
    (rerun,) = (tmp_path / "runs").iterdir()
    with open(first / "metrics.csv") as a, open(rerun / "metrics.csv") as b:
        old, new = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["test_loss"] for r in old] == [r["test_loss"] for r in new]   # seeded: the same run


def test_sgd_and_an_asymmetric_decoder(tiny, tmp_path):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "2", "--optimizer", "sgd", "--lr", "0.05",
                                "--momentum", "0.9", "--decoder-hidden", "16,24")) == 0
    arrays, meta = load_checkpoint(out)
    assert meta["config"]["decoder_hidden_dims"] == [16, 24] and meta["optimizer"]["name"] == "SGD"
    assert arrays["param/dec0.W"].shape == (4, 16) and arrays["param/dec1.W"].shape == (16, 24)
    with open(out / "metrics.csv") as f:
        losses = [float(r["train_loss"]) for r in csv.DictReader(f)]
    assert losses[1] < losses[0]
    assert "--decoder-hidden 8: the run" in _resume_error(out, "--decoder-hidden", "8")


def _accepts_mse():
    from minivae import VAE
    try:
        VAE(input_dim=4, hidden_dims=(3,), latent_dim=2, likelihood="mse")
    except ValueError:
        return False
    return True


@pytest.mark.skipif(not _accepts_mse(), reason="minivae.VAE does not accept likelihood='mse' yet")
@pytest.mark.parametrize("model", ["vae", "ae"])
def test_mse_prints_the_gaussian_nll_less_its_constant(tiny, tmp_path, model):
    """--likelihood mse trains as gaussian with s^2 = 1/2 and prints 0.5 D log(pi) less."""
    rows = {}
    for name, extra in [("mse", ["--likelihood", "mse"]),
                        ("gauss", ["--likelihood", "gaussian",
                                   "--gaussian-std", str(np.sqrt(0.5))])]:
        out = tmp_path / name
        assert train.main(tiny_args(tiny, out, "--epochs", "2", "--model", model,
                                    "--dtype", "float64", *extra)) == 0
        with open(out / "metrics.csv") as f:
            rows[name] = list(csv.DictReader(f))
    constant = 0.5 * 64 * np.log(np.pi)        # 64 pixels
    for a, b in zip(rows["mse"], rows["gauss"]):
        for key in ("train_loss", "test_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]) - constant, abs=1e-6)
        assert float(a["mse"]) == pytest.approx(float(b["mse"]), rel=1e-9)


def test_console_scripts_point_at_the_commands():
    """minivae-train, minivae-sample and minivae-evaluate: each names a main() that exists."""
    import importlib
    try:
        import tomllib
    except ModuleNotFoundError:                 # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert set(scripts) == {"minivae-train", "minivae-sample", "minivae-evaluate"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def _resume_error(run, *extra):
    res = run_cli("-m", "minivae.train", "--resume", str(run), *extra)
    assert res.returncode == 2
    return res.stderr


@pytest.mark.parametrize("model", ["vae", "ae"])
def test_latent_dim_1_draws_every_figure(tiny, tmp_path, model):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    args = [a for a in tiny_args(tiny, out, "--epochs", "1", "--latent-dim", "1",
                                 "--model", model) if a != "--no-plots"]
    assert train.main(args) == 0
    expected = {"loss_curves", "quality", "reconstructions", "latent_space", "interpolation"}
    if model == "vae":
        expected |= {"samples", "manifold", "latent_kl"}   # latent_kl: each dimension's KL per epoch
    assert {p.stem for p in out.glob("*.png")} == expected
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="explorer-data"' in report and "the point sets z1" in report
