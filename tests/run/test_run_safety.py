"""Nothing lost, nothing half-written: the run directory, its lock, and runs that go wrong.

One test (or more) per finding of a fault campaign against minivae: a user's
directory taken for a run, two runs in one directory, ``sample --out`` over a
checkpoint, losses that explode while staying finite, a 1-D latent space in
the figures, unreadable checkpoints, full disks, files left by kills.
"""

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minivae.run import evaluate, sample, train
from minivae.run.rundir import LOCK, MARKER, RunError, RunLock
from minivae.run.run_tables import read_metrics
from minivae.run.runs import load_checkpoint
from minivae.files.serialize import load_npz, save_npz

from conftest import make_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("data") / "tiny.npz")


def tiny_args(dataset, out, *extra):
    return ["--dataset", dataset, "--hidden", "32", "--latent-dim", "4", "--batch-size", "32",
            "--device", "cpu", "--no-plots", "--quiet", "--out", str(out), *extra]


def start(*args):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "minivae.train", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def snapshot(directory):
    """name -> bytes of every file in ``directory``."""
    return {p: open(os.path.join(directory, p), "rb").read() for p in sorted(os.listdir(directory))}


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """A finished 2-epoch run, copied fresh for each test that changes it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "2")) == 0
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    import shutil
    return shutil.copytree(trained, tmp_path / "run")


# -- --out: only a directory minivae made -------------------------------------

def test_a_directory_of_the_users_files_named_like_run_files_is_never_written(tiny, tmp_path,
                                                                              capsys):
    out = tmp_path / "mine"
    out.mkdir()
    for name in ("config.json", "metrics.csv", "loss_curves.png"):
        (out / name).write_text(f"my own {name}\n")
    before = snapshot(out)
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not made by minivae" in err and "Traceback" not in err
    assert snapshot(out) == before                          # nothing replaced, nothing added


def test_a_new_run_marks_its_directory(tiny, trained):
    assert (trained / MARKER).is_file()
    assert not (trained / LOCK).exists()                    # released when the run ended


# -- the lock -------------------------------------------------------------------

def test_the_lock_excludes_a_second_holder_and_is_released(tmp_path):
    with RunLock(tmp_path) as lock:
        assert f"pid {os.getpid()}" in (tmp_path / LOCK).read_text()
        with pytest.raises(RunError, match=rf"in use by another training run \(pid {os.getpid()}"):
            RunLock(tmp_path).__enter__()
        assert lock.note is None
    assert not (tmp_path / LOCK).exists()
    with RunLock(tmp_path):                                 # free again
        pass


def test_two_runs_started_at_once_on_one_out_one_is_refused(tiny, tmp_path):
    out = tmp_path / "run"
    args = tiny_args(tiny, out, "--epochs", "15")
    a, b = start(*args), start(*args)
    (rc_a, _, err_a), (rc_b, _, err_b) = [(p.wait(60), *p.communicate()) for p in (a, b)]
    assert sorted([rc_a, rc_b]) == [0, 1], (err_a, err_b)
    refused = err_a if rc_a == 1 else err_b
    # Refused by the lock, or (if the winner was quicker) by the checkpoint it wrote.
    assert ("in use by another training run" in refused or "already holds a run" in refused)
    assert refused.startswith("error:") and "Traceback" not in refused
    rows = read_metrics(str(out))
    assert [r["epoch"] for r in rows] == list(range(1, 16))    # one run's epochs, in order
    assert load_checkpoint(str(out))[1]["epoch"] == 15


def wait_for(predicate, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("timed out")


def test_resume_is_refused_while_the_run_lives_and_a_killed_runs_lock_is_taken_over(
        tiny, tmp_path):
    out = tmp_path / "run"
    proc = start(*tiny_args(tiny, out, "--epochs", "200"))
    wait_for(lambda: (out / "checkpoint.npz").exists(), proc)
    metrics_before = (out / "metrics.csv").read_text()
    busy = start("--resume", str(out))
    rc, _, err = busy.wait(60), *busy.communicate()
    assert rc == 1 and f"pid {proc.pid}" in err and "Traceback" not in err
    proc.send_signal(signal.SIGKILL)                 # leaves its lock file behind
    proc.wait(30)
    assert f"pid {proc.pid}" in (out / LOCK).read_text()
    assert (out / "metrics.csv").read_text().startswith(metrics_before)   # nothing cut away
    done = load_checkpoint(str(out))[1]["epoch"]
    again = start("--resume", str(out), "--epochs", str(done + 1))
    rc, _, err = again.wait(60), *again.communicate()
    assert rc == 0, err
    assert "took over the lock" in err and f"pid {proc.pid}" in err
    assert not (out / LOCK).exists()


# -- sample --out ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["checkpoint.npz", "config.json", "metrics.csv",
                                  "loss_curves.png", "notes.txt"])
def test_sample_out_never_replaces_a_run_file(run_copy, capsys, name):
    pytest.importorskip("matplotlib")
    (run_copy / "notes.txt").write_text("mine\n")
    before = snapshot(run_copy)
    assert sample.main([str(run_copy), "--out", str(run_copy / name), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --out") and "Traceback" not in err
    assert snapshot(run_copy) == before


# -- evaluate --per-image and --predictions --------------------------------------------

@pytest.mark.parametrize("option", ["--per-image", "--predictions"])
@pytest.mark.parametrize("name", ["metrics.csv", "reconstructions.csv", "latents.csv",
                                  "config.json", "notes.txt", "mine.csv"])
def test_evaluate_tables_never_replace_a_run_file_or_one_of_the_users(run_copy, capsys, option,
                                                                      name):
    (run_copy / "notes.txt").write_text("mine\n")
    (run_copy / "mine.csv").write_text("a,b\n1,2\n")
    before = snapshot(run_copy)
    assert evaluate.main([str(run_copy), option, str(run_copy / name), "--device", "cpu"]) == 1
    out = capsys.readouterr()
    assert out.err.startswith(f"error: {option} {run_copy / name}") and "Traceback" not in out.err
    assert out.out == "" and snapshot(run_copy) == before        # refused before any work


def test_evaluate_tables_replace_their_own_and_not_each_other(run_copy, tmp_path, capsys):
    scores, table = tmp_path / "scores.csv", tmp_path / "prediction.csv"
    assert evaluate.main([str(run_copy), "--per-image", str(scores), "--device", "cpu"]) == 0
    assert evaluate.main([str(run_copy), "--per-image", str(scores), "--predictions", str(table),
                          "--device", "cpu"]) == 0             # an old table of evaluate's: replaced
    assert table.read_text().startswith("row_id,orig_px0,")
    capsys.readouterr()
    assert evaluate.main([str(run_copy), "--per-image", str(scores), "--predictions",
                          str(scores), "--device", "cpu"]) == 1
    assert capsys.readouterr().err == (f"error: --per-image and --predictions both name {scores}; "
                                       "give each its own file\n")
    assert evaluate.main([str(run_copy), "--predictions", str(tmp_path), "--device", "cpu"]) == 1
    assert capsys.readouterr().err == (f"error: --predictions {tmp_path} is a directory; give a "
                                       "file name, e.g. scores.csv\n")


def test_sample_out_replaces_an_old_grid_and_reports_write_errors(run_copy, tmp_path, capsys,
                                                                   monkeypatch):
    pytest.importorskip("matplotlib")
    grid = tmp_path / "grid.png"
    assert sample.main([str(run_copy), "--out", str(grid), "--device", "cpu", "-n", "4"]) == 0
    assert sample.main([str(run_copy), "--out", str(grid), "--device", "cpu", "-n", "9"]) == 0
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    capsys.readouterr()
    assert sample.main([str(run_copy), "--out", str(blocker / "grid.png"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and "Traceback" not in err

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("minivae.files.serialize.os.fsync", full)
    old = grid.read_bytes()
    assert sample.main([str(run_copy), "--out", str(grid), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {grid}" in err and "is full" in err and "free some space" in err
    assert grid.read_bytes() == old and sorted(os.listdir(tmp_path)) == ["afile", "grid.png", "run"]


# -- divergence ----------------------------------------------------------------------

def test_a_finite_explosion_stops_the_run(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    args = tiny_args(tiny, out, "--epochs", "3", "--lr", "10", "--dtype", "float64",
                     "--hidden", "48", "--batch-size", "128")
    assert train.main(args) == 1                  # the campaign's case: finite, 1e9 and more
    err = capsys.readouterr().err
    assert "the loss exploded to" in err and "at epoch 1, step" in err and "diverged" in err
    assert "no checkpoint was written" in err and "A smaller --lr usually helps" in err
    assert not (out / "checkpoint.npz").exists()


def test_an_explosion_after_a_resume_keeps_the_checkpoint_and_does_not_advise_lr(
        run_copy, monkeypatch, capsys):
    ckpt = run_copy / "checkpoint.npz"
    before = snapshot(run_copy)
    real = train.VAE.loss_and_grads

    def exploding(self, x, eps=None, input_grad=False):
        loss, parts = real(self, x, eps, input_grad)
        return loss * 1e12, parts                         # finite, and absurd

    monkeypatch.setattr(train.VAE, "loss_and_grads", exploding)
    capsys.readouterr()
    assert train.main(["--resume", str(run_copy), "--epochs", "4", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "exploded" in err and "epoch 3, step 1" in err
    assert "last good checkpoint (epoch 2)" in err
    assert "A smaller --lr usually helps" not in err and "keeps its --lr" in err
    after = snapshot(run_copy)
    assert after["checkpoint.npz"] == before["checkpoint.npz"] and ckpt.exists()
    assert after["metrics.csv"] == before["metrics.csv"]


def test_nan_in_the_optimizer_state_is_refused_on_resume(run_copy, capsys):
    ckpt = run_copy / "checkpoint.npz"
    arrays, meta = load_npz(ckpt)
    key = next(k for k in arrays if k.startswith("optim/v."))
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] = np.nan
    save_npz(ckpt, arrays, meta)
    before = snapshot(run_copy)
    assert train.main(["--resume", str(run_copy), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert key in err and "optimizer state" in err and "NaN" in err and "Traceback" not in err
    assert snapshot(run_copy) == before


# -- figures ---------------------------------------------------------------------------

def test_latent_dim_1_draws_every_figure_and_the_report(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    args = [a for a in tiny_args(tiny, out, "--epochs", "1") if a != "--no-plots"]
    args[args.index("--latent-dim") + 1] = "1"
    assert train.main(args) == 0
    for name in ("latent_space.png", "manifold.png", "samples.png", "report.html"):
        assert (out / name).stat().st_size > 1000, name


def test_the_report_is_replaced_atomically(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from minivae.run.plots import write_report
    row = {"epoch": 1, "test_loss": 100.0, "psnr": 20.0, "ssim": 0.8, "mse": 0.01}
    write_report(tmp_path, {"lr": 1e-3}, [row], {})
    before = (tmp_path / "report.html").read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("minivae.files.serialize.os.fsync", full)
    with pytest.raises(OSError, match="report.html: the disk holding"):
        write_report(tmp_path, {"lr": 2e-3}, [{**row, "epoch": 2}], {})
    assert (tmp_path / "report.html").read_bytes() == before
    assert os.listdir(tmp_path) == ["report.html"]


# -- unreadable checkpoints, full disks, leftovers ----------------------------------------

@pytest.mark.parametrize("tool", ["evaluate", "sample"])
def test_an_unreadable_checkpoint_is_not_called_corrupt(run_copy, monkeypatch, capsys, tool):
    import importlib
    import builtins
    real_open = builtins.open

    def no_permission(path, *args, **kwargs):
        if os.fspath(path).endswith("checkpoint.npz"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_permission)
    main = importlib.import_module(f"minivae.{tool}").main
    assert main([str(run_copy), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "permission denied" in err and "may be intact" in err
    assert "corrupt" not in err and "truncated" not in err


def test_a_full_disk_names_the_file_and_says_how_to_continue(run_copy, monkeypatch, capsys):
    before = (run_copy / "checkpoint.npz").read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("minivae.files.serialize.os.fsync", full)
    capsys.readouterr()
    assert train.main(["--resume", str(run_copy), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "error: cannot write" in err and "is full" in err and "[Errno" not in err
    assert f"--resume {run_copy}" in err and "Traceback" not in err
    assert (run_copy / "checkpoint.npz").read_bytes() == before


def test_a_resume_removes_temporaries_of_a_kill_and_only_those(run_copy):
    (run_copy / ".minivae-tmp-k1ll3d00").write_bytes(b"half a checkpoint")
    (run_copy / ".tmp-mine").write_text("the user's\n")
    assert train.main(["--resume", str(run_copy), "--epochs", "3", "--quiet"]) == 0
    assert not (run_copy / ".minivae-tmp-k1ll3d00").exists()
    assert (run_copy / ".tmp-mine").read_text() == "the user's\n"


def test_a_resume_rewrites_reconstructions_left_an_epoch_behind(run_copy, tiny, tmp_path):
    one = tmp_path / "one"
    assert train.main(tiny_args(tiny, one, "--epochs", "1")) == 0
    current = (run_copy / "reconstructions.csv").read_bytes()
    # A kill after epoch 2's checkpoint, before its reconstructions.csv:
    (run_copy / "reconstructions.csv").write_bytes((one / "reconstructions.csv").read_bytes())
    assert current != (run_copy / "reconstructions.csv").read_bytes()
    assert train.main(["--resume", str(run_copy), "--quiet"]) == 0      # nothing left to train
    assert (run_copy / "reconstructions.csv").read_bytes() == current


def test_a_checkpoint_and_config_of_two_runs_are_not_resumed_together(run_copy, tiny, tmp_path,
                                                                      capsys):
    other = tmp_path / "other"
    assert train.main(tiny_args(tiny, other, "--epochs", "1", "--seed", "7", "--lr", "0.002")) == 0
    (run_copy / "config.json").write_bytes((other / "config.json").read_bytes())
    before = snapshot(run_copy)
    capsys.readouterr()
    assert train.main(["--resume", str(run_copy), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "come from different runs" in err and "seed: checkpoint 1, config.json 7" in err
    assert "lr: checkpoint 0.001, config.json 0.002" in err
    assert snapshot(run_copy) == before


def test_a_checkpoint_of_a_conv_model_in_a_dense_run_is_refused_naming_the_arch(
        run_copy, tiny, tmp_path, capsys):
    conv = tmp_path / "conv"
    assert train.main(tiny_args(tiny, conv, "--epochs", "1", "--arch", "conv", "--channels",
                                "4")) == 0
    (run_copy / "checkpoint.npz").write_bytes((conv / "checkpoint.npz").read_bytes())
    before = snapshot(run_copy)
    capsys.readouterr()
    assert train.main(["--resume", str(run_copy), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "they differ in arch: checkpoint 'conv', config 'dense'. A checkpoint only resumes " \
           "the run that wrote it" in err and "Traceback" not in err
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_resume_goes_on_when_metrics_csv_was_deleted_or_emptied(run_copy, capsys, damage):
    metrics = run_copy / "metrics.csv"
    metrics.unlink() if damage == "deleted" else metrics.write_text("")
    assert train.main(["--resume", str(run_copy), "--epochs", "3", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"note: {metrics} holds the rows of 0 of the 2 epochs done" in err
    assert "Traceback" not in err
    assert [r["epoch"] for r in read_metrics(str(run_copy))] == [3]
    assert metrics.read_text().startswith("epoch,train_loss,")


# -- nothing outside the run: a file of the run that is a symbolic link ---------------

SECRET = "the user's own file, outside the run\n"


def outside_file(tmp_path, content=SECRET):
    target = tmp_path / "outside" / "precious.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return target


@pytest.mark.parametrize("how", ["new run", "resume"])
def test_a_lock_that_is_a_symbolic_link_is_refused_and_its_target_untouched(
        tiny, trained, tmp_path, capsys, how):
    target = outside_file(tmp_path)
    if how == "new run":
        out = tmp_path / "fresh"
        out.mkdir()
        (out / MARKER).write_text("made by minivae\n")   # a run killed before its first epoch
        args = tiny_args(tiny, out, "--epochs", "1")
    else:
        import shutil
        out = shutil.copytree(trained, tmp_path / "run", symlinks=True)
        args = ["--resume", str(out), "--epochs", "3", "--quiet"]
    os.symlink(target, out / LOCK)
    assert train.main(args) == 1
    outerr = "".join(capsys.readouterr())
    assert "symbolic link" in outerr and str(out / LOCK) in outerr and "Traceback" not in outerr
    assert SECRET.strip() not in outerr                   # the target is never printed
    assert target.read_text() == SECRET                   # ... nor truncated or written
    assert os.path.islink(out / LOCK)                     # and the link is left for the user


def test_a_dangling_lock_link_is_refused_and_nothing_is_created_through_it(tmp_path):
    target = tmp_path / "outside" / "would-be-created"
    target.parent.mkdir()
    os.symlink(target, tmp_path / LOCK)
    with pytest.raises(RunError, match="symbolic link"):
        RunLock(tmp_path).__enter__()
    assert not target.exists()


def test_a_lock_made_a_link_between_the_check_and_the_open_is_still_not_followed(
        tmp_path, monkeypatch):
    """O_NOFOLLOW closes the window that an lstat check alone leaves open."""
    target = outside_file(tmp_path)
    os.symlink(target, tmp_path / LOCK)
    monkeypatch.setattr(RunLock, "_refuse_a_link", lambda self: None, raising=True)
    with pytest.raises((RunError, Exception)) as e:
        RunLock(tmp_path).__enter__()
    assert "Traceback" not in str(e.value)
    assert target.read_text() == SECRET


RUN_FILES = ["checkpoint.npz", "config.json", "metrics.csv", "reconstructions.csv",
             "report.html", "loss_curves.png", MARKER]


@pytest.mark.parametrize("name", RUN_FILES)
def test_every_file_of_a_run_that_is_a_link_outside_is_never_modified_or_printed(
        tiny, tmp_path_factory, tmp_path, capsys, name):
    """Each file a run reads or writes, made a link to a copy outside: resume leaves the copy."""
    pytest.importorskip("matplotlib")
    base = tmp_path_factory.getbasetemp() / "plotted-run"
    if not base.exists():          # one run with figures and report, shared by the cases
        args = [a for a in tiny_args(tiny, base, "--epochs", "1") if a != "--no-plots"]
        assert train.main(args) == 0
        capsys.readouterr()
    import shutil
    run = shutil.copytree(base, tmp_path / "run")
    if not (run / name).exists():
        pytest.fail(f"the run wrote no {name}; the list of the run's files is out of date")
    target = outside_file(tmp_path, (run / name).read_bytes())
    before = target.read_bytes()
    (run / name).unlink()
    os.symlink(target, run / name)
    rc = train.main(["--resume", str(run), "--epochs", "2", "--quiet"])
    outerr = "".join(capsys.readouterr())
    assert "Traceback" not in outerr
    assert target.read_bytes() == before, f"resume wrote through the link {name}"
    if name in ("config.json", "metrics.csv", "reconstructions.csv"):
        assert before[:200].decode(errors="replace").strip() not in outerr
    assert rc in (0, 1)
