"""Posterior collapse seen as it happens: the warm-up's schedule, latents.csv's numbers, the
warning line, the collapse figure; and the seed lab's Keras VAE as a preset."""

import numpy as np
import pytest

from minivae import VAE, CVAE
from minivae.run import train
from minivae.run.console import collapse_warning
from minivae.run.evaluation import active_units, evaluate_elbo, latent_diagnostics
from minivae.run.presets import PRESETS
from minivae.run.run_tables import append_latents, read_latents, truncate_latents
from minivae.run.schedule import kl_weight
from minivae.summary import summary_text

from conftest import make_tiny


def test_the_warmup_rises_linearly_step_by_step_and_then_holds():
    n = 10                                                   # steps per epoch
    weights = [kl_weight(2.0, 3, e, i, n) for e in range(1, 6) for i in range(n)]
    assert weights[0] == 0.0                                 # the first step: no KL at all
    assert np.allclose(np.diff(weights[:30]), 2.0 / 30)      # the same rise every step
    assert weights[29] == pytest.approx(2.0 * 29 / 30) and weights[30:] == [2.0] * 20
    assert kl_weight(0.5, 0, 1, 0, n) == 0.5                 # no warm-up: beta throughout


def rows(*pairs):
    return [{"epoch": i + 1, "active_units": au, "kl": kl, "kl_dims": [kl / 2, kl / 2]}
            for i, (au, kl) in enumerate(pairs)]


def test_the_warning_comes_once_when_collapse_begins():
    history = rows((2, 5.0), (1, 0.05), (1, 0.04), (1, 0.03), (1, 0.02), (2, 3.0), (0, 0.5))
    said = [bool(collapse_warning(history[:n])) for n in range(1, len(history) + 1)]
    # epoch 4: the KL under 0.1 for 3 epochs; 5: still so, not said again; 7: no active unit
    assert said == [False, False, False, True, False, False, True]
    lines = collapse_warning(history[:4])
    assert lines[0].startswith("warning: posterior collapse at epoch 4: 1 of 2 latent dimensions")
    assert "--kl-warmup" in lines[1] and "--free-bits" in lines[1]
    assert all(len(line) <= 100 for line in lines)


def test_latent_diagnostics_are_the_kl_and_the_active_units():
    rng = np.random.default_rng(0)
    x = rng.random((300, 12))
    for model, labels in ((VAE(input_dim=12, hidden_dims=(9,), latent_dim=4, dtype="float64",
                               seed=1), None),
                          (CVAE(input_dim=12, hidden_dims=(9,), latent_dim=4, num_classes=3,
                                dtype="float64", seed=2), rng.integers(0, 3, 300))):
        d = latent_diagnostics(model, x, labels=labels, batch_size=128)
        assert d["kl_dims"].shape == (4,) and np.all(d["kl_dims"] >= 0)
        assert d["kl"] == pytest.approx(evaluate_elbo(model, x, labels=labels)["kl"], rel=1e-10)
        assert d["active_units"] == active_units(model, x, labels=labels)[0]


def test_latents_csv_round_trip_and_truncation(tmp_path):
    for e in (1, 2, 3):
        append_latents(tmp_path, {"epoch": e, "active_units": 4 - e, "kl": 0.1 * e,
                                  "kl_dims": np.array([0.04, 0.06]) * e})
    with open(tmp_path / "latents.csv", "a") as f:
        f.write("4,1,0.")                                    # cut short by a kill
    back = read_latents(tmp_path)
    assert [r["epoch"] for r in back] == [1, 2, 3] and back[2]["kl_dims"] == [0.12, 0.18]
    truncate_latents(tmp_path, 2)
    assert [r["epoch"] for r in read_latents(tmp_path)] == [1, 2]
    truncate_latents(tmp_path, 0)
    append_latents(tmp_path, {"epoch": 1, "active_units": 2, "kl": 1.0, "kl_dims": [0.5, 0.5]})
    assert (tmp_path / "latents.csv").read_text().startswith("epoch,active_units,kl,kl_1,kl_2\n")


def test_a_collapsing_run_warns_once_and_draws_its_latents(tmp_path, capsys):
    data = make_tiny(tmp_path / "tiny.npz")
    out = tmp_path / "run"
    assert train.main(["--dataset", data, "--hidden", "32", "--latent-dim", "3", "--beta", "30",
                       "--epochs", "4", "--device", "cpu", "--threads", "1",
                       "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: posterior collapse at epoch") == 1, err
    assert "Try --kl-warmup 10" in err
    history = read_latents(out)
    assert len(history) == 4 and history[-1]["active_units"] == 0 and history[-1]["kl"] < 0.1
    assert (out / "latent_kl.png").stat().st_size > 1000
    assert "posterior collapse" in (out / "report.html").read_text()


def test_the_keras_vae_preset_has_the_labs_parameter_counts():
    p = PRESETS["keras_vae"]
    model = VAE(input_dim=784, hidden_dims=p["hidden"], latent_dim=p["latent_dim"],
                activation=p["activation"], likelihood=p["likelihood"])
    text = summary_text(model)
    assert "encoder 2,083,284 (with its heads), decoder 2,083,552" in text
    assert (p["batch_size"], p["epochs"], p["model"]) == (64, 100, "vae")
