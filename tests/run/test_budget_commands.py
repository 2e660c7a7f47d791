"""The commands refuse what an input asks for beyond the memory budget, naming the option.

Every size of issue 23's point 3 used to end in a traceback (NumPy's
_ArrayMemoryError, or the TOML parser's RecursionError): each is now one line
that says what was asked, what it needs, the budget, and what lowers it,
before anything large is allocated (tracemalloc measures the peak of each,
the tiny data set included). Beside them, what the data set becomes in
training (its float copy), a deep hidden list, sample -n, evaluate --iw,
--iw-sweep (5000 log-weights of each image of a batch) and --per-image (the
scores of every test image). The estimates of a step (run/budget.py), a
sweep's batch and the scores (run/trained_budget.py) are checked against what
they measure; --predictions is written a batch at a time, and its peak is
shown not to grow with the rows.
"""

import os
import tracemalloc

import numpy as np
import pytest

import minivae
from minivae import evaluate, sample
from minivae.files import budget
from minivae.run import train
from minivae.run.anomaly import per_image_scores, reconstructed_batches, write_predictions
from minivae.run.budget import EVAL_ROWS, step_bytes
from minivae.run.trained_budget import (SWEEP_COPIES, _per_image_work, _sweep_work,
                                        check_evaluation)
from minivae.run.evaluation import eval_generator
from minivae.run.sweep import SWEEP_KS, iw_sweep

from conftest import make_tiny, peak_bytes

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


def test_evaluate_iw_sweep_with_a_large_batch_is_refused_naming_the_batch(wide_run, capsys,
                                                                          monkeypatch):
    """5000 log-weights of each of 2000 images, float64 and counted 3 times: 240 MB."""
    monkeypatch.setenv(budget.ENV, str(100 * MiB))
    argv = [wide_run, "--device", "cpu", "--threads", "1", "--iw-sweep", "--batch-size", "2000"]
    status, err, peak = command_at_peak(evaluate.main, argv + ["--sweep-images", "all"], capsys)
    assert status == 1, err
    assert "--iw-sweep (5,000 samples of each image) with --batch-size 2000 needs" in err
    assert "10,000,000 log-weights" in err and "lower --batch-size" in err
    assert peak < 16 * MiB
    assert evaluate.main(argv + ["--sweep-images", "4"]) == 0   # a batch of 4 images fits


@pytest.mark.parametrize("n, batch", [(40, 40), (300, 100), (30, 1)])
def test_the_sweep_estimate_bounds_a_measured_sweep(n, batch):
    model = minivae.VAE(input_dim=64, hidden_dims=(32,), latent_dim=2, seed=0)
    x = (np.random.default_rng(0).random((n, 64)) > 0.5).astype(np.float32)
    _, peak = peak_bytes(lambda: iw_sweep(model, x, rng=eval_generator(model, 0),
                                          batch_size=batch))
    estimate = _sweep_work(model, n, batch)[0]
    assert peak <= estimate <= 5 * peak, (peak, estimate)


def test_the_sweep_holds_two_copies_of_its_log_weights():
    """The peak grows by 8 K B bytes about twice per image of a batch (2.0 to 2.1 measured,
    SWEEP_COPIES counts 3): the log-weights joined and one array of exponentials (log_sums),
    no softmax or copy of 2 log w beside them (4 copies when they were)."""
    model = minivae.VAE(input_dim=64, hidden_dims=(32,), latent_dim=2, seed=0)
    peaks = {}
    for b in (50, 100):
        x = (np.random.default_rng(0).random((b, 64)) > 0.5).astype(np.float32)
        _, peaks[b] = peak_bytes(lambda: iw_sweep(model, x, rng=eval_generator(model, 0),
                                                  batch_size=b))
    copies = (peaks[100] - peaks[50]) / (8 * max(SWEEP_KS) * 50)
    assert 1.9 < copies < 2.5 < SWEEP_COPIES, copies


@pytest.fixture(scope="module")
def small_images_run(tmp_path_factory):
    """A run on 2x2 images with 200,000 test images: their scores outweigh the images."""
    where = tmp_path_factory.mktemp("small_images")
    rng = np.random.default_rng(0)
    path = where / "small.npz"
    np.savez(path, x_train=rng.integers(0, 256, (64, 2, 2), dtype=np.uint8),
             y_train=np.zeros(64, dtype=np.uint8),
             x_test=rng.integers(0, 256, (200_000, 2, 2), dtype=np.uint8),
             y_test=np.zeros(200_000, dtype=np.uint8))
    assert train.main(["--dataset", str(path), "--epochs", "1", "--batch-size", "32", "--hidden",
                       "4", "--latent-dim", "2", "--device", "cpu", "--no-plots", "--quiet",
                       "--threads", "1", "--out", str(where / "run")]) == 0
    return str(where / "run")


def test_evaluate_per_image_counts_every_test_images_scores(small_images_run, tmp_path, capsys,
                                                            monkeypatch):
    """4 MB of images fit a 12 MiB budget; with the 13 MB of their scores they do not."""
    monkeypatch.setenv(budget.ENV, str(12 * MiB))
    argv = [small_images_run, "--device", "cpu", "--threads", "1"]
    scores = tmp_path / "scores.csv"
    status, err, peak = command_at_peak(evaluate.main, argv + ["--per-image", str(scores)],
                                        capsys)
    assert status == 1, err
    assert "--per-image (200,000 test images scored) needs" in err
    assert "for the scores and a batch" in err               # the training labels alone are read
    assert "leave it out, or evaluate on fewer images (--dataset FILE)" in err
    assert peak < 8 * MiB and not scores.exists()      # the uint8 file, no float or score yet
    assert evaluate.main(argv) == 0                    # the same evaluation without it fits


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_per_image_estimate_bounds_the_scores(dtype):
    model = minivae.VAE(input_dim=4, hidden_dims=(4,), latent_dim=2, seed=0, dtype=dtype)
    x = np.random.default_rng(0).random((50_000, 4)).astype(dtype)
    _, peak = peak_bytes(lambda: per_image_scores(model, x, eval_generator(model, 0)))
    estimate = _per_image_work(model, len(x), step_bytes(model, EVAL_ROWS))[0]
    assert peak <= estimate <= 5 * peak, (peak, estimate)


def test_predictions_are_written_a_batch_at_a_time(tmp_path):
    """Bounded already: the peak does not grow with the rows, and stays under the
    estimate of the ELBO's batch that check_evaluation counts. (Written whole, the
    (N, 1 + 2D) float64 table of 16,000 rows alone would be 4.2 MB.)"""
    model = minivae.VAE(input_dim=16, hidden_dims=(8,), latent_dim=2, seed=0)
    peaks = {}
    for n in (2000, 16000):
        x = np.random.default_rng(0).random((n, 16)).astype(np.float32)
        _, peaks[n] = peak_bytes(lambda: write_predictions(tmp_path / "p.csv",
                                                           reconstructed_batches(model, x)))
    assert peaks[16000] < peaks[2000] + MiB / 4, peaks
    assert peaks[16000] < step_bytes(model, EVAL_ROWS), peaks
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 16000


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
