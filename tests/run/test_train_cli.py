"""The training command: options, run-directory files, and its errors.

Runs use a tiny synthetic dataset (8x8 blobs in an .npz), so each takes a
fraction of a second; one test uses real MNIST when MINIVAE_DATA_DIR is set.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minivae.run import train
from minivae.run.config import TrainConfig
from minivae.run.train_cli import parse_args
from minivae.run.train_data import load_data
from minivae.run.run_tables import METRIC_COLUMNS
from minivae.run.runs import load_checkpoint

from conftest import make_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path / "tiny.npz")


def tiny_args(dataset, out, *extra):
    return ["--dataset", dataset, "--hidden", "32", "--latent-dim", "4", "--batch-size", "32",
            "--device", "cpu", "--no-plots", "--quiet", "--out", str(out), *extra]


def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=60)


# -- options ------------------------------------------------------------------

def test_defaults_are_the_pytorch_example():
    cfg, resume = parse_args([])
    assert resume is None
    assert (cfg.dataset, cfg.hidden, cfg.latent_dim, cfg.activation, cfg.likelihood) == \
        ("mnist", (400,), 20, "relu", "bernoulli")
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.seed, cfg.model, cfg.beta) == \
        (1e-3, 128, 10, 1, "vae", 1.0)


def test_options_parse():
    cfg, _ = parse_args(["--hidden", "512,256", "--latent-dim", "2", "--lr", "3e-4",
                         "--likelihood", "gaussian", "--model", "ae", "--binarize", "--no-plots",
                         "--dataset", "faces.npz", "--dtype", "float64", "--beta", "4"])
    assert cfg.hidden == (512, 256) and cfg.latent_dim == 2 and cfg.lr == 3e-4
    assert cfg.likelihood == "gaussian" and cfg.model == "ae" and cfg.binarize
    assert not cfg.plots and cfg.dataset == os.path.abspath("faces.npz") and cfg.dtype == "float64"


def test_help_documents_every_field(capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for name in TrainConfig.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in text
    for flag in ("--config", "--resume", "--no-plots", "--quiet"):
        assert flag in text


@pytest.mark.parametrize("argv, named", [
    (["--lr", "-1"], "--lr"), (["--lr", "abc"], "--lr"), (["--epochs", "2.5"], "--epochs"),
    (["--epochs", "0"], "--epochs"), (["--hidden", "512,x"], "--hidden"),
    (["--hidden", ","], "--hidden"), (["--likelihood", "poisson"], "--likelihood"),
    (["--device", "tpu"], "--device"), (["--dataset", "cifar"], "--dataset"),
    (["--beta", "nan"], "--beta"), (["--bogus", "1"], "--bogus"),
    (["--lat", "5"], "--lat"),              # abbreviations are typos, not options
    (["--data-dir", "/no/such/dir"], "--data-dir: no such directory"),
    (["--gaussian-std", "0"], "--gaussian-std"),
    (["--momentum", "1.5"], "--momentum"), (["--optimizer", "rmsprop"], "--optimizer"),
    (["--decoder-hidden", "256,x"], "--decoder-hidden"),
])
def test_bad_options_are_errors_naming_the_option(argv, named, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    assert named in capsys.readouterr().err


def test_config_file_and_command_line_override(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('hidden = [64, 32]\nlatent_dim = 8\nlr = 0.01\nbinarize = true\n')
    cfg, _ = parse_args(["--config", str(f), "--lr", "0.002"])
    assert cfg.hidden == (64, 32) and cfg.latent_dim == 8 and cfg.binarize
    assert cfg.lr == 0.002                  # the command line wins over the file


@pytest.mark.parametrize("text, message", [
    ("latnt_dim = 8\n", "unknown key 'latnt_dim'"),
    ('epochs = "ten"\n', "key 'epochs'"),
    ("epochs = 2.5\n", "key 'epochs'"),
    ("binarize = 1\n", "key 'binarize'"),
    ('activation = "gelu"\n', "key 'activation'"),
    ("lr = \n", "cannot be read"),
])
def test_config_file_errors(tmp_path, capsys, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(SystemExit) as e:
        parse_args(["--config", str(f)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "bad.toml" in err


def test_missing_config_file(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--config", "/nonexistent/run.toml"])
    assert "no such file" in capsys.readouterr().err


# -- a run and its files ------------------------------------------------------

def test_run_directory_files(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "2")) == 0
    assert "Done after epoch 2: test loss" in capsys.readouterr().out

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(METRIC_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    values = np.array([[float(v) for v in r] for r in rows[1:]])
    assert np.isfinite(values).all()
    m = dict(zip(METRIC_COLUMNS, values.T))
    assert m["train_loss"][1] < m["train_loss"][0]
    # loss = recon + beta KL, and the test metrics are in their ranges.
    np.testing.assert_allclose(m["train_loss"], m["train_recon"] + m["train_kl"], rtol=1e-5)
    np.testing.assert_allclose(m["test_loss"], m["test_recon"] + m["test_kl"], rtol=1e-5)
    assert ((0 < m["mse"]) & (m["mse"] < 1)).all() and ((-1 <= m["ssim"]) & (m["ssim"] <= 1)).all()
    np.testing.assert_allclose(m["psnr"], -10 * np.log10(m["mse"]), atol=3)   # mean of logs vs log of mean

    with open(out / "reconstructions.csv", newline="") as f:
        recon = list(csv.reader(f))
    assert recon[0][:5] == ["row_id", "orig_px0", "recon_px0", "orig_px1", "recon_px1"]
    # ten images: one per label (4 here) first, then the next test images in order
    assert len(recon[0]) == 1 + 2 * 64 and len(recon) == 1 + 10

    cfg, _ = parse_args(["--config", str(out / "config.json")])   # config.json reruns the run
    assert cfg.hidden == (32,) and cfg.epochs == 2 and cfg.out is None   # a new directory
    _, meta = load_checkpoint(str(out))
    assert meta["epoch"] == 2 and meta["train_config"]["latent_dim"] == 4

    # evaluate repeats the last test loss exactly (the same evaluation noise).
    res = run_cli("-m", "minivae.evaluate", str(out), "--iw", "20", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert f"test loss   {m['test_loss'][-1]:.3f}" in res.stdout and "-log p(x)" in res.stdout


def test_binarize_tests_on_one_fixed_binarization_that_evaluate_repeats(tiny, tmp_path):
    cfg, _ = parse_args(tiny_args(tiny, tmp_path / "unused", "--binarize"))
    x_test = load_data(cfg, np).x_test                               # (N, D)
    assert set(np.unique(x_test).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(load_data(cfg, np).x_test, x_test)   # the same draw
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1", "--binarize")) == 0
    with open(out / "metrics.csv") as f:
        test_loss = float(list(csv.DictReader(f))[-1]["test_loss"])
    res = run_cli("-m", "minivae.evaluate", str(out), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert f"test loss   {test_loss:.3f}" in res.stdout     # evaluate binarized it the same way


def test_prints_one_line_per_epoch(tiny, tmp_path, capsys):
    args = [a for a in tiny_args(tiny, tmp_path / "run", "--epochs", "2") if a != "--quiet"]
    assert train.main(args) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2
    for word in ("train", "recon", "KL", "test", "PSNR", "SSIM", " s"):
        assert word in lines[1]
    assert out.startswith("Training a VAE 64-32-4-32-64") and "Done after epoch 2: test loss" in out
    # 64*32+32 + 2*(32*4+4) + 4*32+32 + 32*64+64 weights and biases
    assert out.splitlines()[0].endswith(", 4,616 parameters")
    # No wrapping on a 100-column terminal (except for the lines naming a long path).
    assert max(len(line) for line in out.splitlines() if str(tmp_path) not in line) <= 100, out


def test_autoencoder_runs(tiny, tmp_path):
    out = tmp_path / "ae"
    assert train.main(tiny_args(tiny, out, "--epochs", "1", "--model", "ae")) == 0
    with open(out / "metrics.csv") as f:
        row = list(csv.DictReader(f))[0]
    assert float(row["train_kl"]) == 0 and float(row["test_loss"]) == float(row["test_recon"])


def test_refuses_to_overwrite_a_run(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    before = (out / "checkpoint.npz").read_bytes()
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err
    assert (out / "checkpoint.npz").read_bytes() == before


def test_missing_data_is_a_clear_error_without_traceback(tmp_path):
    res = run_cli("-m", "minivae.train", *tiny_args(str(tmp_path / "none.npz"), tmp_path / "r"))
    assert res.returncode == 1
    assert "none.npz" in res.stderr and "Traceback" not in res.stderr


def test_no_plots_never_imports_matplotlib(tiny, tmp_path):
    code = ("import sys; from minivae import train; "
            f"rc = train.main({tiny_args(tiny, tmp_path / 'r', '--epochs', '1')!r}); "
            "assert rc == 0; assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    res = run_cli("-c", code)
    assert res.returncode == 0, res.stderr


def test_figures_when_plots_are_on(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    args = [a for a in tiny_args(tiny, out, "--epochs", "1") if a != "--no-plots"]
    assert train.main(args) == 0
    assert (out / "report.html").exists() and (out / "loss_curves.png").exists()


# -- resume options and architecture checks ----------------------------------

def test_resume_refuses_options_that_change_the_run(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    for argv, named in ((["--hidden", "64"], "--hidden"), (["--latent-dim", "3"], "--latent-dim"),
                        (["--lr", "0.1"], "--lr"), (["--config", "x.toml"], "--config"),
                        (["--out", str(tmp_path / "other")], "--out")):
        with pytest.raises(SystemExit) as e:
            parse_args(["--resume", str(out), *argv])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert named in err
    # Restating a setting unchanged is fine; so are --epochs and the display options.
    cfg, resume = parse_args(["--resume", str(out), "--epochs", "5", "--hidden", "32",
                              "--dataset", tiny, "--out", str(out), "--no-quiet"])
    assert resume == str(out) and cfg.epochs == 5 and not cfg.quiet


def test_resume_without_checkpoint(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for d in ("empty", "missing"):
        with pytest.raises(SystemExit) as e:
            parse_args(["--resume", str(tmp_path / d)])
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "no checkpoint.npz" in err and "no such directory" in err


def test_checkpoint_of_another_architecture_is_refused(tiny, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train.main(tiny_args(tiny, a, "--epochs", "1")) == 0
    assert train.main(tiny_args(tiny, b, "--epochs", "1", "--hidden", "16,8")) == 0
    os.replace(a / "checkpoint.npz", b / "checkpoint.npz")     # a 64-32-4 checkpoint in b's run
    capsys.readouterr()
    assert train.main(["--resume", str(b), "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert "holds a vae 64-32-4" in err and "hidden_dims" in err and "Traceback" not in err


@pytest.mark.parametrize("tool", ["evaluate", "sample"])
def test_tools_report_missing_and_corrupt_checkpoints(tmp_path, tool):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    for target, message in ((tmp_path / "nope", "no such file"), (bad, "not a zip archive"),
                            (tmp_path, "no checkpoint.npz")):
        res = run_cli("-m", f"minivae.{tool}", str(target))
        assert res.returncode == 1 and message in res.stderr and "Traceback" not in res.stderr


def test_sample_writes_a_grid(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    res = run_cli("-m", "minivae.sample", str(out / "checkpoint.npz"), "-n", "9",
                  "--out", str(tmp_path / "grid.png"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


# -- real MNIST ---------------------------------------------------------------

def test_real_mnist_subset(mnist_dir, tmp_path):
    """Two epochs on 2048 real MNIST digits with the default model: the loss falls."""
    from minivae.data import load_mnist
    xt, yt = load_mnist("train", root=mnist_dir)
    xs, ys = load_mnist("test", root=mnist_dir)
    path = tmp_path / "mnist_small.npz"
    np.savez(path, x_train=xt[:2048], y_train=yt[:2048], x_test=xs[:512], y_test=ys[:512])
    out = tmp_path / "run"
    assert train.main(["--dataset", str(path), "--epochs", "2", "--device", "cpu", "--quiet",
                       "--no-plots", "--out", str(out)]) == 0
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["test_loss"]) for r in rows]
    assert losses[1] < losses[0] < 784 * np.log(2)   # below a coin flip per pixel


@pytest.mark.slow
def test_default_command_on_mnist(mnist_dir, tmp_path):
    """The README's numbers: the default command, 10 epochs (about a minute or more)."""
    out = tmp_path / "run"
    assert train.main(["--data-dir", mnist_dir, "--device", "cpu", "--quiet", "--no-plots",
                       "--out", str(out)]) == 0
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert 158 < float(rows[0]["train_loss"]) < 170 and 123 < float(rows[0]["test_loss"]) < 131
    assert 104 < float(rows[-1]["train_loss"]) < 108 and 103.5 < float(rows[-1]["test_loss"]) < 107.5


def test_resume_from_other_directories_with_relative_paths(tiny, tmp_path, monkeypatch):
    data = os.path.dirname(tiny)                        # holds tiny.npz
    other, third = tmp_path / "elsewhere", tmp_path / "third"
    other.mkdir(), third.mkdir()
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    # Restate the dataset and data directory relative to the current directory.
    monkeypatch.chdir(data)
    assert train.main(["--resume", str(out), "--epochs", "2", "--quiet",
                       "--dataset", "tiny.npz", "--data-dir", "."]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"] == os.path.abspath(tiny)
    assert saved["data_dir"] == os.path.abspath(data)
    monkeypatch.chdir(other)
    assert train.main(["--resume", str(out), "--epochs", "3", "--quiet"]) == 0
    monkeypatch.chdir(third)
    assert train.main(["--resume", str(out), "--epochs", "4", "--quiet"]) == 0
    assert load_checkpoint(str(out))[1]["epoch"] == 4


def test_resume_with_fewer_epochs_keeps_the_epochs_done(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "2")) == 0
    assert train.main(["--resume", str(out), "--epochs", "1", "--no-quiet"]) == 0
    assert "already finished 2 epochs" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["epochs"] == 2


def test_out_never_replaces_the_users_files(tiny, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text("my own\n")
    (out / "notes.txt").write_text("keep me\n")
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert "notes.txt" in err and "--out" in err and "--resume" in err and "Traceback" not in err
    assert (out / "config.json").read_text() == "my own\n"
    assert sorted(os.listdir(out)) == ["config.json", "notes.txt"]


def test_out_may_restart_a_run_that_never_finished_an_epoch(tiny, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".minivae-run").write_text("marker\n")         # left by a run killed in epoch 1
    (out / "config.json").write_text("{}\n")
    (out / "metrics.csv").write_text(",".join(METRIC_COLUMNS) + "\n")
    (out / ".minivae-tmp-abc123").write_text("torn")       # a kill mid-write
    (out / ".minivae-lock").write_text("pid 999999 on elsewhere\n")   # a kill -9
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    assert load_checkpoint(str(out))[1]["epoch"] == 1
    assert not (out / ".minivae-tmp-abc123").exists()      # cleaned
    assert not (out / ".minivae-lock").exists()            # released at the end


def test_out_that_is_a_file_or_unwritable_is_a_clear_error(tiny, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert train.main(tiny_args(tiny, afile, "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "afile" in err and "Traceback" not in err
    assert afile.read_text() == "x"
    below = afile / "run"                                   # a directory below a file
    assert train.main(tiny_args(tiny, below, "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):                      # root writes anywhere
            pytest.skip("running as root: no directory is unwritable")
        assert train.main(tiny_args(tiny, locked / "run", "--epochs", "1")) == 1
        err = capsys.readouterr().err
        assert err.startswith("error:") and "Traceback" not in err
    finally:
        locked.chmod(0o700)


# -- evaluate and sample ------------------------------------------------------

def test_tools_share_checkpoint_options():
    from minivae.run import evaluate, sample
    for tool in (evaluate, sample):
        args = tool.build_parser().parse_args(["some/run"])
        assert args.checkpoint == "some/run" and args.device == "auto"


@pytest.mark.parametrize("tool", ["evaluate", "sample"])
def test_tools_without_a_gpu_say_so(tiny, tmp_path, monkeypatch, capsys, tool):
    import importlib
    import minivae.backend
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    monkeypatch.setattr(minivae.backend, "cuda_available", lambda: False)
    capsys.readouterr()
    main = importlib.import_module(f"minivae.{tool}").main
    assert main([str(out), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "NVIDIA GPU" in err


def test_evaluate_refuses_iw_for_an_autoencoder_before_measuring(tiny, tmp_path, monkeypatch,
                                                                 capsys):
    from minivae.run import evaluate
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1", "--model", "ae")) == 0

    def never(*args, **kwargs):
        raise AssertionError("the ELBO was evaluated before --iw was refused")

    monkeypatch.setattr(evaluate, "evaluate_elbo", never)
    capsys.readouterr()
    assert evaluate.main([str(out), "--iw", "5", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --iw needs a VAE")


def test_sample_without_matplotlib_is_a_clear_error(tiny, tmp_path, monkeypatch, capsys):
    from minivae.run import sample
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    monkeypatch.setitem(sys.modules, "minivae.run.plots", None)     # import minivae.run.plots fails
    capsys.readouterr()
    assert sample.main([str(out), "--out", str(tmp_path / "grid.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "matplotlib" in err
    assert not (tmp_path / "grid.png").exists()


def test_train_and_test_images_of_different_shapes_are_refused(tmp_path, capsys):
    data = tmp_path / "mixed.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x_train=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
             x_test=rng.integers(0, 256, (10, 9, 9), dtype=np.uint8))
    assert train.main(tiny_args(str(data), tmp_path / "run", "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "(8, 8)" in err and "(9, 9)" in err


def test_evaluate_speaks_of_an_autoencoder_in_its_own_words(tiny, tmp_path):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1", "--model", "ae")) == 0
    res = run_cli("-m", "minivae.evaluate", str(out), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "reconstructions: MSE" in res.stdout and "per pixel" in res.stdout
    assert "KL" not in res.stdout and "posterior" not in res.stdout and "sample of z" not in res.stdout
