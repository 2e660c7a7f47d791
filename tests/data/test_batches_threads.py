"""A learner's own loop over BatchIterator chooses its BLAS threads as the commands do
(minivae/fast/threads.py): auto by default, a fixed count on request, and never against a
command's --threads."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from minivae.data import BatchIterator
from minivae.fast import threads


def blas_counts():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture
def load(monkeypatch):
    """A 2-core machine whose other programs keep ``load["others"]`` cores busy."""
    state = {"others": 0.0, "looks": 0}

    def others(meter):
        state["looks"] += 1
        return state["others"]

    monkeypatch.setattr(threads, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(threads, "CHECK_SECONDS", 0.0)
    monkeypatch.setattr(threads.LoadMeter, "others", others)
    monkeypatch.setattr(threads, "_original_count", lambda controllers: 2)
    monkeypatch.setattr(threads, "_our_cores", lambda: [0, 1])
    monkeypatch.setattr(threads, "_LOOP", {})
    monkeypatch.setattr(threads, "_CHOOSER", None)
    yield state
    threads.restore_original()


def images():
    return np.random.default_rng(0).integers(0, 256, (64, 8, 8), dtype=np.uint8)


def test_the_default_loop_uses_one_thread_while_another_program_runs(load):
    load["others"] = 1.0                        # one CPU-bound program on one of the 2 cores
    for _ in BatchIterator(images(), 16):
        assert blas_counts() == {1}
    load["others"] = 0.0                        # it stopped: both cores again
    for _ in BatchIterator(images(), 16):
        pass
    assert blas_counts() == {2}


def test_a_fixed_count_or_none(load):
    load["others"] = 1.0
    for _ in BatchIterator(images(), 16, threads=2):
        assert blas_counts() == {2}             # fixed: the load does not change it
    threads.BlasThreads(2).start()
    threads.restore_original()                  # 2, and no command holds the BLAS any more
    for _ in BatchIterator(images(), 16, threads=None):
        assert blas_counts() == {2}             # None: left as it is


def test_a_commands_choice_stands(load):
    """The train command's --threads 2 (a BlasThreads it started) is not undone by its loop."""
    load["others"] = 1.0
    threads.BlasThreads(2).start()
    for _ in BatchIterator(images(), 16):
        assert blas_counts() == {2}


def test_one_look_at_the_load_per_batch_at_most_and_one_controller_per_process(load):
    it = BatchIterator(images(), 16)
    for _ in range(3):                          # three epochs, 4 batches each
        list(it)
    for _ in BatchIterator(images(), 16):      # a new iterator each epoch, as the notebook does
        pass
    assert list(threads._LOOP) == ["auto"]
    assert load["looks"] <= 2 + 4 * 4           # the first look (two readings), one per batch


def test_a_bad_thread_count_is_refused_when_the_iterator_is_built():
    with pytest.raises(Exception, match="'auto' or a positive integer"):
        BatchIterator(images(), 16, threads=0)
