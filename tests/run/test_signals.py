"""SIGTERM stops a run as Ctrl-C does, and Ctrl-C while the commands load prints no traceback.

SIGTERM (kill, timeout, batch schedulers before SIGKILL) used to end a run
at once, without a word; now it finishes the step, keeps the checkpoint,
says how to resume and exits with 143. A Ctrl-C during the imports of
``python -m minivae.train`` printed a KeyboardInterrupt traceback.
"""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minivae.run import train
from minivae.run.runs import load_checkpoint
from minivae.run.signals import StopOnSignal, Terminated

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
needs_sigterm = pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt",
                                   reason="needs POSIX signals")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (400, 8, 8), dtype=np.uint8))
    return str(path)


def args(dataset, out, epochs):
    return ["--dataset", dataset, "--hidden", "32", "--latent-dim", "2", "--batch-size", "4",
            "--epochs", str(epochs), "--device", "cpu", "--threads", "1", "--no-plots",
            "--out", str(out)]


@needs_sigterm
def test_sigterm_finishes_the_step_keeps_the_checkpoint_and_says_how_to_resume(tiny, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "minivae.train", *args(tiny, out, 1000)],
                            env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:                  # the first epoch's line: its checkpoint is saved
        if line.startswith("epoch"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "SIGTERM: stopping after this step" in err and "Stopped by SIGTERM at epoch" in err
    assert f"python -m minivae.train --resume {out}" in err and "Traceback" not in err
    epoch = load_checkpoint(str(out))[1]["epoch"]   # intact, and of a finished epoch
    assert 1 <= epoch < 1000
    assert not (out / ".minivae-lock").exists()     # the lock is let go


@needs_sigterm
def test_sigterm_before_training_aborts_with_143_and_no_traceback(tiny, tmp_path, monkeypatch,
                                                                  capsys):
    real_load = train.load_data

    def load_then_terminated(*a, **k):            # SIGTERM while the data set loads
        data = real_load(*a, **k)
        os.kill(os.getpid(), signal.SIGTERM)
        return data

    monkeypatch.setattr(train, "load_data", load_then_terminated)
    before = signal.getsignal(signal.SIGTERM)
    assert train.main(args(tiny, tmp_path / "run", 1)) == 143
    assert capsys.readouterr().err.strip() == "Aborted."
    assert signal.getsignal(signal.SIGTERM) is before   # the caller's handler is back


@needs_sigterm
def test_the_handler_sets_a_flag_then_a_second_sigterm_aborts():
    def sentinel(signum, frame):
        raise AssertionError("the handler in place before training was called")

    original = signal.signal(signal.SIGTERM, sentinel)
    try:
        with StopOnSignal() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.requested and stop.signum == signal.SIGTERM
            with pytest.raises(Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is sentinel
    finally:
        signal.signal(signal.SIGTERM, original)


@pytest.mark.parametrize("command", ["train", "sample", "evaluate"])
def test_ctrl_c_while_a_command_loads_prints_aborted_not_a_traceback(command):
    # An import hook raises KeyboardInterrupt where the command's own module is
    # imported, as a Ctrl-C pressed during the (slow) imports would.
    code = textwrap.dedent(f"""
        import runpy, sys

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == "minivae.run.{command}":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        runpy.run_module("minivae.{command}", run_name="__main__", alter_sys=True)
    """)
    res = subprocess.run([sys.executable, "-c", code], env=ENV, text=True, capture_output=True,
                         timeout=120)
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr and res.stderr.strip() == "Aborted."
