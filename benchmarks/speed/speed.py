"""minivae against the PyTorch reference: epoch time, the GEMM floor, peak memory.

    python benchmarks/speed/speed.py --threads 2 --data-dir ../shared/data/mnist
    python benchmarks/speed/speed.py --threads 2 --steps 100            # a quick partial epoch
    python benchmarks/speed/speed.py --device cuda --data-dir ../shared/data/mnist [--tf32]

Both sides train the same model (784-400-20 VAE, ReLU, Bernoulli/BCE + KL,
Adam 1e-3, float32) at the same batch size, with the same number of threads
(NumPy's OpenBLAS and torch.set_num_threads) and the data already in memory
(on the GPU for --device cuda). One warm-up epoch each, then --epochs-each
rounds, each round one epoch of minivae, one of PyTorch and one of the GEMM
floor, in rotating order, so that every side sees the same machine load. The
figures are medians over the rounds.

    GEMM floor   exactly the matrix products of every step of the epoch, done
                 with NumPy (CuPy) alone on preallocated arrays: what no
                 implementation over the same BLAS can go below.
    peak memory  CPU: in a fresh process for each side, which loads the data
                 (--memory-steps batches of it), builds the model and trains
                 --memory-steps steps: the peak resident memory while it
                 trains (VmHWM, reset after loading), and "+" its increase over
                 the memory just before the model was built: parameters,
                 gradients, optimizer state, activations and temporaries, not
                 the library or the data.
                 CUDA: the allocator's peak, CuPy's memory pool total_bytes()
                 against torch.cuda.max_memory_reserved(): device memory held.

With --device cuda there is more (benchmarks/speed/cuda_floors.py explains each):
minivae twice, with its fused kernels (minivae.fast.cuda_kernels) and
without them; each side's GPU time per step with the host's time taken out;
the GEMMs' GPU time alone; kernels per step, counted by CUPTI; and the
launch floors, kernels per step x steps x the cost of one launch. --tf32
lets both libraries run float32 GEMMs on TF32 tensor cores.

minivae runs through its public API (VAE, Adam, BatchIterator); PyTorch
through benchmarks/reference/reference_torch.py. The table comes last; --json saves it.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]     # speed/ (its neighbours), benchmarks/ (common.py)
from common import (GemmFloor, cpu_name, dense_shapes, epoch_batch_sizes,  # noqa: E402
                    load_train_images, median, numpy_forms, one_core_for_one_thread, reset_peak_rss,
                    status_kb, threads_from_argv, turn_numba_off)
import cuda_floors  # noqa: E402
from peers import JaxSide, MinivaeSide, TorchSide, describe_jax, jax_available  # noqa: E402


# On the GPU, minivae's epoch against PyTorch CUDA eager's, per batch size: at 128 the
# step is bound by launching kernels (host time), at 1024 more by the GEMMs.
CUDA_TARGETS = {128: 1.0, 1024: 0.6}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="CPU threads for both: OPENBLAS_NUM_THREADS and torch.set_num_threads "
                        "(default: the core count)")
    p.add_argument("--batch-size", default=None,
                   help="batch size, or a comma-separated list (default: 128 on cpu, 128,1024 on cuda)")
    p.add_argument("--epochs-each", type=int, default=3, help="timed epochs of each side")
    p.add_argument("--steps", type=int, default=None,
                   help="time partial epochs of this many steps (default: full epochs)")
    p.add_argument("--data-dir", default=None, help="MNIST IDX files (default: $MINIVAE_DATA_DIR, "
                   "else synthetic data of the same shape, which times the same)")
    p.add_argument("--memory-steps", type=int, default=50,
                   help="steps trained by each peak-memory process (0: skip memory)")
    p.add_argument("--tf32", action="store_true",
                   help="CUDA only: float32 GEMMs on TF32 tensor cores, in CuPy and in PyTorch")
    p.add_argument("--no-jax", dest="jax", action="store_false",
                   help="leave JAX out (default: timed when installed, the 'jax' extra; CPU only)")
    p.add_argument("--no-numba", dest="numba", action="store_false",
                   help="minivae without Numba's compiled Adam, as without the 'numba' extra")
    p.add_argument("--json", metavar="OUT", help="also write the results to this JSON file")
    p.add_argument("--memory-of", choices=["minivae", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    default = "128,1024" if args.device == "cuda" else "128"
    try:
        args.batch_sizes = [int(b) for b in (args.batch_size or default).split(",")]
    except ValueError:
        p.error(f"--batch-size must be an integer or a comma-separated list, got {args.batch_size!r}")
    if min(args.batch_sizes) < 1 or args.epochs_each < 1 or (args.steps is not None and args.steps < 1):
        p.error("--batch-size, --epochs-each and --steps must be positive")
    if args.tf32 and args.device != "cuda":
        p.error("--tf32 needs --device cuda")
    return args


# ---------------------------------------------------------------- timing
def cpu_timer(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_rounds(sides, timer, rounds):
    """One warm-up call per side, then `rounds` rounds in rotating order: name -> [s]."""
    for fn in sides.values():
        fn()
    names, out = list(sides), {name: [] for name in sides}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out[name].append(timer(sides[name]))
    return out


# ---------------------------------------------------------------- memory (a child process each)
def memory_child(args):
    """Run by the child: load, build, train --memory-steps steps; print JSON."""
    B = args.batch_sizes[0]
    x, _ = load_train_images(args.data_dir, n_rows=args.memory_steps * B)   # (N, 784) float32
    if args.memory_of == "torch":
        import torch
        torch.set_num_threads(args.threads)
    else:
        import minivae  # noqa: F401  (import cost outside the measurement)
    import gc
    gc.collect()
    reset = reset_peak_rss()          # loading the data peaked higher than training will
    before = status_kb("VmRSS")
    side = (TorchSide if args.memory_of == "torch" else MinivaeSide)(x, B, "cpu")
    side.epoch()
    peak = status_kb("VmHWM") if reset else None
    if peak is None:                   # not Linux: the process's lifetime peak
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 if sys.platform != "darwin" else 1024)
        before = None
    print(json.dumps({"peak_rss_mb": peak / 1024,
                      "train_rss_mb": None if before is None else (peak - before) / 1024}))


def measure_memory(args, which, batch_size):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-of", which,
           "--threads", str(args.threads), "--batch-size", str(batch_size),
           "--memory-steps", str(args.memory_steps)] + ([] if args.numba else ["--no-numba"])
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the two halves
def run_cpu(args, x):
    import torch
    torch.set_num_threads(args.threads)
    results = []
    for B in args.batch_sizes:
        mv, tc = MinivaeSide(x, B, "cpu"), TorchSide(x, B, "cpu")
        floor = GemmFloor(dense_shapes(mv.model.params), epoch_batch_sizes(len(x), B))
        sizes = epoch_batch_sizes(len(x), B)
        sides = {"minivae": mv.epoch, "torch": tc.epoch,
                 "floor": lambda: [floor.step(b) for b in sizes]}
        if args.jax and jax_available():
            sides["jax"] = JaxSide(x, B).epoch
        times = time_rounds(sides, cpu_timer, args.epochs_each)
        row = summarize(times, B, len(sizes), floor.flops[B])
        if args.memory_steps:
            row["memory"] = {k: measure_memory(args, k, B) for k in ("minivae", "torch")}
        results.append(row)
    return results


def run_cuda(args, x):
    import gc
    import torch
    cuda_floors.check_cuda()
    import cupy
    from minivae.fast.gpu import enable_tf32
    if args.tf32:
        enable_tf32()                                  # CuPy: before its first float32 GEMM
        torch.backends.cuda.matmul.allow_tf32 = True   # PyTorch: the same tensor-core mode

    def sync_all():
        cupy.cuda.get_current_stream().synchronize()
        torch.cuda.synchronize()

    timer = cuda_floors.cuda_timer(sync_all)
    costs = cuda_floors.attempt(cuda_floors.launch_costs)
    results = []
    for B in args.batch_sizes:
        gc.collect()                   # the last batch size's sides are gone: free their memory
        cupy.get_default_memory_pool().free_all_blocks()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        results.append(cuda_batch(args, x, B, timer, costs))
    return results, {"launch_costs": costs}


def cuda_batch(args, x, B, timer, costs):
    """The row of one batch size on the GPU: epoch times, memory, floors."""
    import cupy
    import torch
    pool = cupy.get_default_memory_pool()
    # Memory first, each side alone: its data, model and one epoch (CuPy's pool
    # keeps what it once held, so total_bytes() is its high-water mark).
    mv = MinivaeSide(x, B, "cuda")
    mv.epoch()
    mv_peak = pool.total_bytes()
    tc = TorchSide(x, B, "cuda")
    tc.epoch()
    torch_peak = torch.cuda.max_memory_reserved()
    unfused = MinivaeSide(x, B, "cuda", fused=False)
    sizes = epoch_batch_sizes(len(x), B)
    floor = GemmFloor(dense_shapes(mv.model.params), sizes, xp=cupy)
    sides = {"minivae": mv.epoch, "unfused": unfused.epoch, "torch": tc.epoch,
             "floor": lambda: [floor.step(b) for b in sizes]}
    times = time_rounds(sides, timer, args.epochs_each)
    row = summarize(times, B, len(sizes), floor.flops[B])
    row["memory"] = {"minivae": {"device_peak_mb": mv_peak / 2**20},
                     "torch": {"device_peak_mb": torch_peak / 2**20}}
    row["floors"] = cuda_floors.attempt(
        cuda_floors.floors, {"minivae": mv.step, "unfused": unfused.step, "torch": tc.step},
        floor, B, len(sizes), costs)
    return row


def summarize(times, B, steps, flops_per_step):
    med = {k: median(v) for k, v in times.items()}
    return {"batch_size": B, "steps_per_epoch": steps, "epochs_each": len(times["minivae"]),
            "seconds": times, "median_s": med,
            "ms_per_step": {k: v / steps * 1e3 for k, v in med.items()},
            "ratio_to_torch": med["minivae"] / med["torch"],
            "ratio_to_floor": med["minivae"] / med["floor"],
            "torch_ratio_to_floor": med["torch"] / med["floor"],
            **({"ratio_to_jax": med["minivae"] / med["jax"],
                "jax_ratio_to_floor": med["jax"] / med["floor"]} if "jax" in med else {}),
            "floor_gflops": flops_per_step * steps / med["floor"] / 1e9,
            **({"unfused_over_fused": med["unfused"] / med["minivae"]} if "unfused" in med else {})}


def print_table(args, results, info):
    print()
    load = info["load_average"]
    print(f"# {info['device']} | {info['threads']} thread(s) | {info['data']} | "
          f"numpy {info['numpy']}, torch {info['torch']} | {info['machine']}"
          + (f" | load average {info['load_average_start'][0]:.2f} at the start, "
             f"{load[0]:.2f} at the end (1 min)" if load else ""))
    if "jax" in info:
        print(f"# {info['jax']}")
    if "minivae_forms" in info:
        print(f"# minivae: {info['minivae_forms']}")
    if "cuda" in info:
        c = info["cuda"]
        print(f"# {c['gpu']} (compute capability {c['compute_capability']}) | CuPy {c['cupy']}, "
              f"CUDA runtime {c['cuda_runtime']}, driver {c['cuda_driver']}, torch CUDA "
              f"{c['torch_cuda']} | TF32 {'on' if c['tf32'] else 'off'} (CuPy in use: "
              f"{c['cupy_tf32_in_use']}, torch: {c['torch_tf32']})")
    unit = "GPU memory peak" if args.device == "cuda" else "peak RSS (train +)"
    labels = (("minivae", "minivae (NumPy)" if args.device == "cpu" else "minivae (CuPy)"),
              ("unfused", "minivae, unfused"), ("torch", "PyTorch reference"),
              ("jax", "JAX (jax.jit)"), ("floor", "GEMM floor"))
    for row in results:
        mem = row.get("memory", {})
        print(f"\nbatch {row['batch_size']}, {row['steps_per_epoch']} steps per epoch, "
              f"median of {row['epochs_each']} epochs each (alternating)")
        jax_col = "jax" in row["median_s"]
        print(f"{'':20s} {'s/epoch':>8s} {'ms/step':>8s} {'vs torch':>9s}"
              + (f" {'vs jax':>9s}" if jax_col else "") + f" {'vs floor':>9s}  {unit}")
        for name, label in labels:
            if name not in row["median_s"]:
                continue
            m = mem.get(name, {})
            if "device_peak_mb" in m:
                mtxt = f"{m['device_peak_mb']:.0f} MB"
            elif m:
                extra = "" if m["train_rss_mb"] is None else f" (+{m['train_rss_mb']:.0f})"
                mtxt = f"{m['peak_rss_mb']:.0f} MB{extra}"
            else:
                mtxt = f"{row['floor_gflops']:.0f} GFLOP/s" if name == "floor" else "-"
            vs_torch = row["median_s"][name] / row["median_s"]["torch"]
            vs_floor = row["median_s"][name] / row["median_s"]["floor"]
            vs_jax = (f" {row['median_s'][name] / row['median_s']['jax']:8.2f}x"
                      if jax_col else "")
            print(f"{label:20s} {row['median_s'][name]:8.3f} {row['ms_per_step'][name]:8.2f} "
                  f"{vs_torch:8.2f}x{vs_jax} {vs_floor:8.2f}x  {mtxt}")
        if "floors" in row:
            cuda_floors.print_floors(row, info.get("launch_costs"))
    row = next((r for r in results if r["batch_size"] == 128), None)
    if args.device == "cpu" and row is not None:
        limit = 1.0 if args.threads == 1 else 0.9
        print(f"\ntargets at batch 128: minivae's epoch <= 0.6x PyTorch eager's: "
              f"{row['ratio_to_torch']:.2f}x, {'met' if row['ratio_to_torch'] <= 0.6 else 'not met'}")
        if "ratio_to_jax" in row:
            print(f"                      minivae's epoch <= {limit}x JAX's at {args.threads} "
                  f"thread(s): {row['ratio_to_jax']:.2f}x, "
                  f"{'met' if row['ratio_to_jax'] <= limit else 'not met'}")
    targeted = [r for r in results if r["batch_size"] in CUDA_TARGETS]
    if args.device == "cuda" and targeted:
        print()
        for row in targeted:
            limit, ratio = CUDA_TARGETS[row["batch_size"]], row["ratio_to_torch"]
            print(f"target at batch {row['batch_size']}: minivae's epoch <= {limit}x PyTorch "
                  f"eager's: {ratio:.2f}x, {'met' if ratio <= limit else 'not met'}")


def main(argv=None):
    threads_from_argv(argv)
    args = parse_args(argv)
    one_core_for_one_thread(args.threads)
    if not args.numba:
        turn_numba_off()
    if args.memory_of:
        return memory_child(args)
    import numpy as np
    import torch
    if args.device == "cuda":
        cuda_floors.check_cuda()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    forms = numpy_forms()
    n_rows = None if args.steps is None else args.steps * max(args.batch_sizes)
    x, source = load_train_images(args.data_dir, n_rows)
    if args.device == "cuda":
        results, extra = run_cuda(args, x)
    else:
        results, extra = run_cpu(args, x), {}
    info = {"device": args.device, "threads": args.threads, "data": source,
            "rows": int(len(x)), "numpy": np.__version__, "torch": torch.__version__,
            "machine": f"{cpu_name()}, {os.cpu_count()} cores, {platform.machine()}",
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "load_average_start": load_start,
            **({"jax": describe_jax()} if "jax" in sys.modules else {}),
            **({"minivae_forms": forms} if args.device == "cpu" else {}),
            "date": time.strftime("%Y-%m-%d %H:%M"), **extra}
    if args.device == "cuda":
        info["cuda"] = cuda_floors.cuda_info(args)
    print_table(args, results, info)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
