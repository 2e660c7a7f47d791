"""Runs written before IWAE became a class and the package was split into folders
(commit 639a40c; tests/run/fixtures/runs-639a40c/README.md) still load, evaluate and
resume, and the resumed run is the uninterrupted one, number for number."""

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import minivae
from minivae.files.serialize import META_KEY, CheckpointError, load_npz, save_npz
from minivae.run import train

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "runs-639a40c")
OLD_DATA = "/tmp/ckfix/tiny.npz"          # the data set's path in the fixtures' files
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNS = {"vae": minivae.VAE, "conv_ae": minivae.Autoencoder, "iwae": minivae.IWAE}


def copy_run(name, tmp_path):
    """The fixture run ``name`` and its data in tmp_path, its files naming the new data path."""
    data = tmp_path / "tiny.npz"
    shutil.copy(os.path.join(FIXTURES, "tiny.npz"), data)
    run = tmp_path / name
    shutil.copytree(os.path.join(FIXTURES, name), run)
    config = (run / "config.json").read_text().replace(OLD_DATA, str(data))
    (run / "config.json").write_text(config)
    arrays, meta = load_npz(run / "checkpoint.npz")
    meta["train_config"]["dataset"] = str(data)
    save_npz(run / "checkpoint.npz", {k: v for k, v in arrays.items() if k != META_KEY}, meta)
    return run


def metric_rows(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_an_old_checkpoint_loads_as_its_class(name):
    model = minivae.load_model(os.path.join(FIXTURES, name, "checkpoint.npz"))
    assert type(model) is RUNS[name]
    if name == "iwae":                     # saved as "model": "vae" with k=3, objective "iwae"
        assert (model.k, model.objective) == (3, "iwae")
        with pytest.raises(CheckpointError, match="holds an IWAE.*minivae.IWAE.load"):
            minivae.VAE.load(os.path.join(FIXTURES, name, "checkpoint.npz"))
        assert type(minivae.IWAE.load(os.path.join(FIXTURES, name, "checkpoint.npz"))) is minivae.IWAE
    x = np.load(os.path.join(FIXTURES, "tiny.npz"))["x"][:5].reshape(5, -1) / 255.0
    assert np.isfinite(float(model.loss(x)[0]))


@pytest.mark.parametrize("name", sorted(RUNS))
def test_an_old_run_evaluates_and_resumes_to_the_uninterrupted_numbers(name, tmp_path):
    run = copy_run(name, tmp_path)
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-m", "minivae.evaluate", str(run), "--threads", "1"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert train.main(["--resume", str(run), "--epochs", "2", "--quiet", "--no-plots"]) == 0
    assert metric_rows(run / "metrics.csv") == \
        metric_rows(os.path.join(FIXTURES, name, "expected_metrics_2_epochs.csv"))
    assert json.loads((run / "config.json").read_text())["epochs"] == 2
