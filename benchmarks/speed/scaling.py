"""How minivae's epoch grows with the work: batch size and model width, against three yardsticks.

    python benchmarks/speed/scaling.py --threads 2 --data-dir ../shared/data/mnist
    python benchmarks/speed/scaling.py --threads 1 --batch-sizes 32,128,1024 --widths 400

For every batch size (at width 400) and every width (at batch 128), one
process times minivae, PyTorch eager (benchmarks/reference/reference_torch.py's
model), JAX (jax.jit, if installed) and the GEMM floor (the step's products
alone, benchmarks/common.GemmFloor) on the same --images training images,
in rotating order, --rounds times, and reports the median as seconds per
60,000-image epoch and as minivae's ratio to each of the other three.

Widths: "400" is 784-400-20-400-784; "1024,1024" two hidden layers of 1024
in the encoder and the decoder.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]     # speed/ (its neighbours), benchmarks/ (common.py)
from common import (GemmFloor, dense_shapes, epoch_batch_sizes, load_train_images,  # noqa: E402
                    median, one_core_for_one_thread, threads_from_argv)
from peers import JaxSide, MinivaeSide, TorchSide, describe_jax, jax_available  # noqa: E402

EPOCH = 60000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every side")
    p.add_argument("--batch-sizes", default="32,64,128,256,512,1024",
                   help="batch sizes timed at width 400")
    p.add_argument("--widths", default="400;1024;1024,1024",
                   help="hidden widths timed at batch 128, ';'-separated")
    p.add_argument("--images", type=int, default=6400, help="training images per timing")
    p.add_argument("--rounds", type=int, default=3, help="timings of each side (median)")
    p.add_argument("--no-jax", dest="jax", action="store_false", help="leave JAX out")
    p.add_argument("--data-dir", default=None, help="MNIST IDX files (default: $MINIVAE_DATA_DIR, "
                   "else synthetic data of the same shape)")
    args = p.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
        args.widths = [tuple(int(w) for w in spec.split(",")) for spec in args.widths.split(";")
                       if spec]
    except ValueError:
        p.error("--batch-sizes takes integers, --widths e.g. '400;1024;1024,1024'")
    return args


def time_config(x, B, hidden, rounds, use_jax):
    """Median seconds per --images images of each side, at batch B and widths ``hidden``."""
    sides = {"minivae": MinivaeSide(x, B, hidden=hidden), "torch": TorchSide(x, B, hidden=hidden)}
    if use_jax:
        sides["jax"] = JaxSide(x, B, hidden=hidden)
    sizes = epoch_batch_sizes(len(x), B)
    floor = GemmFloor(dense_shapes(sides["minivae"].model.params), sizes)
    run = {name: side.epoch for name, side in sides.items()}
    run["floor"] = lambda: [floor.step(b) for b in sizes]
    for fn in run.values():
        fn()                                              # warm-up (and JAX's compilation)
    names, times = list(run), {name: [] for name in run}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            run[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: median(t) * EPOCH / len(x) for name, t in times.items()}


def main(argv=None):
    threads_from_argv(argv)
    args = parse_args(argv)
    one_core_for_one_thread(args.threads)
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    use_jax = args.jax and jax_available()
    x, source = load_train_images(args.data_dir, args.images)
    load0 = os.getloadavg()[0]
    configs = [(B, (400,)) for B in args.batch_sizes]
    configs += [(128, w) for w in args.widths if (128, w) not in configs]
    rows = [(B, w, time_config(x, B, w, args.rounds, use_jax)) for B, w in configs]
    print(f"\n# {args.threads} thread(s), {len(x)} images per timing ({source}), median of "
          f"{args.rounds}; numpy {np.__version__}, torch {torch.__version__}"
          + (f", {describe_jax()}" if use_jax else "")
          + f"; load average {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print("s/epoch: seconds per 60,000 images; minivae's epoch as a ratio to each yardstick")
    head = f"{'batch':>5s} {'widths':>10s} {'minivae':>8s} {'floor':>7s} {'torch':>7s}"
    head += f" {'jax':>7s}" if use_jax else ""
    head += f" {'/floor':>7s} {'/torch':>7s}" + (f" {'/jax':>6s}" if use_jax else "")
    print(head)
    for B, w, s in rows:
        line = (f"{B:5d} {'x'.join(map(str, w)):>10s} {s['minivae']:8.2f} {s['floor']:7.2f} "
                f"{s['torch']:7.2f}" + (f" {s['jax']:7.2f}" if use_jax else ""))
        line += (f" {s['minivae'] / s['floor']:6.2f}x {s['minivae'] / s['torch']:6.2f}x"
                 + (f" {s['minivae'] / s['jax']:5.2f}x" if use_jax else ""))
        print(line)
    return rows


if __name__ == "__main__":
    main()
