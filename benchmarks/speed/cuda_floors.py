"""What bounds a training step on the GPU: the GEMMs, and the kernel launches.

Used by ``speed.py --device cuda``. At batch 128 the GPU finishes most of a
step's kernels in a few microseconds each, so a step can be bound by either
side of the PCIe link:

    the GPU     the time it spends running the step's kernels back to back
                ("device time"): the GEMMs, plus a few microseconds for each
                other kernel, however small;
    the host    the time Python (CuPy or PyTorch) takes to issue those kernels
                one after another ("launch cost", several microseconds each).

Device time is measured by queuing the work behind a kernel that keeps the
GPU busy for a while (``busy``): the host has queued everything before the
GPU starts on it, and CUDA events around the work then time the GPU alone.
Each result says whether that held (``queued_in_time``): if the host had
not finished queuing when the busy kernel ended (too much work for the
busy time, or something waited for the GPU), the figure includes host time.

Kernels per step are counted with CUPTI through ``torch.profiler``, which
sees every kernel the process runs, CuPy's and cuBLAS's included.

NumPy, CuPy and torch are imported inside the functions: speed.py imports
this file before it has pinned the CPU thread counts.
"""

import functools
import json
import os
import sys
import tempfile
import time

BUSY_SOURCE = r"""
extern "C" __global__ void minivae_busy(unsigned long long ns, long long max_cycles) {
    // Spin on the GPU's nanosecond clock for ns nanoseconds (one thread), and never
    // for more than max_cycles ticks of the SM's own clock: should the nanosecond
    // clock not advance, the kernel still ends.
    unsigned long long start, now;
    const long long first = clock64();
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns && clock64() - first < max_cycles);
}
"""
EMPTY_SOURCE = 'extern "C" __global__ void minivae_empty() {}'
RAW_SOURCES = {"minivae_busy": BUSY_SOURCE, "minivae_empty": EMPTY_SOURCE}   # name -> CUDA C++

MAX_BUSY_SECONDS = 10.0
# SM clock ticks per nanosecond allowed: no GPU's clock reaches 4 GHz, so this bound
# never cuts a wait short, and a stuck nanosecond clock costs at most a few times ns.
MAX_CYCLES_PER_NS = 4


@functools.cache
def _kernels():
    """(busy, empty): two RawKernels, built once."""
    import cupy
    return tuple(cupy.RawKernel(source, name) for name, source in RAW_SOURCES.items())


def busy(seconds):
    """Queue a kernel that keeps the GPU busy for ``seconds`` (at most MAX_BUSY_SECONDS)."""
    import numpy as np
    if not 0 < seconds <= MAX_BUSY_SECONDS:
        raise ValueError(f"busy() waits between 0 and {MAX_BUSY_SECONDS} s, not {seconds}")
    ns = int(seconds * 1e9)
    _kernels()[0]((1,), (1,), (np.uint64(ns), np.int64(MAX_CYCLES_PER_NS * ns)))


def device_seconds(enqueue, busy_ms=200.0):
    """(GPU seconds of the work ``enqueue()`` queues, queued_in_time), host time excluded."""
    import cupy
    stream = cupy.cuda.get_current_stream()
    stream.synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    busy(busy_ms / 1e3)
    start.record()
    enqueue()
    end.record()
    queued_in_time = not start.done        # GPU not at the work yet: host time excluded
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / 1e3, queued_in_time


def launch_costs(n=2000):
    """Microseconds per launch: the host's cost to issue one, and the GPU's to run an empty one."""
    import cupy
    import torch
    _, empty = _kernels()
    a = cupy.ones((128, 400), cupy.float32)
    ta = torch.ones((128, 400), device="cuda")

    def host_us(fn):
        for _ in range(100):
            fn()
        cupy.cuda.get_current_stream().synchronize()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t1 = time.perf_counter()                    # issue time; the GPU keeps up or lags behind
        cupy.cuda.get_current_stream().synchronize()
        torch.cuda.synchronize()
        return (t1 - t0) / n * 1e6

    seconds, ok = device_seconds(lambda: [empty((1,), (1,), ()) for _ in range(500)])
    return {
        "cupy_raw_launch_host_us": host_us(lambda: empty((1,), (1,), ())),
        "cupy_elementwise_host_us": host_us(lambda: cupy.multiply(a, a, out=a)),
        "torch_elementwise_host_us": host_us(lambda: ta.mul_(1.0)),
        "empty_kernel_device_us": seconds / 500 * 1e6,
        "empty_kernel_queued_in_time": ok,
    }


def count_kernels(step, steps=3):
    """Kernels, copies and memsets per call of ``step()``, as CUPTI saw them (None if it cannot)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f).get("traceEvents", [])
    count = {"kernel": 0, "gpu_memcpy": 0, "gpu_memset": 0}
    for e in events:
        if e.get("ph") == "X" and e.get("cat") in count:
            count[e["cat"]] += 1
    if not count["kernel"]:
        return None                                  # the profiler saw no kernels at all
    return {"kernels": count["kernel"] / steps, "copies": count["gpu_memcpy"] / steps,
            "memsets": count["gpu_memset"] / steps}


def device_per_call(fn, calls, reps=3):
    """(median GPU seconds per call of fn, all queued in time) over ``reps`` busy-gated runs.

    ``calls`` stays small: CUDA queues about a thousand launches before the
    host must wait, and a step is up to a hundred.
    """
    runs = [device_seconds(lambda: [fn() for _ in range(calls)]) for _ in range(reps)]
    seconds = sorted(s for s, _ in runs)[len(runs) // 2]
    return seconds / calls, all(ok for _, ok in runs)


def floors(sides, gemm_floor, B, steps_per_epoch, costs, device_steps=4, gemm_steps=20):
    """Device time per step of each side and of the GEMMs alone, kernels per step, and the
    launch floors of an epoch: kernels per step x steps x (host or device) cost per launch.

    sides: name -> one training step (a callable). Returns a JSON-ready dict.
    """
    out = {}
    seconds, ok = device_per_call(lambda: gemm_floor.step(B), gemm_steps)
    out["gemm_device_ms_per_step"] = seconds * 1e3
    out["gemm_device_queued_in_time"] = ok
    out["gemm_device_s_per_epoch"] = seconds * steps_per_epoch
    for name, step in sides.items():
        row = {}
        try:
            seconds, ok = device_per_call(step, device_steps)
            row["device_ms_per_step"] = seconds * 1e3
            row["device_queued_in_time"] = ok
        except Exception as e:                          # report, and go on with the rest
            row["device_error"] = repr(e)
        try:
            row["launches"] = count_kernels(step)
        except Exception as e:
            row["launches"], row["count_error"] = None, repr(e)
        if row["launches"] and costs and "error" not in costs:
            k = row["launches"]["kernels"]
            host_cost = costs["torch_elementwise_host_us" if name == "torch"
                              else "cupy_elementwise_host_us"]
            row["launch_floor_host_s"] = k * host_cost * 1e-6 * steps_per_epoch
            device_cost = costs["empty_kernel_device_us"]
            row["launch_floor_device_s"] = k * device_cost * 1e-6 * steps_per_epoch
        out[name] = row
    return out


# -- what speed.py's CUDA half shares with it -----------------------------------

def cuda_timer(sync_all):
    """A timer with CUDA events (recorded on the current stream of both libraries)."""
    import cupy
    import torch

    def timer(fn):
        sync_all()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        torch.cuda.current_stream().synchronize()   # torch's work queued before `end`
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) / 1e3
    return timer


def check_cuda():
    from minivae.backend import cuda_available
    import torch
    if not cuda_available() or not torch.cuda.is_available():
        sys.exit("no CUDA device: --device cuda needs an NVIDIA GPU with CuPy "
                 "(pip install 'minivae[gpu]') and a CUDA build of PyTorch")


def attempt(fn, *args):
    """fn(*args), or {"error": ...}: one failed extra measurement must not lose the others."""
    try:
        return fn(*args)
    except Exception as e:
        print(f"warning: {fn.__name__} failed: {e!r}", file=sys.stderr)
        return {"error": repr(e)}


def cuda_info(args):
    import cupy
    import torch
    from minivae.fast.gpu import tf32_enabled
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return {"gpu": name, "compute_capability": cupy.cuda.Device(0).compute_capability,
            "cupy": cupy.__version__, "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
            "cuda_driver": cupy.cuda.runtime.driverGetVersion(), "torch_cuda": torch.version.cuda,
            "tf32": bool(args.tf32), "cupy_tf32_in_use": tf32_enabled(),
            "torch_tf32": torch.backends.cuda.matmul.allow_tf32}


def print_floors(row, costs):
    """The GPU half's extra lines: device time, kernels and launch floors per side."""
    f = row["floors"]
    if "error" in f:
        print(f"floors: failed ({f['error']})")
        return
    steps = row["steps_per_epoch"]
    held = "" if f["gemm_device_queued_in_time"] else " (host time NOT fully excluded)"
    print(f"GEMMs alone, GPU time: {f['gemm_device_ms_per_step']:.3f} ms/step, "
          f"{f['gemm_device_s_per_epoch']:.3f} s/epoch{held}")
    print(f"{'':20s} {'GPU ms/step':>11s} {'kernels':>8s} {'launch floor s/epoch: host':>27s} "
          f"{'GPU':>6s}")
    for name, label in (("minivae", "minivae (CuPy)"), ("unfused", "minivae, unfused"),
                        ("torch", "PyTorch reference")):
        side = f.get(name, {})
        dev = side.get("device_ms_per_step")
        star = "" if side.get("device_queued_in_time") else "*"
        dtxt = "-" if dev is None else f"{dev:.3f}{star}"
        k = side.get("launches")
        ktxt = "-" if not k else f"{k['kernels']:.0f}"
        host = side.get("launch_floor_host_s")
        gpu = side.get("launch_floor_device_s")
        print(f"{label:20s} {dtxt:>11s} {ktxt:>8s} {'-' if host is None else f'{host:.3f}':>27s} "
              f"{'-' if gpu is None else f'{gpu:.3f}':>6s}")
    if costs and "error" not in costs:
        print(f"one launch: CuPy raw {costs['cupy_raw_launch_host_us']:.1f} us, CuPy elementwise "
              f"{costs['cupy_elementwise_host_us']:.1f} us, PyTorch elementwise "
              f"{costs['torch_elementwise_host_us']:.1f} us of host time; an empty kernel "
              f"{costs['empty_kernel_device_us']:.2f} us of GPU time ({steps} steps per epoch; "
              "* = host time not fully excluded)")
