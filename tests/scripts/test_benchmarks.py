"""The benchmark scripts run, fail when they should, and count what they claim.

The timings themselves are not tested (they depend on the machine); what is:
every script starts from the repository root and benchmarks/README.md names
every file, the GEMM floor does exactly the step's products, speed.py runs
end to end and writes its JSON, --device cuda without a GPU says so, and
loss_curve.py passes a curve inside the band and fails one outside it.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minivae
from minivae.backend import cuda_available

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks")
sys.path[:0] = [BENCH, os.path.join(BENCH, "reference")]
import common  # noqa: E402  (benchmarks/common.py)
import loss_curve  # noqa: E402  (benchmarks/reference/loss_curve.py)


def run(script, *args, env=None):
    """Run benchmarks/<script> (e.g. "speed/speed.py") as a command, from anywhere."""
    return subprocess.run([sys.executable, os.path.join(BENCH, script), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


SCRIPTS = sorted(os.path.relpath(os.path.join(folder, f), BENCH)
                 for folder, _, files in os.walk(BENCH) for f in files
                 if f.endswith(".py") and "__main__" in open(os.path.join(folder, f)).read())


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_starts_from_the_repository_root(script):
    """`python benchmarks/<kind>/<script>.py` finds its neighbours and benchmarks/common.py."""
    if script.startswith("reference" + os.sep) and script != os.path.join("reference", "loss_curve.py"):
        pytest.importorskip("torch", reason="PyTorch not installed (the 'bench' extra)")
    args = [] if script.endswith("trace_step.py") else ["--help"]     # trace_step takes no options
    r = subprocess.run([sys.executable, os.path.join("benchmarks", script), *args],
                       capture_output=True, text=True, cwd=os.path.dirname(BENCH))
    assert r.returncode == 0, r.stderr


def test_the_readme_names_every_file_of_benchmarks():
    """benchmarks/README.md's index: each script and data file, by its path under benchmarks/."""
    readme = open(os.path.join(BENCH, "README.md")).read()
    missing = [os.path.relpath(os.path.join(folder, f), BENCH)
               for folder, _, files in os.walk(BENCH) for f in files
               if f.endswith((".py", ".sh", ".csv", ".png")) and "__pycache__" not in folder
               and os.path.relpath(folder, BENCH).split(os.sep)[:2] != ["paper", "iwae"]]
    missing = [f for f in missing if f"`{f}`" not in readme]
    assert not missing, f"benchmarks/README.md does not name {missing}"


def test_gemm_floor_does_the_products_of_one_step():
    model = minivae.VAE(input_dim=784, hidden_dims=(400,), latent_dim=20)
    shapes = common.dense_shapes(model.params)
    assert shapes == [("enc0", 784, 400), ("mu", 400, 20), ("logvar", 400, 20),
                      ("dec0", 20, 400), ("out", 400, 784)]
    floor = common.GemmFloor(shapes, [128, 96])
    # forward and dW for every layer, dx for all but the first: 2 + 3 * 4 = 14 GEMMs
    assert len(floor.plans[128]) == 14
    per_image = 2 * (784 * 400 * 2 + (400 * 20 * 3) * 2 + 20 * 400 * 3 + 400 * 784 * 3)
    assert floor.flops[128] == 128 * per_image and floor.flops[96] == 96 * per_image
    floor.step(96)
    x, W, out = floor.plans[96][0]
    np.testing.assert_allclose(out, x @ W, rtol=1e-5)


def test_epoch_batch_sizes():
    assert common.epoch_batch_sizes(60000, 128)[-2:] == [128, 96]
    assert len(common.epoch_batch_sizes(60000, 128)) == 469
    assert common.epoch_batch_sizes(1000, 100, steps=3) == [100, 100, 100]


def test_speed_runs_end_to_end_and_writes_json(tmp_path):
    pytest.importorskip("torch", reason="PyTorch not installed (the 'bench' extra)")
    out = tmp_path / "speed.json"
    r = run("speed/speed.py", "--threads", "1", "--steps", "3", "--epochs-each", "1",
            "--memory-steps", "0", "--json", str(out), env={"MINIVAE_DATA_DIR": ""})
    assert r.returncode == 0, r.stderr
    assert "GEMM floor" in r.stdout and "minivae (NumPy)" in r.stdout
    result = json.loads(out.read_text())["results"][0]
    assert result["batch_size"] == 128 and result["steps_per_epoch"] == 3
    assert result["ratio_to_torch"] > 0 and result["ratio_to_floor"] > 0


def test_speed_memory_child_reports_peak_and_increase():
    r = run("speed/speed.py", "--memory-of", "minivae", "--threads", "1", "--memory-steps", "2",
            env={"MINIVAE_DATA_DIR": ""})
    assert r.returncode == 0, r.stderr
    mem = json.loads(r.stdout.strip().splitlines()[-1])
    assert mem["peak_rss_mb"] > 0 and mem["train_rss_mb"] is not None
    assert 0 < mem["train_rss_mb"] < mem["peak_rss_mb"]


@pytest.mark.skipif(cuda_available(), reason="a GPU is present")
def test_speed_on_cuda_without_a_gpu_says_so():
    pytest.importorskip("torch", reason="PyTorch not installed (the 'bench' extra)")
    r = run("speed/speed.py", "--device", "cuda", "--steps", "2", env={"MINIVAE_DATA_DIR": ""})
    assert r.returncode != 0
    assert "no CUDA device" in r.stderr


def test_speed_cuda_table_prints_the_floors_and_each_batch_sizes_target(capsys):
    """The GPU half's table, from rows shaped as run_cuda makes them (summarize, floors),
    without a GPU: the target line of each batch size judges its own ratio."""
    import speed                                  # benchmarks/speed/, on sys.path through conftest
    side = {"device_ms_per_step": 0.8, "device_queued_in_time": True,
            "launches": {"kernels": 41.0, "copies": 0.0, "memsets": 1.0},
            "launch_floor_host_s": 0.9, "launch_floor_device_s": 0.1}
    costs = {"cupy_raw_launch_host_us": 3.0, "cupy_elementwise_host_us": 6.0,
             "torch_elementwise_host_us": 5.0, "empty_kernel_device_us": 1.5,
             "empty_kernel_queued_in_time": True}
    rows = []
    for B, minivae_s, steps in ((128, 1.1, 469), (1024, 0.5, 59)):
        row = speed.summarize({"minivae": [minivae_s], "unfused": [2.0], "torch": [1.0],
                               "floor": [0.25]}, B, steps, flops_per_step=1e9)
        row["memory"] = {"minivae": {"device_peak_mb": 30.0}, "torch": {"device_peak_mb": 40.0}}
        row["floors"] = {"gemm_device_ms_per_step": 0.2, "gemm_device_queued_in_time": True,
                         "gemm_device_s_per_epoch": 0.1, "minivae": side, "unfused": side,
                         "torch": side}
        rows.append(row)
    info = {"device": "cuda", "threads": 1, "data": "synthetic", "numpy": "2", "torch": "2",
            "machine": "test", "load_average": None, "launch_costs": costs}
    speed.print_table(argparse.Namespace(device="cuda", threads=1), rows, info)
    out = capsys.readouterr().out
    assert "GEMMs alone, GPU time: 0.200 ms/step" in out and "minivae, unfused" in out
    assert "target at batch 128: minivae's epoch <= 1.0x PyTorch eager's: 1.10x, not met" in out
    assert "target at batch 1024: minivae's epoch <= 0.6x PyTorch eager's: 0.50x, met" in out


def test_profile_step_runs():
    r = run("speed/profile_step.py", "--threads", "1", "--steps", "2", "--rounds", "1", "--warmup", "2",
            env={"MINIVAE_DATA_DIR": ""})
    assert r.returncode == 0, r.stderr
    assert "Adam step" in r.stdout and "GEMMs alone" in r.stdout


def fake_reference(epochs=3):
    return {e: {"train_mean": 100.0, "train_min": 99.9, "train_max": 100.1,
                "test_mean": 90.0, "test_min": 89.8, "test_max": 90.2} for e in range(1, epochs + 1)}


def test_band_is_min_max_widened_by_the_spread_and_the_floor():
    lo, hi = loss_curve.band(fake_reference()[1], "test")
    assert lo == pytest.approx(89.8 - loss_curve.K * 0.4 - loss_curve.FLOOR)
    assert hi == pytest.approx(90.2 + loss_curve.K * 0.4 + loss_curve.FLOOR)


@pytest.mark.parametrize("offset, status", [(0.0, 0), (0.3, 0), (1.5, 1), (-1.5, 1)])
def test_loss_curve_exit_status(monkeypatch, tmp_path, offset, status):
    ref = fake_reference()
    monkeypatch.setattr(loss_curve, "read_reference", lambda path: ref)
    monkeypatch.setattr("minivae.data.load_mnist", lambda split, root=None: (
        np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8)))

    def fake_train(x_train, x_test, seed, epochs, **kw):
        return [{"seed": seed, "epoch": e, "train_loss": 100.0 + offset * (e == 2),
                 "test_loss": 90.0, "seconds": 1.0} for e in range(1, epochs + 1)]

    monkeypatch.setattr(loss_curve, "train_minivae", fake_train)
    png = tmp_path / "curve.png"
    assert loss_curve.main(["--epochs", "3", "--png", str(png), "--threads", "1"]) == status
    assert png.stat().st_size > 0


@pytest.mark.cuda
def test_loss_curve_on_cuda_with_tf32_reaches_training(monkeypatch, tmp_path):
    """The suite's curve part up to the training it times: the GPU check and --tf32."""
    monkeypatch.setattr(loss_curve, "read_reference", lambda path: fake_reference(1))
    monkeypatch.setattr("minivae.data.load_mnist", lambda split, root=None: (
        np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8)))
    devices = []

    def fake_train(x_train, x_test, seed, epochs, device="cpu", **kw):
        devices.append((device, os.environ.get("CUPY_TF32")))
        return [{"seed": seed, "epoch": 1, "train_loss": 100.0, "test_loss": 90.0, "seconds": 1.0}]

    monkeypatch.setattr(loss_curve, "train_minivae", fake_train)
    argv = ["--epochs", "1", "--device", "cuda", "--tf32", "--png", str(tmp_path / "c.png")]
    assert loss_curve.main(argv) == 0
    assert devices == [("cuda", "1")]


@pytest.mark.skipif(not os.environ.get("MINIVAE_DATA_DIR"), reason="needs MINIVAE_DATA_DIR (MNIST)")
def test_iwae_benchmark_runs_both_implementations_and_reports(tmp_path):
    """benchmarks/paper/iwae.py end to end on a sliver of MNIST: results, the checks, the figure."""
    pytest.importorskip("torch", reason="PyTorch not installed (the 'bench' extra)")
    tiny = ["--passes", "1", "--train-images", "200", "--nll-images", "4", "--nll-k", "40",
            "--test-images", "100", "--out-dir", str(tmp_path)]
    for impl in ("minivae", "torch"):
        r = run("paper/iwae.py", "--impl", impl, *tiny, env={"PYTHONPATH": minivae_root()})
        assert r.returncode == 0, r.stderr
        runs = json.load(open(tmp_path / f"{impl}.json"))["runs"]
        assert [x["name"] for x in runs] == ["VAE k=1", "VAE k=5", "IWAE k=5"]
        for x in runs:
            assert x["test_nll"] <= x["test_elbo"] + 5      # -L_40 below the one-sample -ELBO
            assert 1 <= x["test_ess5"] <= 5 and 0 <= x["active_units"] <= 50
        assert runs[2]["curve"][0]["ess"] > 1 and runs[1]["curve"][0]["ess"] == 1
    text = (tmp_path / "results.md").read_text()
    assert text.count("| IWAE k=5 |") == 2 and "minivae - torch" in text and "IWAE k=5 < VAE k=5" in text
    assert (tmp_path / "iwae.png").stat().st_size > 10_000


def minivae_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(minivae.__file__)))
