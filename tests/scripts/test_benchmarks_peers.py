"""The speed benchmarks added for busy machines and peers: they run, and measure what they say.

The timings depend on the machine and are not asserted; what is: JAX trains
the same model on the same batches as minivae, the floors do exactly the
products they stand for, and each script runs end to end on a few steps.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import minivae

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks")
sys.path[:0] = [BENCH, os.path.join(BENCH, "speed")]
import common  # noqa: E402  (benchmarks/common.py)
import peers  # noqa: E402  (benchmarks/speed/peers.py)


def run(script, *args):
    """Run benchmarks/<script> (e.g. "speed/busy.py") as a command, on synthetic data."""
    env = {**os.environ, "MINIVAE_DATA_DIR": ""}
    return subprocess.run([sys.executable, os.path.join(BENCH, script), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_jax_flags_pin_one_thread():
    assert common.jax_flags(1) == "--xla_cpu_multi_thread_eigen=false"
    assert common.jax_flags(2) == ""                    # XLA's default: a thread per core


@pytest.mark.skipif(not peers.jax_available(), reason="JAX not installed (the 'jax' extra)")
def test_jax_side_trains_the_same_model_on_minivae_batches():
    x = common.load_train_images(None, 256)[0]                       # (256, 784)
    side = peers.JaxSide(x, 64)
    mv = peers.MinivaeSide(x, 64)
    # The same batches, in the same order: both read a BatchIterator seeded 1.
    np.testing.assert_array_equal(next(iter(side.batches)), next(iter(mv.batches)))
    first = float(side.step())                                      # nats per image at init
    ours = float(mv.model.loss(x[:64])[0])
    assert abs(first - ours) < 0.02 * ours, (first, ours)           # ~784 log 2 + a little KL
    losses = [side.epoch() for _ in range(3)]
    assert losses[-1] < first - 50                                  # and it learns


def test_iw_floor_does_the_forward_products_of_the_estimate():
    import eval_speed
    model = minivae.VAE()
    floor = eval_speed.iw_floor(model, n_images=150, k=7, batch_size=100, k_chunk=5)
    done = floor()
    # images 100 + 50: encoder once per batch; decoder on 5 then 2 samples per batch
    assert len(done) == 2 * (1 + 2)
    dec_flops = 2 * (20 * 400 + 400 * 784)
    floor_obj = common.GemmFloor([("dec0", 20, 400), ("out", 400, 784)], [500], forward_only=True)
    assert floor_obj.flops[500] == 500 * dec_flops and len(floor_obj.plans[500]) == 2


def test_eval_speed_runs_end_to_end():
    r = run("speed/eval_speed.py", "--threads", "1", "--rounds", "1", "--iw", "3", "--iw-images", "20")
    assert r.returncode == 0, r.stderr
    assert "per-epoch measurement:" in r.stdout and "of the epoch" in r.stdout
    assert "--iw 3: 20 images" in r.stdout and "GEMM floor" in r.stdout


def test_busy_runs_both_phases_and_states_its_claims():
    r = run("speed/busy.py", "--steps", "3", "--rounds", "1")
    assert r.returncode in (0, 1), r.stderr                        # 1: a claim not met
    for text in ("quiet: others kept", "busy: others kept", "claim: busy, default <= 1 thread",
                 "claim: quiet, default <= fastest fixed setting", "auto chose"):
        assert text in r.stdout


def test_scaling_runs_end_to_end():
    pytest.importorskip("torch", reason="PyTorch not installed (the 'bench' extra)")
    r = run("speed/scaling.py", "--threads", "1", "--batch-sizes", "32", "--widths", "400;16,16",
            "--images", "64", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    lines = [line.split() for line in r.stdout.splitlines() if line[:5].strip().isdigit()]
    assert [(line[0], line[1]) for line in lines] == [("32", "400"), ("128", "400"),
                                                       ("128", "16x16")]
