"""BLAS threads chosen on purpose (minivae/fast/threads.py): fixed counts, auto following the
load, the --threads option of every command, and the count given back afterwards."""

import argparse
import subprocess
import sys
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from minivae.fast import threads
from minivae.run import train
from minivae.run.train_cli import parse_args

from conftest import make_tiny


def blas_counts():
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture(autouse=True)
def give_back():
    yield
    threads.restore_original()


def test_thread_count_parses_auto_and_positive_integers():
    assert threads.thread_count("auto") == "auto" and threads.thread_count(" AUTO ") == "auto"
    assert threads.thread_count("3") == 3 and threads.thread_count(2) == 2
    for bad in ("0", "-1", "two", "1.5", 0, True):
        with pytest.raises(argparse.ArgumentTypeError, match="'auto' or a positive integer"):
            threads.thread_count(bad)


def test_a_fixed_count_is_set_in_the_blas():
    assert blas_counts(), "no BLAS found by threadpoolctl"
    t = threads.BlasThreads(1).start()
    assert set(blas_counts().values()) == {1} and t.describe() == "1"
    threads.restore_original()
    assert set(blas_counts().values()) == set(threads._ORIGINAL.values())


@pytest.mark.parametrize("others, cores, most, expected", [
    (0.0, 2, 2, 2), (0.3, 2, 2, 2),      # idle, or short bursts of others: every core
    (0.7, 2, 2, 1), (1.0, 2, 2, 1),      # one competing program on 2 cores: 1 thread
    (2.0, 2, 2, 1), (5.0, 2, 2, 1),      # never fewer than one
    (1.0, 8, 8, 7), (0.0, 8, 4, 4),      # never more than the BLAS's own count
])
def test_threads_for_load_uses_the_free_cores(others, cores, most, expected):
    assert threads.threads_for_load(others, most, cores) == expected


def test_auto_follows_the_measured_load(monkeypatch):
    readings = iter([9.9, 0.0, 1.0, 1.0, 0.1])     # the first opens the window: ignored
    monkeypatch.setattr(threads, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(threads, "CHECK_SECONDS", 0.0)
    monkeypatch.setattr(threads.LoadMeter, "others", lambda self: next(readings))
    monkeypatch.setattr(threads, "_original_count", lambda controllers: 2)
    monkeypatch.setattr(threads, "_our_cores", lambda: [0, 1])
    t = threads.BlasThreads("auto").start()
    assert t.current == 2 and set(blas_counts().values()) == {2}
    assert t.news() == ""                                   # the first setting is no news
    t.tick()
    assert t.current == 1 and set(blas_counts().values()) == {1}
    t.tick()                                                # still busy: no change
    assert [n for _, n in t.history] == [2, 1]
    assert "auto changed to 1; other programs are using" in t.news()
    t.tick()
    assert t.current == 2 and "are no longer using" in t.news() and t.news() == ""


def test_auto_waits_between_looks(monkeypatch):
    calls = []
    monkeypatch.setattr(threads, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(threads.LoadMeter, "others", lambda self: calls.append(1) or 0.0)
    t = threads.BlasThreads("auto").start()
    for _ in range(1000):
        t.tick()                                            # within CHECK_SECONDS of the first look
    assert len(calls) == 2                                  # the window opened, the first look


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_load_meter_sees_another_process_and_not_this_one():
    meter = threads.LoadMeter()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        others = meter.others()
    finally:
        busy.kill()
        busy.wait()
    assert others >= 0.5, f"a CPU-bound process counted as {others:.2f} cores"
    # This process's own work is taken out: what is left is bounded by the other processes.
    meter.others()
    end = time.perf_counter() + 0.5
    x = np.random.default_rng(0).random((300, 300))
    while time.perf_counter() < end:
        x @ x
    assert meter.others() < len(meter.cores)


def test_train_takes_threads_and_keeps_them_on_resume(tmp_path, capsys):
    assert parse_args([])[0].threads == "auto"
    assert parse_args(["--threads", "1"])[0].threads == 1
    with pytest.raises(SystemExit):
        parse_args(["--threads", "zero"])
    assert "--threads" in capsys.readouterr().err
    tiny = make_tiny(tmp_path / "tiny.npz")
    out = tmp_path / "run"
    args = ["--dataset", tiny, "--hidden", "16", "--latent-dim", "2", "--batch-size", "64",
            "--device", "cpu", "--no-plots", "--out", str(out), "--epochs", "1"]
    assert train.main(args + ["--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "  threads: 1; --threads N fixes it" in printed
    assert '"threads": 1' in (out / "config.json").read_text()
    # given back after the run: every BLAS that was loaded when the run chose its threads (a
    # BLAS another library loads later, such as SciPy's own OpenBLAS, never had them changed)
    assert {lib: n for lib, n in blas_counts().items() if lib in threads._ORIGINAL} == \
        threads._ORIGINAL
    # --threads may change on --resume: it changes the speed, not what is trained
    assert train.main(["--resume", str(out), "--epochs", "2", "--threads", "auto"]) == 0
    assert "  threads: auto, now " in capsys.readouterr().out


@pytest.mark.parametrize("tool", ["evaluate", "sample"])
def test_evaluate_and_sample_refuse_a_bad_thread_count(tool):
    r = subprocess.run([sys.executable, "-m", f"minivae.{tool}", "run", "--threads", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--threads" in r.stderr and "positive integer" in r.stderr
