"""--model cvae on the command line: training on labels, the class grid, sample --label, exact
resume after kill -9 in the middle of a KL warm-up, and every bad label or option refused by name."""

import csv
import os
import re
import signal

import numpy as np
import pytest

from minivae import CVAE
from minivae.run import sample, train
from minivae.run.runs import load_checkpoint, load_model

from conftest import make_tiny
from test_train_resume import finish, params, start, wait_for_epochs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("data") / "tiny.npz")


def cvae_args(dataset, out, epochs=3, *extra):
    return ["--dataset", dataset, "--model", "cvae", "--hidden", "32", "--latent-dim", "3",
            "--batch-size", "32", "--device", "cpu", "--threads", "1", "--out", str(out),
            "--epochs", str(epochs), *extra]


def test_a_cvae_trains_on_the_labels_and_draws_its_class_grid(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cvae_args(tiny, out, 2, "--kl-warmup", "1", "--free-bits", "0.05")) == 0
    printed = capsys.readouterr().out
    assert "Training a CVAE 64-32-3-32-64 (relu, bernoulli likelihood, beta 1, 4 classes)" in printed
    assert ("  KL:     beta 0 -> 1 over 1 epoch (--kl-warmup); 0.05 nats free per dimension "
            "(--free-bits)") in printed
    assert all(len(line) <= 100 for line in printed.splitlines() if str(out) not in line)
    assert f"python -m minivae.sample {out} --label 7" in printed
    model, _, _ = load_model(str(out))
    assert type(model) is CVAE and model.num_classes == 4 and model.free_bits == 0.05
    assert model.params["enc0.W"].shape == (64 + 4, 32) and model.params["dec0.W"].shape == (3 + 4, 32)
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["train_beta"]) for r in rows] == [pytest.approx(1 - 1 / 16), 1.0]
    assert float(rows[1]["train_kl_penalty"]) >= 3 * 0.05 - 1e-7    # beta 1: >= Z lambda
    with open(out / "latents.csv") as f:
        latents = list(csv.reader(f))
    assert latents[0] == ["epoch", "active_units", "kl", "kl_1", "kl_2", "kl_3"]
    assert [r[0] for r in latents[1:]] == ["1", "2"]
    kl = np.array(latents[1:], dtype=float)
    assert np.allclose(kl[:, 3:].sum(axis=1), kl[:, 2]) and np.all(kl[:, 3:] >= 0)
    assert np.allclose(kl[:, 2], [float(r["test_kl"]) for r in rows], rtol=1e-5)
    for figure in ("class_grid", "latent_kl", "reconstructions", "manifold", "interpolation"):
        assert (out / f"{figure}.png").stat().st_size > 1000, figure
    report = (out / "report.html").read_text()
    assert 'id="explorer-class"' in report and "Every class in one style" in report

    assert sample.main([str(out), "--label", "2", "-n", "9", "--out", str(tmp_path / "a.png")]) == 0
    assert sample.main([str(out), "-n", "12", "--out", str(tmp_path / "b.png")]) == 0
    printed = capsys.readouterr().out
    assert "wrote 9 samples of class 2 to" in printed and "one row per class 0 to 3" in printed


def test_sample_label_out_of_range_names_the_option(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cvae_args(tiny, out, 1, "--no-plots", "--quiet")) == 0
    assert sample.main([str(out), "--label", "12", "--out", str(tmp_path / "a.png")]) == 1
    assert "--label 12: this model has 4 classes, labels 0 to 3" in capsys.readouterr().err
    vae = tmp_path / "vae"
    assert train.main(["--dataset", tiny, "--hidden", "8", "--latent-dim", "2", "--epochs", "1",
                       "--no-plots", "--quiet", "--out", str(vae)]) == 0
    assert sample.main([str(vae), "--label", "1", "--out", str(tmp_path / "b.png")]) == 1
    assert "--label is for a conditional VAE" in capsys.readouterr().err


def labelled(tmp_path, name, **arrays):
    rng = np.random.default_rng(0)
    images = {k: rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
              for k, n in (("x_train", 64), ("x_test", 16))}
    path = tmp_path / name
    np.savez(path, **{**images, **arrays})
    return str(path)


@pytest.mark.parametrize("arrays, extra, message", [
    ({}, (), "--model cvae trains on each image's label, and the training images of"),
    ({"y_train": np.r_[np.arange(63) % 10, 12], "y_test": np.arange(16) % 10},
     ("--num-classes", "10"), "training labels of .* run from 0 to 12, outside 0..9 "
                              r"\(--num-classes 10\)"),
    ({"y_train": np.arange(64) % 3, "y_test": np.r_[np.arange(15) % 3, -1]}, (),
     r"test labels of .* run from -1 to 2, outside 0..2 \(3 classes, from the training labels\)"),
    ({"y_train": np.arange(60) % 3, "y_test": np.arange(16) % 3}, (),
     r"labels must be \(N,\) = \(64,\) integers, one per image .* --model cvae trains on them"),
], ids=["no-labels", "above-num-classes", "negative", "count-mismatch"])
def test_bad_labels_are_refused_naming_the_option(tmp_path, capsys, arrays, extra, message):
    data = labelled(tmp_path, "d.npz", **arrays)
    assert train.main(cvae_args(data, tmp_path / "run", 1, "--no-plots", *extra)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err


@pytest.mark.parametrize("args, message", [
    (("--model", "cvae", "--free-bits", "-1"), "argument --free-bits: must be a finite number >= 0"),
    (("--kl-warmup", "5", "--epochs", "3"), "--kl-warmup 5 is longer than the run (--epochs 3)"),
    (("--kl-warmup", "-2"), "argument --kl-warmup: must be an integer >= 0"),
    (("--num-classes", "10"), "--num-classes 10 is for --model cvae"),
    (("--model", "ae", "--free-bits", "0.5"), "--free-bits 0.5 needs a VAE"),
    (("--objective", "iwae", "--kl-warmup", "2"), "--kl-warmup 2 acts on the ELBO's analytic"),
    (("--k", "5", "--free-bits", "0.5"), "--free-bits 0.5 acts on the analytic KL of the one-"),
    (("--model", "cvae", "--k", "5"), "a cvae trains on the one-sample ELBO"),
    (("--model", "gan",), "argument --model: invalid choice: 'gan'"),
])
def test_bad_options_are_refused_naming_the_option(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        train.main(list(args))
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_a_k_sample_elbo_warms_its_kl_up_too(tiny, tmp_path):
    """The k-sample ELBO's KL is analytic, as the one-sample ELBO's: its weight rises."""
    run = tmp_path / "run"
    assert train.main(["--dataset", tiny, "--k", "3", "--objective", "elbo", "--kl-warmup", "2",
                       "--hidden", "16", "--latent-dim", "2", "--batch-size", "32", "--epochs",
                       "2", "--threads", "1", "--quiet", "--no-plots", "--out", str(run)]) == 0
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    betas = [float(row["train_beta"]) for row in rows]
    assert 0 < betas[0] < betas[1] <= 1.0


def test_toml_keys_are_checked_like_the_options(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("model = 'cvae'\nfree_bits = -0.5\n")
    with pytest.raises(SystemExit):
        train.main(["--config", str(bad)])
    assert "key 'free_bits': must be a finite number >= 0" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text("model = 'cvae'\nkl_warmup = 2\nfree_bits = 0.25\nnum_classes = 4\n"
                    "epochs = 2\n")
    from minivae.run.train_cli import parse_args
    cfg, _ = parse_args(["--config", str(good)])
    assert (cfg.model, cfg.kl_warmup, cfg.free_bits, cfg.num_classes) == ("cvae", 2, 0.25, 4)


def test_resume_after_sigkill_in_the_middle_of_the_warmup(tiny, tmp_path):
    """A CVAE with a 20-epoch KL warm-up (and free bits) killed at epoch 3 or later, twice,
    resumes to exactly the numbers of a run that was never stopped."""
    extra = ("--kl-warmup", "20", "--free-bits", "0.02", "--binarize", "--no-plots",
             "--batch-size", "16")
    ref = tmp_path / "ref"
    rc, _, err = finish(start(*cvae_args(tiny, ref, 25, *extra)), timeout=120)
    assert rc == 0, err
    out = str(tmp_path / "run")
    proc = start(*cvae_args(tiny, out, 25, *extra))
    wait_for_epochs(proc, out, 3)
    proc.send_signal(signal.SIGKILL)
    assert finish(proc)[0] == -signal.SIGKILL
    done = load_checkpoint(out)[1]["epoch"]
    assert done < 20                                    # still warming up
    with open(os.path.join(out, "latents.csv"), "a") as f:   # a row written after the checkpoint
        f.write(f"{done + 1},1,0.5,0.1,0.2,0.2\n{done + 2},3,0.")
    proc = start("--resume", out)
    wait_for_epochs(proc, out, done + 2)
    proc.send_signal(signal.SIGKILL)
    assert finish(proc)[0] == -signal.SIGKILL
    rc, stdout, err = finish(start("--resume", out), timeout=120)
    assert rc == 0, err
    assert "Resuming a CVAE" in stdout

    def table(run, name):
        with open(os.path.join(run, name), newline="") as f:
            return list(csv.reader(f))
    # metrics.csv without "seconds" (train_beta and train_kl_penalty follow it)
    a, b = table(out, "metrics.csv"), table(str(ref), "metrics.csv")
    seconds = a[0].index("seconds")
    strip = lambda rows: [r[:seconds] + r[seconds + 1:] for r in rows]   # noqa: E731
    assert strip(a) == strip(b)
    assert [float(r[a[0].index("train_beta")]) for r in a[1:20]] != [1.0] * 19
    assert table(out, "latents.csv") == table(str(ref), "latents.csv")
    pa, pb = params(out), params(str(ref))
    assert pa.keys() == pb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
