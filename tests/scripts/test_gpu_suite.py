"""The GPU suite (benchmarks/speed/gpu_suite.sh) and its comparison of every flow with the CPU
(benchmarks/speed/gpu_vs_cpu.py), checked without a GPU: the comparison runs on the CPU
stand-in for CuPy (tests/cupy_standin), where it must find every flow within its tolerance
(there only the fused kernels' forms differ from NumPy's); the suite stops at once, saying why."""

import json
import os
import subprocess

import pytest

import gpu_vs_cpu  # benchmarks/speed/, on sys.path through conftest
from minivae.backend import cuda_available

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE = os.path.join(REPO, "benchmarks", "speed", "gpu_suite.sh")


@pytest.mark.cuda
@pytest.mark.parametrize("size", ["small", "full"])   # full: the sizes the suite compares
def test_every_flow_matches_the_cpu_on_the_standin(standin, tmp_path, capsys, size):
    out = tmp_path / "gpu_vs_cpu.json"
    assert gpu_vs_cpu.main(["--json", str(out), "--size", size]) == 0, capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    flows = {r["flow"] for r in rows}
    assert {f"step: {kind}" for kind in gpu_vs_cpu.MODELS} <= flows
    assert {"log p(x), K = 50", "saved on the GPU, loaded on the CPU"} <= flows
    assert len(rows) == 2 * len(flows)                       # float32 and float64 each
    assert f"{len(rows)} of {len(rows)} within tolerance" in capsys.readouterr().out
    for r in rows:                                    # 1e-5, or twice float32's own error
        own = r["float32_error"]
        if r["dtype"] == "float64":
            assert r["tolerance"] == 1e-10 and own is None
        else:
            assert (own is not None and own > 0) == r["flow"].startswith("step: ")
            assert r["tolerance"] == max(1e-5, min(2 * (own or 0.0), 1e-4))


def test_a_float32_tolerance_widens_with_float32s_own_error_up_to_a_cap():
    args = gpu_vs_cpu.argparse.Namespace(rtol32=1e-5, rtol64=1e-10)
    assert gpu_vs_cpu.tolerance("float32", None, args) == 1e-5       # not a step
    assert gpu_vs_cpu.tolerance("float32", 4e-6, args) == 1e-5       # 2 x 4e-6 < 1e-5
    assert gpu_vs_cpu.tolerance("float32", 1.2e-5, args) == 2.4e-5   # IWAE's, on the CPU
    assert gpu_vs_cpu.tolerance("float32", 1e-2, args) == 1e-4       # a float32 bug: capped
    assert gpu_vs_cpu.tolerance("float64", 1e-2, args) == 1e-10


@pytest.mark.skipif(cuda_available(), reason="a GPU is present: the suite would run")
def test_the_suite_without_a_gpu_stops_saying_why(tmp_path):
    r = subprocess.run(["bash", SUITE, "tests"], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "OUT": str(tmp_path)}, timeout=120)
    assert r.returncode == 1
    assert "stopped: minivae cannot run on this GPU" in (tmp_path / "suite.log").read_text()


def test_the_suite_refuses_a_part_it_does_not_know(tmp_path):
    r = subprocess.run(["bash", SUITE, "tests", "speeed"], cwd=REPO, capture_output=True,
                       text=True, env={**os.environ, "OUT": str(tmp_path)}, timeout=60)
    assert r.returncode == 2 and "unknown part 'speeed'" in r.stdout
