"""--k, --objective and --preset burda on the command line and in TOML; an IWAE run's files."""

import csv
import json

import pytest

from minivae import load_model
from minivae.run import train
from minivae.run.train_cli import parse_args
from minivae.run.schedule import BURDA_PASSES, burda_learning_rate
from minivae.run.run_tables import IWAE_COLUMNS, METRIC_COLUMNS

from conftest import make_tiny


def test_the_burda_preset_is_the_papers_setup():
    cfg, _ = parse_args(["--preset", "burda"])
    assert (cfg.hidden, cfg.latent_dim, cfg.activation, cfg.likelihood) == \
        ((200, 200), 50, "tanh", "bernoulli")
    assert cfg.binarize and cfg.batch_size == 20 and cfg.adam_eps == 1e-4
    assert (cfg.lr, cfg.lr_schedule, cfg.epochs) == (1e-3, "burda", 3280)
    assert (cfg.k, cfg.objective) == (1, "elbo")          # the preset picks no objective


def test_options_override_the_preset_and_toml_sits_between(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('preset = "burda"\nk = 5\nobjective = "iwae"\nbatch_size = 40\n')
    cfg, _ = parse_args(["--config", str(toml), "--epochs", "4"])
    assert (cfg.k, cfg.objective, cfg.batch_size, cfg.epochs, cfg.latent_dim) == \
        (5, "iwae", 40, 4, 50)
    cfg, _ = parse_args(["--config", str(toml), "--batch-size", "10"])
    assert cfg.batch_size == 10


def test_the_schedule_is_3_to_the_i_passes_at_lr_times_10_to_minus_i_over_7():
    stages = [burda_learning_rate(e) for e in range(1, BURDA_PASSES + 1)]
    assert BURDA_PASSES == 3280
    for i in range(8):
        first = sum(3**j for j in range(i))                # passes before stage i
        assert stages[first:first + 3**i] == [pytest.approx(1e-3 * 10 ** (-i / 7))] * 3**i
    assert stages[-1] == pytest.approx(1e-4)


@pytest.mark.parametrize("argv, message", [
    (["--k", "0"], "--k"), (["--objective", "iwea"], "--objective"),
    (["--objective", "iwae", "--beta", "2"], "--beta 1"),
    (["--model", "ae", "--k", "5"], "need a VAE"), (["--preset", "kingma"], "--preset"),
])
def test_bad_settings_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_an_iwae_run_records_its_bound_and_ess_and_resumes(tmp_path):
    data = make_tiny(tmp_path / "tiny.npz")
    out = tmp_path / "run"
    args = ["--dataset", data, "--hidden", "16", "--latent-dim", "3", "--batch-size", "32",
            "--device", "cpu", "--quiet", "--out", str(out), "--k", "4", "--objective", "iwae",
            "--lr-schedule", "burda", "--adam-eps", "1e-4", "--epochs", "1"]
    assert train.main(args) == 0
    assert train.main(["--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert tuple(rows[0]) == METRIC_COLUMNS + IWAE_COLUMNS and len(rows) == 2
    for row in rows:
        assert 1 <= float(row["train_ess"]) <= 4 and 1 <= float(row["test_ess"]) <= 4
        assert float(row["test_iwae"]) <= float(row["test_loss"]) + 1.0   # a tighter bound
    model = load_model(out / "checkpoint.npz")
    assert (model.k, model.objective) == (4, "iwae")
    assert json.load(open(out / "config.json"))["objective"] == "iwae"
    report = (out / "report.html").read_text()
    assert "-L_4 (IWAE bound, k=4)" in report and "effective sample size" in report


def test_an_iwae_runs_lines_name_the_bound_and_show_the_elbo_beside_it(tmp_path, capsys):
    """It trains on -L_k, not on recon + KL: each number says which it is, and the -ELBO
    shown is metrics.csv's recon + KL."""
    data = make_tiny(tmp_path / "tiny.npz")
    out = tmp_path / "run"
    assert train.main(["--dataset", data, "--hidden", "16", "--latent-dim", "3", "--batch-size",
                       "32", "--device", "cpu", "--no-plots", "--out", str(out), "--k", "4",
                       "--objective", "iwae", "--epochs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (row,) = csv.DictReader(open(out / "metrics.csv"))
    (epoch,) = [line for line in lines if line.startswith("epoch   1 |")]
    elbo = float(row["train_recon"]) + float(row["train_kl"])
    assert epoch.startswith(f"epoch   1 | train -L_4 {float(row['train_loss']):.2f}, "
                            f"-ELBO {elbo:.2f} | test -L_4 {float(row['test_iwae']):.2f}, "
                            f"-ELBO {float(row['test_loss']):.2f} | ESS ")
    assert "recon" not in epoch and len(epoch) <= 100
    (done,) = [line for line in lines if line.startswith("Done")]
    assert f"test -L_4 {float(row['test_iwae']):.3f} nats/image" in done
    assert f"test -ELBO {float(row['test_loss']):.3f}" in done and len(done) <= 100
