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
    for r in rows:                                           # 1e-5, or twice float32's own error
        own = r["float32_error"] or 0.0
        assert r["tolerance"] == (max(1e-5, 2 * own) if r["dtype"] == "float32" else 1e-10)
        assert (own > 0) == (r["flow"].startswith("step: "))


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
