"""The commands refuse what an input asks for beyond the memory budget, naming the option.

Every size of issue 23's point 3 used to end in a traceback (NumPy's
_ArrayMemoryError, or the TOML parser's RecursionError): each is now one line
that says what was asked, what it needs, the budget, and what lowers it,
before anything large is allocated (tracemalloc measures the peak of each,
the tiny data set included). Beside them, what the data set becomes in
training (its float copy), a deep hidden list, sample -n and evaluate --iw.
run/budget.py's estimate of a step is checked against measured steps.
"""

import os
import tracemalloc

import numpy as np
import pytest

import minivae
from minivae import evaluate, sample
from minivae.files import budget
from minivae.run import train
from minivae.run.budget import check_evaluation, step_bytes

from conftest import make_tiny

MiB = 1 << 20


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("budget") / "tiny.npz", n_train=64, n_test=16)


def command_at_peak(main, argv, capsys):
    """(exit status, stderr, peak bytes allocated) of main(argv)."""
    tracemalloc.start()
    try:
        status = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return status, err, peak


def train_args(tiny, tmp_path, *extra):
    return ["--dataset", tiny, "--epochs", "1", "--batch-size", "32", "--device", "cpu",
            "--no-plots", "--quiet", "--threads", "1", "--out", str(tmp_path / "run"), *extra]


def toml(tmp_path, text):
    path = tmp_path / "big.toml"
    path.write_text(text)
    return ["--config", str(path)]


CASES = {   # issue 23, point 3: each used to be a traceback. The tiny images are 8x8.
    "--k 10000 --batch-size 1000": (["--k", "10000", "--batch-size", "1000"], None,
                                    "--k 10000 with --batch-size 1000 needs", "lower one of them"),
    "hidden = [1000000000]": ([], "hidden = [1000000000]\n",
                              "--batch-size 32 and --hidden 1000000000 needs",
                              "lower one of them"),
    "latent_dim = 10**12": ([], "latent_dim = 1000000000000\n",
                            "--batch-size 32 and --latent-dim 1000000000000 needs",
                            "lower one of them"),
    "conv channels = [10**6, 10**6]": ([], 'arch = "conv"\nhidden = []\n'
                                       "channels = [1000000, 1000000]\n",
                                       "--batch-size 32 and --channels 1000000,1000000 needs",
                                       "lower one of them"),
    "k = 10**9": ([], "k = 1000000000\n", "--k 1000000000 with --batch-size 32 needs",
                  "lower one of them"),
    "--hidden 100000,100000": (["--hidden", "100000,100000"], None,
                               "(the largest, enc1.W, 100,000 x 100,000) needs",
                               "lower --hidden 100000,100000"),
    "--latent-dim 10000000": (["--latent-dim", "10000000"], None,
                              "--batch-size 32 and --latent-dim 10000000 needs",
                              "lower one of them"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_campaigns_sizes_are_refused_before_allocating(case, tiny, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.setenv(budget.ENV, str(8 << 30))            # 8 GiB, on any machine
    argv, text, asked, lower = CASES[case]
    args = train_args(tiny, tmp_path, *argv) + (toml(tmp_path, text) if text else [])
    status, err, peak = command_at_peak(train.main, args, capsys)
    assert status == 1, err
    assert asked in err and lower in err, err
    assert "more than the memory budget of 8 GiB ($MINIVAE_MAX_DATA_BYTES)" in err, err
    assert peak < 16 * MiB
    assert not os.path.exists(tmp_path / "run")            # refused before the run began


def test_a_toml_nested_100000_deep_is_an_option_error(tiny, tmp_path, capsys):
    args = train_args(tiny, tmp_path) + toml(tmp_path, "a = " + "[" * 10**5 + "]" * 10**5)
    with pytest.raises(SystemExit) as info:
        train.main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "nest too deeply" in err and "Traceback" not in err


def test_a_long_hidden_list_is_refused_before_its_layers_are_built(tiny, tmp_path, capsys,
                                                                     monkeypatch):
    """hidden = [1] * 10**6 (a 2 MB TOML) used 5.8 GB for 300 s; 30,000 layers here, under
    a budget of 64 MiB, with a batch of 32 (1000 test images at a time: at least 16 KB a layer)."""
    monkeypatch.setenv(budget.ENV, str(64 * MiB))
    args = train_args(tiny, tmp_path) + toml(tmp_path, "hidden = [" + "1, " * 30000 + "]\n")
    status, err, peak = command_at_peak(train.main, args, capsys)
    assert status == 1 and "a model of 60,003 layers needs" in err, err
    assert "use fewer layers in --hidden 1,1,1,1,1,1,... (30,000 layers)" in err
    assert peak < 16 * MiB


@pytest.mark.parametrize("dtype, hint", [("float32", ""), ("float64", " or --dtype float32")])
def test_a_data_set_is_counted_as_the_floats_training_holds(tmp_path, capsys, monkeypatch,
                                                            dtype, hint):
    """1.25 MiB of uint8 pixels pass a 4 MiB cap as a file, but training holds them as floats."""
    path = str(tmp_path / "many.npy")
    np.save(path, np.random.default_rng(0).integers(0, 256, (20480, 8, 8), dtype=np.uint8))
    monkeypatch.setenv(budget.ENV, str(4 * MiB))
    args = train_args(path, tmp_path, "--dtype", dtype)
    status, err, peak = command_at_peak(train.main, args, capsys)
    assert status == 1, err
    assert f"(1,310,720 pixels, trained on as {dtype}) needs" in err
    assert f"train on fewer or smaller images{hint}" in err
    assert peak < MiB                                        # not even loaded


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    """A finished run of a 64-2000-2 VAE on 2000 test images."""
    where = tmp_path_factory.mktemp("wide")
    data = make_tiny(where / "tiny.npz", n_train=64, n_test=2000)
    assert train.main(["--dataset", data, "--epochs", "1", "--batch-size", "32", "--hidden",
                       "2000", "--latent-dim", "2", "--device", "cpu", "--no-plots", "--quiet",
                       "--threads", "1", "--out", str(where / "run")]) == 0
    return str(where / "run")


def test_sample_n_a_billion_is_refused(wide_run, capsys):
    status, err, peak = command_at_peak(sample.main, [wide_run, "-n", "1000000000", "--out",
                                                      os.path.join(wide_run, "..", "g.png"),
                                                      "--device", "cpu"], capsys)
    assert status == 1 and "-n 1,000,000,000 needs" in err and "lower -n" in err, err
    assert peak < 64 * MiB                                   # the checkpoint, matplotlib's import


def test_evaluate_iw_with_a_large_batch_is_refused_naming_the_batch(wide_run, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv(budget.ENV, str(100 * MiB))
    argv = [wide_run, "--device", "cpu", "--threads", "1", "--iw", "10"]
    status, err, peak = command_at_peak(evaluate.main, argv + ["--batch-size", "2000"], capsys)
    assert status == 1, err
    assert "--iw 10 with --batch-size 2000 needs" in err and "lower --batch-size (to 500" in err
    assert peak < 16 * MiB
    assert evaluate.main(argv + ["--batch-size", "100"]) == 0   # 500 rows at a time: it fits


def test_evaluation_counts_the_test_set_itself(monkeypatch):
    monkeypatch.setenv(budget.ENV, str(128 * MiB))
    model = minivae.VAE(input_dim=784, hidden_dims=(16,), latent_dim=2)
    with pytest.raises(budget.OverBudget, match="the 100,000 test images needs"):
        check_evaluation(model, 100_000, None, 100)
    check_evaluation(model, 10_000, 100, 100)


def measured_step(model, batch):
    """Peak bytes allocated by the first training step of ``batch`` rows (fresh caches)."""
    x = np.random.default_rng(0).random((batch, model.input_dim)).astype(model.dtype)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    model.loss_and_grads(x)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("name, make, batch", [
    ("VAE 784-400-20", lambda: minivae.VAE(), 128),
    ("VAE float64 784-512-256-20", lambda: minivae.VAE(hidden_dims=(512, 256),
                                                      dtype="float64"), 64),
    ("IWAE k=10", lambda: minivae.IWAE(k=10), 64),
    ("IWAE elbo k=20", lambda: minivae.IWAE(k=20, objective="elbo"), 32),
    ("Autoencoder", lambda: minivae.Autoencoder(hidden_dims=(400,), latent_dim=20), 128),
    ("conv VAE 1x28x28", lambda: minivae.VAE(arch="conv", hidden_dims=(), latent_dim=16), 64),
    ("conv VAE 3x32x32", lambda: minivae.VAE(arch="conv", image_shape=(3, 32, 32),
                                            input_dim=None, hidden_dims=(256,), latent_dim=16,
                                            channels=(32, 64, 128)), 32),
    ("200 layers of 4", lambda: minivae.VAE(input_dim=64, hidden_dims=[4] * 200,
                                            latent_dim=2), 128),
])
def test_the_step_estimate_bounds_a_measured_step(name, make, batch):
    """Never below what a step allocates, and within 5x of it: the budget refuses what
    cannot run, not what can."""
    model = make()
    estimate = step_bytes(model, batch, getattr(model, "k", 1))
    peak = measured_step(model, batch)
    assert peak <= estimate <= 5 * peak, (name, peak, estimate)
