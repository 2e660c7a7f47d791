"""Ctrl-C and SIGTERM during ``sample`` and ``evaluate``: one line, the signal's status, no
half-written file.

Both commands used to end in a KeyboardInterrupt traceback (SIGTERM: no word
at all), and ``evaluate --predictions`` wrote its CSV in place, so an abort
left part of it. Now the line says what was interrupted and which files were
written, the status is 130 (Ctrl-C) or 143 (SIGTERM) as for ``train``, and
every file is written atomically: whole, or not at all.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from minivae.run import train
from minivae.files.serialize import TMP_PREFIX

from conftest import make_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
pytestmark = pytest.mark.skipif(os.name == "nt", reason="needs POSIX signals")

SIGNALS = {"Ctrl-C": (signal.SIGINT, 130, "Interrupted"),
           "SIGTERM": (signal.SIGTERM, 143, "Stopped by SIGTERM")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished one-epoch run on 8x8 blobs, 200 test images."""
    where = tmp_path_factory.mktemp("interrupted")
    data = make_tiny(where / "tiny.npz", n_train=64, n_test=200)
    assert train.main(["--dataset", data, "--hidden", "32", "--latent-dim", "2", "--epochs", "1",
                       "--batch-size", "32", "--device", "cpu", "--threads", "1", "--no-plots",
                       "--quiet", "--out", str(where / "run")]) == 0
    return str(where / "run")


def start(command, *argv, code=None):
    """``python -m minivae.COMMAND argv`` (or ``python -c code``), its output read as it comes.

    SIGINT is put back to its default in the child: a shell running the tests in
    the background would otherwise pass it on ignored, and Ctrl-C would do nothing.
    """
    line = ["-c", code] if code else ["-m", f"minivae.{command}"]
    return subprocess.Popen([sys.executable, *line, *argv], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def temporary_files(folder):
    return [name for name in os.listdir(folder) if name.startswith(TMP_PREFIX)]


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_evaluate_stopped_during_iw_names_what_and_the_file_it_finished(run, tmp_path, name):
    signum, status, what = SIGNALS[name]
    scores = tmp_path / "scores.csv"
    proc = start("evaluate", run, "--per-image", str(scores), "--iw", "1000000",
                 "--threads", "1")                     # --iw: about a minute on 200 images
    for line in proc.stdout:                           # the scores are written: --iw begins
        if line.startswith("  no anomalies marked"):
            break
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert err.strip() == (f"{what} while estimating -log p(x) with --iw 1000000; {scores} was "
                           "written in full, and no file is left half-written.")
    assert len(scores.read_text().splitlines()) == 1 + 200
    assert temporary_files(tmp_path) == []


# The signal arrives at the last moment a file could be left in part: its bytes
# written, not yet renamed into place (files/serialize.py's atomic_file).
SIGNAL_AT_FSYNC = """
    import os, runpy, signal, sys
    fsync = os.fsync

    def fsync_then_signal(fd):
        fsync(fd)
        os.kill(os.getpid(), {signum})

    os.fsync = fsync_then_signal
    sys.argv[0] = "{command}"
    runpy.run_module("minivae.{command}", run_name="__main__", alter_sys=True)
"""


def run_with_signal_at_fsync(command, signum, *argv):
    code = textwrap.dedent(SIGNAL_AT_FSYNC.format(command=command, signum=int(signum)))
    proc = start(command, *argv, code=code)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode, err.strip()


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_sample_interrupted_while_writing_leaves_no_grid(run, tmp_path, name):
    signum, status, what = SIGNALS[name]
    grid = tmp_path / "grid.png"
    rc, err = run_with_signal_at_fsync("sample", signum, run, "-n", "16", "--out", str(grid),
                                       "--threads", "1")
    assert rc == status, err
    assert err == (f"{what} while drawing 16 samples; {grid} was not written, and no file is "
                   "left half-written.")
    assert not grid.exists() and temporary_files(tmp_path) == []


def test_sample_interrupted_while_replacing_a_grid_keeps_the_old_one(run, tmp_path):
    grid = tmp_path / "grid.png"
    assert subprocess.run([sys.executable, "-m", "minivae.sample", run, "-n", "4", "--out",
                           str(grid), "--threads", "1"], env=ENV, capture_output=True,
                          timeout=120).returncode == 0
    before = grid.read_bytes()
    rc, err = run_with_signal_at_fsync("sample", signal.SIGINT, run, "-n", "16", "--out",
                                       str(grid), "--threads", "1")
    assert rc == 130 and f"{grid} was left as it was, and no file is left half-written" in err
    assert grid.read_bytes() == before and temporary_files(tmp_path) == []


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_evaluate_interrupted_while_writing_predictions_leaves_no_csv(run, tmp_path, name):
    signum, status, what = SIGNALS[name]
    predictions = tmp_path / "prediction.csv"
    rc, err = run_with_signal_at_fsync("evaluate", signum, run, "--predictions",
                                       str(predictions), "--threads", "1")
    assert rc == status, err
    assert err == (f"{what} while writing the predictions; {predictions} was not written, and "
                   "no file is left half-written.")
    assert not predictions.exists() and temporary_files(tmp_path) == []


def test_ctrl_c_before_any_file_says_nothing_was_written(run, tmp_path):
    # Ctrl-C while the test loss is measured, the first thing evaluate computes.
    proc = start("evaluate", run, "--iw", "1000000", "--threads", "1")
    for line in proc.stdout:
        if line.startswith(run):                       # the header: the test loss comes next
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().startswith("Interrupted while ")
    assert err.strip().endswith("; no file was written.")
