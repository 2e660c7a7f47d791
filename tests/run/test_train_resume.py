"""Stopping and resuming a run: SIGKILL, Ctrl-C (SIGINT), and a loss that turns NaN.

The claim under test: on the CPU, a run stopped at any moment and resumed
with --resume writes the same metrics.csv (all but the ``seconds`` column)
and the same final parameters as a run that was never stopped.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minivae.run import epoch, train
from minivae.run.runs import load_checkpoint
from minivae.vae import VAE

from conftest import make_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCHS = 30


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("data") / "tiny.npz")


def tiny_args(dataset, out, epochs=EPOCHS):
    # --binarize: the resumed run must also repeat the binarization noise.
    return ["--dataset", dataset, "--hidden", "48", "--latent-dim", "4", "--batch-size", "16",
            "--binarize", "--device", "cpu", "--no-plots", "--out", str(out),
            "--epochs", str(epochs)]


def start(*args):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "minivae.train", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for_epochs(proc, run_dir, n, timeout=30):
    """Return once run_dir's checkpoint holds epoch >= n (the process still running)."""
    path = os.path.join(run_dir, "checkpoint.npz")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be stopped: " + proc.stderr.read()
        if os.path.exists(path):
            try:
                if load_checkpoint(run_dir)[1]["epoch"] >= n:
                    return
            except Exception:    # caught between writes: never a torn file, but be patient
                pass
        time.sleep(0.002)
    raise AssertionError(f"no checkpoint of epoch {n} after {timeout} s")


def metrics_without_seconds(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        rows = list(csv.reader(f))
    return [row[:-1] for row in rows]      # "seconds" is the last column


def params(run_dir):
    arrays, _ = load_checkpoint(run_dir)
    return {k: v for k, v in arrays.items() if k.startswith(("param/", "optim/"))}


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """An uninterrupted run, in a subprocess like the interrupted ones."""
    out = tmp_path_factory.mktemp("ref") / "run"
    rc, _, err = finish(start(*tiny_args(tiny, out)))
    assert rc == 0, err
    return str(out)


def assert_same_run(run_dir, reference):
    assert metrics_without_seconds(run_dir) == metrics_without_seconds(reference)
    a, b = params(run_dir), params(reference)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny, tmp_path, reference):
    out = str(tmp_path / "run")
    # Kill twice at different moments, resuming in between, then let it finish.
    proc = start(*tiny_args(tiny, out))
    wait_for_epochs(proc, out, 1)
    proc.send_signal(signal.SIGKILL)
    assert finish(proc)[0] == -signal.SIGKILL
    # A kill between an epoch's metrics row and its checkpoint leaves one row
    # too many, possibly cut short: the resume must drop it.
    done = load_checkpoint(out)[1]["epoch"]
    with open(os.path.join(out, "metrics.csv"), "a") as f:
        f.write(f"{done + 1},1.0,1.0,0.0,1.0,1.0,0.0,20.0,0.5,0.01,0.1\n{done + 2},99.")
    proc = start("--resume", out)
    wait_for_epochs(proc, out, 3)
    time.sleep(0.01)                        # somewhere in a later epoch, or mid-write
    proc.send_signal(signal.SIGKILL)
    assert finish(proc)[0] == -signal.SIGKILL
    assert load_checkpoint(out)[1]["epoch"] < EPOCHS
    rc, stdout, err = finish(start("--resume", out))
    assert rc == 0, err
    assert "Resuming" in stdout
    assert_same_run(out, reference)


def test_sigint_stops_cleanly_and_resumes(tiny, tmp_path, reference):
    out = str(tmp_path / "run")
    proc = start(*tiny_args(tiny, out))
    wait_for_epochs(proc, out, 2)
    proc.send_signal(signal.SIGINT)
    rc, _, err = finish(proc)
    assert rc == 130, err
    assert "Interrupted at epoch" in err and f"python -m minivae.train --resume {out}" in err
    assert "Traceback" not in err
    _, meta = load_checkpoint(out)          # intact, and of a finished epoch
    assert 2 <= meta["epoch"] < EPOCHS
    assert len(metrics_without_seconds(out)) == 1 + meta["epoch"]
    rc, _, err = finish(start("--resume", out))
    assert rc == 0, err
    assert_same_run(out, reference)


def test_ctrl_c_handler_sets_a_flag_then_aborts():
    def sentinel(signum, frame):                    # the handler in place before training
        raise AssertionError("the sentinel handler was called")

    original = signal.signal(signal.SIGINT, sentinel)
    try:
        with train.StopOnSignal() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.requested                   # the first press only asks to stop
            with pytest.raises(KeyboardInterrupt):  # the second aborts at once
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is sentinel   # the caller's handler is back
    finally:
        signal.signal(signal.SIGINT, original)


def test_raising_epochs_continues_the_same_run(tiny, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train.main(tiny_args(tiny, a, epochs=2) + ["--quiet"]) == 0
    assert train.main(["--resume", str(a), "--epochs", "4", "--quiet"]) == 0
    assert train.main(tiny_args(tiny, b, epochs=4) + ["--quiet"]) == 0
    assert_same_run(str(a), str(b))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, epochs=1) + ["--quiet"]) == 0
    ckpt = out / "checkpoint.npz"
    before, mtime = ckpt.read_bytes(), ckpt.stat().st_mtime_ns

    # From the 3rd step of epoch 2 on, the loss and every gradient are NaN.
    real, calls = VAE.loss_and_grads, []

    def poisoned(self, x, eps=None, input_grad=False):
        loss, parts = real(self, x, eps, input_grad)
        calls.append(1)
        if len(calls) >= 3:
            self.grads.flat[...] = np.nan
            loss = loss * np.nan
        return loss, parts

    monkeypatch.setattr(VAE, "loss_and_grads", poisoned)
    capsys.readouterr()
    assert train.main(["--resume", str(out), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "became nan at epoch 2, step 3 of 32" in err
    assert "last good checkpoint (epoch 1)" in err and "Traceback" not in err
    assert ckpt.read_bytes() == before and ckpt.stat().st_mtime_ns == mtime
    assert len(metrics_without_seconds(out)) == 2          # header + epoch 1


def test_diverging_run_never_writes_a_nan_checkpoint(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    args = tiny_args(tiny, out, epochs=3) + ["--quiet", "--lr", "1e6"]
    assert train.main(args) == 1
    err = capsys.readouterr().err
    assert "at epoch 1" in err and "step" in err and "smaller --lr" in err
    assert "no checkpoint was written" in err
    assert not (out / "checkpoint.npz").exists()     # it diverged within epoch 1


@pytest.mark.parametrize("test_loss", ["nan", "finite"])
def test_nan_parameters_after_an_epoch_are_never_saved(tiny, tmp_path, monkeypatch, capsys,
                                                       test_loss):
    """Finite losses in every step, yet NaN parameters at the end of epoch 2."""
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, epochs=1) + ["--quiet"]) == 0
    ckpt = out / "checkpoint.npz"
    before, mtime = ckpt.read_bytes(), ckpt.stat().st_mtime_ns

    real_epoch = train.train_epoch

    def epoch_that_poisons(model, *rest):
        stats = real_epoch(model, *rest)
        model.params.flat[:3] = np.nan                 # after the epoch's last (finite) step
        return stats

    monkeypatch.setattr(train, "train_epoch", epoch_that_poisons)
    if test_loss == "finite":   # only the check of the parameters themselves can stop it
        monkeypatch.setattr(epoch, "test_set_metrics", lambda *a, **k: (
            {"loss": 1.0, "recon": 1.0, "kl": 0.0}, {"mse": 0.0, "psnr": 0.0, "ssim": 0.0}))
    capsys.readouterr()
    assert train.main(["--resume", str(out), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "the parameters became NaN or infinite in epoch 2" in err
    assert "last good checkpoint (epoch 1)" in err and "Traceback" not in err
    assert ckpt.read_bytes() == before and ckpt.stat().st_mtime_ns == mtime
    assert len(metrics_without_seconds(out)) == 2          # header + epoch 1
    VAE.load(str(ckpt))                                    # still loads: no NaN in it
