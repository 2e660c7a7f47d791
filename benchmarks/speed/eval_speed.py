"""What measuring a model costs: the per-epoch test measurement, and `evaluate --iw K`.

    python benchmarks/speed/eval_speed.py --threads 1 --data-dir ../shared/data/mnist
    python benchmarks/speed/eval_speed.py --threads 2 --iw 100,1000 --iw-images 200

Two figures, each against what it is compared with, alternating rounds in
one process, medians:

1. The per-epoch measurement of train.py (test ELBO, PSNR, SSIM on the
   test set, evaluation.test_set_metrics) as a share of the epoch's wall
   time, training plus measurement. Target: at most 10%.
2. The importance-weighted log-likelihood (evaluation.iw_log_likelihood,
   what `python -m minivae.evaluate --iw K` runs) against the GEMM floor of
   its products: the encoder's once per image, the decoder's once per
   image and sample, with the same shapes, alone on preallocated arrays
   (benchmarks/common.GemmFloor). Target: at most 1.3x, at K = 100 and 1000.

Without --data-dir (or $MINIVAE_DATA_DIR), random MNIST-shaped data, which
times the same.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # common.py
from common import (GemmFloor, dense_shapes, load_train_images, median,  # noqa: E402
                    threads_from_argv)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS threads")
    p.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    p.add_argument("--iw", default="100,1000", help="values of K (empty: skip)")
    p.add_argument("--iw-images", type=int, default=200,
                   help="test images for --iw (the time is linear in it)")
    p.add_argument("--data-dir", default=None, help="MNIST IDX files (default: $MINIVAE_DATA_DIR, "
                   "else synthetic data of the same shape)")
    return p.parse_args(argv)


def test_images(data_dir, n):
    """The MNIST test set (N, 784) float32, or random MNIST-shaped rows."""
    import numpy as np
    data_dir = data_dir or os.environ.get("MINIVAE_DATA_DIR")
    if data_dir:
        from minivae.data import load_mnist, to_unit_float
        return to_unit_float(load_mnist("test", root=data_dir, download=False)[0])[:n]
    return load_train_images(None, n)[0][::-1].copy()   # other rows than the training ones


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def iw_floor(model, n_images, k, batch_size, k_chunk):
    """The products of iw_log_likelihood(model, x (n_images, D), k), with its block shapes.

    Per batch of images: the encoder's layers once (B rows); per chunk of
    samples: the decoder's layers on kc * B rows. Forward products only.
    """
    shapes = dense_shapes(model.params)
    enc = [s for s in shapes if not s[0].startswith(("dec", "out"))]
    dec = [s for s in shapes if s[0].startswith(("dec", "out"))]
    calls = []                                            # (floor part, rows), in order
    for start in range(0, n_images, batch_size):
        b = min(batch_size, n_images - start)
        calls.append(("enc", b))
        calls += [("dec", b * min(k_chunk, k - s)) for s in range(0, k, k_chunk)]
    floors = {name: GemmFloor(part, {rows for n, rows in calls if n == name}, forward_only=True)
              for name, part in (("enc", enc), ("dec", dec))}
    return lambda: [floors[name].step(rows) for name, rows in calls]


def main(argv=None):
    threads_from_argv(argv)
    args = parse_args(argv)
    import numpy as np
    import minivae
    from minivae.data import BatchIterator
    from minivae.run.evaluation import eval_generator, iw_log_likelihood, test_set_metrics
    from minivae.run.importance import IW_CHUNK_ROWS

    load0 = os.getloadavg()[0]
    x_train, source = load_train_images(args.data_dir)
    x_test = test_images(args.data_dir, 10000)
    model = minivae.VAE(seed=1)
    opt = minivae.Adam(model.params, lr=1e-3)
    batches = BatchIterator(x_train, 128, seed=1)

    def epoch():
        for x in batches:
            model.loss_and_grads(x)
            opt.step(model.grads)

    def measure():
        test_set_metrics(model, x_test, (28, 28), rng=eval_generator(model, 1))

    print(f"# numpy {np.__version__}, {args.threads} BLAS thread(s), {source}, "
          f"{len(x_test)} test images")
    epoch()                                              # warm-up, and a model in training
    times = {"epoch": [], "measure": []}
    for _ in range(args.rounds):
        times["epoch"].append(timed(epoch))
        times["measure"].append(timed(measure))
    e, m = median(times["epoch"]), median(times["measure"])
    share = m / (e + m)
    print(f"\nper-epoch measurement: {m:.3f} s against {e:.3f} s of training: {share:.1%} of "
          f"the epoch (target <= 10%: {'met' if share <= 0.10 else 'not met'})")
    print("  epochs " + " ".join(f"{t:.2f}" for t in times["epoch"]) + " | measurements "
          + " ".join(f"{t:.3f}" for t in times["measure"]))

    ks = [int(k) for k in args.iw.split(",") if k]
    x_iw = x_test[:args.iw_images]
    batch_size = 100                                     # evaluate's --batch-size default
    for k in ks:
        k_chunk = max(1, IW_CHUNK_ROWS // batch_size)      # as iw_log_likelihood chooses
        floor = iw_floor(model, len(x_iw), k, batch_size, k_chunk)
        run = {"iw": lambda: iw_log_likelihood(model, x_iw, k, rng=eval_generator(model, 2),
                                               batch_size=batch_size),
               "floor": floor}
        run["floor"]()
        got = {name: [] for name in run}
        for r in range(args.rounds):
            for name in (list(run) if r % 2 == 0 else list(run)[::-1]):
                got[name].append(timed(run[name]))
        iw, fl = median(got["iw"]), median(got["floor"])
        print(f"\n--iw {k}: {len(x_iw)} images, batches of {batch_size}, {k_chunk} samples "
              f"per decoder call: {iw:.3f} s, GEMM floor {fl:.3f} s: {iw / fl:.2f}x "
              f"(target <= 1.3x: {'met' if iw / fl <= 1.3 else 'not met'}); "
              f"{iw / len(x_iw) * 10000:.1f} s for 10,000 images")
    print(f"\nload average (1 min): {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
