"""What decides whether and how the GPU runs, checked without a GPU.

- cuda_available() runs a probe through NVRTC, cuBLAS and cuRAND, not only a
  device count: checked here with stand-ins for CuPy (NumPy does the maths);
- ``pytest -m cuda`` selects the GPU tests: without a GPU they run on the CPU stand-in
  for CuPy, and those that need real hardware skip, saying why;
- CUPY_TF32=1 in the environment does not reach the tests;
- the GPU's busy kernel refuses waits it could not bound.
"""

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import cuda_floors  # benchmarks/speed/, on sys.path through conftest
from minivae import backend
from minivae.fast import gpu
from minivae.backend import cuda_available, cuda_problem, resolve_device

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fake_cupy(devices=1, kernel=lambda x: x + 1, device_error=None):
    """A stand-in for the cupy module, just enough for the probe, computing with NumPy."""
    calls = []

    def count():
        calls.append("count")
        if device_error:
            raise device_error
        return devices

    def elementwise(*spec):
        calls.append(spec)
        return kernel

    return SimpleNamespace(
        cuda=SimpleNamespace(runtime=SimpleNamespace(getDeviceCount=count)),
        ElementwiseKernel=elementwise, arange=np.arange, isfinite=np.isfinite,
        float32=np.float32, float64=np.float64,
        random=SimpleNamespace(RandomState=np.random.default_rng),   # has standard_normal(dtype=)
        calls=calls)


def no_nvrtc(x):
    raise OSError("libnvrtc.so.13: cannot open shared object file: No such file or directory")


def test_a_gpu_whose_libraries_work_is_used_and_the_probe_runs_once(monkeypatch):
    cp = fake_cupy()
    monkeypatch.setattr(backend, "_cupy", cp)
    monkeypatch.setattr(backend, "_cupy_tried", True)   # CuPy counts as imported
    assert cuda_available() and cuda_available()
    assert cuda_problem() is None and resolve_device("auto") == "cuda"
    assert cp.calls == ["count", backend.PROBE_KERNEL]            # asked once, then kept


def test_a_gpu_without_nvrtc_is_not_used_and_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", fake_cupy(kernel=no_nvrtc))
    monkeypatch.setattr(backend, "_cupy_tried", True)   # CuPy counts as imported
    assert not cuda_available()
    assert resolve_device("auto") == "cpu"
    with pytest.raises(RuntimeError) as e:
        resolve_device("cuda")
    message = str(e.value)
    assert "sees 1 GPU(s) but cannot run on them" in message and "libnvrtc.so.13" in message
    assert "cupy-cuda13x[ctk]" in message


@pytest.mark.parametrize("cp, says", [
    (fake_cupy(devices=0), "found no NVIDIA GPU"),
    (fake_cupy(device_error=RuntimeError("cudaErrorInsufficientDriver")), "no usable NVIDIA driver"),
    (fake_cupy(kernel=lambda x: x), "gave a wrong result"),       # a kernel that computes wrong
])
def test_no_gpu_a_bad_driver_or_a_wrong_result_means_the_cpu(monkeypatch, cp, says):
    monkeypatch.setattr(backend, "_cupy", cp)
    monkeypatch.setattr(backend, "_cupy_tried", True)   # CuPy counts as imported
    assert not cuda_available() and says in cuda_problem()


def test_without_cupy_the_reason_is_given(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_tried", True)   # CuPy counts as imported
    assert not cuda_available() and cuda_problem() == "CuPy is not installed"


@pytest.mark.skipif(cuda_available(), reason="a GPU is present: the cuda tests run on it")
def test_pytest_m_cuda_runs_the_gpu_tests_on_the_standin_and_skips_the_hardware_ones():
    r = subprocess.run([sys.executable, "-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider",
                        "-m", "cuda", "tests/fast/test_cuda_kernels.py"],
                       cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in r.stdout.splitlines() if "::" in line and not line.startswith("SKIP")]
    reasons = [line for line in r.stdout.splitlines() if line.startswith("SKIPPED [")]
    assert r.returncode == 0, r.stdout[-2000:]
    assert any("test_adam_kernel_equals_the_plain_form" in line and "PASSED" in line
               for line in lines)                                           # on the stand-in
    assert any("test_training_steps_never_wait_for_the_gpu" in line and "SKIPPED" in line
               for line in lines)                                           # times a real GPU
    assert not any("test_tf32_is_an_error_on_the_cpu" in line for line in lines)     # a CPU test
    assert len(reasons) == 2 and all("needs a real GPU (" in line for line in reasons)


def test_cupy_tf32_from_the_environment_does_not_reach_a_test():
    """Run on its own with CUPY_TF32=1 by the test below; the conftest fixture clears it."""
    assert "CUPY_TF32" not in os.environ
    assert not gpu.tf32_enabled()


def test_cupy_tf32_1_in_the_environment_changes_nothing():
    node = "tests/fast/test_cuda_setup.py::test_cupy_tf32_from_the_environment_does_not_reach_a_test"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "CUPY_TF32": "1"})
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize("seconds", [0, -1, cuda_floors.MAX_BUSY_SECONDS + 1])
def test_the_busy_kernel_refuses_waits_it_does_not_bound(seconds):
    with pytest.raises(ValueError, match="busy"):
        cuda_floors.busy(seconds)


def test_the_busy_kernel_is_bounded_by_the_sm_clock_too():
    source = cuda_floors.BUSY_SOURCE
    assert "clock64() - first < max_cycles" in source and "now - start < ns" in source
