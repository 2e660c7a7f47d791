"""This minivae against an older copy of it, side by side in one process: the same step, ms per step.

    git worktree add ../minivae-old <commit>           # the version to compare with
    python benchmarks/speed/compare_versions.py --old ../minivae-old --threads 1
    python benchmarks/speed/compare_versions.py --old ../minivae-old --threads 1 --arch conv
    python benchmarks/speed/compare_versions.py --old ../minivae-old --threads 1 --without-numba \
        --data-dir ../shared/data/mnist

The older package is copied under the name ``minivae_old`` into a temporary
folder, so both import in one process; they then alternate blocks of
training steps (loss_and_grads + Adam, batch 128, the default model, or with
--arch conv the conv VAE of 1x28x28 images) on the same batches, so both see
the same machine load. Prints the medians and their ratio (new / old).
--without-numba builds both sides as on a machine without the numba extra
(fast.forms.FastOps: Adam in NumPy, the conv layers in conv.py's forms).
"""

import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # common.py
from common import ROOT, load_train_images, threads_from_argv  # noqa: E402


def main(argv=None):
    threads_from_argv(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True, help="a checkout of the older minivae (its folder)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS threads")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=100, help="steps per block")
    p.add_argument("--arch", choices=["dense", "conv"], default="dense",
                   help="the default dense model, or the conv VAE (1x28x28)")
    p.add_argument("--without-numba", action="store_true",
                   help="both sides as without the numba extra (FastOps)")
    p.add_argument("--data-dir", default=None,
                   help="train on MNIST's images from here (default: uniform random pixels)")
    args = p.parse_args(argv)
    import numpy as np
    tmp = tempfile.mkdtemp()
    # Without __pycache__: Numba's cache there names the module minivae.backend.cpu_kernels,
    # which would then load the new package's code under the old one's name.
    shutil.copytree(os.path.join(args.old, "minivae"), os.path.join(tmp, "minivae_old"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path[:0] = [tmp, ROOT]
    import minivae
    import minivae_old
    if args.without_numba:
        for pkg in (minivae, minivae_old):   # choose_ops then gives FastOps
            importlib.import_module(pkg.__name__ + ".fast.forms").numba_installed = lambda: False
    if args.data_dir:
        x, _ = load_train_images(args.data_dir)                           # (60000, 784)
    else:
        x = np.random.default_rng(0).random((7000, 784), dtype=np.float32)   # (N, D)

    models = []

    def side(pkg):
        model = (pkg.VAE(seed=1) if args.arch == "dense"
                 else pkg.VAE(arch="conv", image_shape=(1, 28, 28), seed=1))
        models.append(model)
        opt = pkg.Adam(model.params, lr=1e-3)
        start = [0]

        def run(n):
            for _ in range(n):
                s = (start[0] * 128) % (len(x) - 128)
                start[0] += 1
                model.loss_and_grads(x[s:s + 128])
                opt.step(model.grads)
        return run

    sides = {"new": side(minivae), "old": side(minivae_old)}
    for run in sides.values():
        run(50)                                            # warm up
    times = {name: [] for name in sides}
    for r in range(args.rounds):
        for name in (("new", "old") if r % 2 else ("old", "new")):
            t0 = time.perf_counter()
            sides[name](args.steps)
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
    new, old = statistics.median(times["new"]), statistics.median(times["old"])
    ops = {type(model.ops).__name__ for model in models}
    data = "MNIST" if args.data_dir else "random pixels"
    print(f"{args.arch} model ({'/'.join(sorted(ops))}), {data}, {args.threads} BLAS thread(s), "
          f"{50 + args.rounds * args.steps} steps a side, load average "
          f"{os.getloadavg()[0]:.2f}: new {new:.3f} ms/step, old {old:.3f} ms/step, "
          f"new / old = {new / old:.3f}")
    print("ms/step, round by round: " + "; ".join(
        f"{name} " + " ".join(f"{t:.1f}" for t in times[name]) for name in sides))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
