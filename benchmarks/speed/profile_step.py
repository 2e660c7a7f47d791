"""Where the time of one minivae training step goes, part by part (CPU).

    python benchmarks/speed/profile_step.py --threads 2 --data-dir ../shared/data/mnist
    python benchmarks/speed/profile_step.py --threads 1 --cprofile     # also the top functions

The default model (784-400-20, batch 128, float32) takes one step as the
training loop does (gather a batch, loss_and_grads, Adam), then each part of
it alone, round after round so that every part sees the same machine load:

    GEMMs alone          exactly the step's matrix products (benchmarks/common.py)
    Bernoulli NLL+grad   the reconstruction term and its gradient
    eps draw             the (B, Z) float32 noise
    batch gather         one shuffled (B, D) batch out of the dataset
    Adam step            the update of all parameters, in the form a model
                         gets (compiled with Numba when it is installed)
    rest of fwd/bwd      loss_and_grads minus the three parts above inside it:
                         bias adds, ReLU, reparameterization, KL, reductions, Python
    ... NumPy form       Adam in NumPy's in-place chunks (fast.FastOps), what a
                         model gets without Numba
    ... plain form       Adam in its plain form (minivae/ops.py)
The differences are what each fast form saves. Adam alone runs on a copy
of the model whose arrays stay in cache, so it shows less than the step
gains: in the training step Adam rereads vectors the backward pass evicted.
Figures are medians over the rounds, in ms per step and in seconds per epoch
(469 steps of 128 images).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # common.py
from common import (GemmFloor, dense_shapes, epoch_batch_sizes, load_train_images,  # noqa: E402
                    median, threads_from_argv)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="BLAS threads (OPENBLAS_NUM_THREADS), set before NumPy loads")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=100, help="steps per part per round")
    p.add_argument("--rounds", type=int, default=7, help="rounds; the median is reported")
    p.add_argument("--data-dir", default=None, help="MNIST IDX files (default: $MINIVAE_DATA_DIR, "
                   "else synthetic data of the same shape)")
    p.add_argument("--warmup", type=int, default=200, help="training steps before timing")
    p.add_argument("--cprofile", action="store_true", help="also print cProfile's top functions")
    return p.parse_args(argv)


def main(argv=None):
    threads_from_argv(argv)
    args = parse_args(argv)
    import numpy as np
    import minivae
    from minivae.layers import forward_through
    from minivae.data import BatchIterator
    from minivae.fast.forms import FastOps

    B = args.batch_size
    x_all, source = load_train_images(args.data_dir)
    model = minivae.VAE(seed=1)
    opt = minivae.Adam(model.params, lr=1e-3)
    it = BatchIterator(x_all, B, seed=1)
    n_epoch = len(epoch_batch_sizes(len(x_all), B))

    def train(n):
        """n training steps, as the training loop runs them."""
        done = 0
        while done < n:
            for x in it:
                model.loss_and_grads(x)
                opt.step(model.grads)
                done += 1
                if done == n:
                    return

    train(args.warmup)   # past the first steps: the values are those of a model in training
    batches = [np.take(x_all, np.random.default_rng(i).permutation(len(x_all))[:B], axis=0)
               for i in range(args.steps)]
    mu, logvar = model.encode(batches[0])
    logits = forward_through(model.decoder, mu)              # (B, D), realistic logits
    floor = GemmFloor(dense_shapes(model.params), [B])
    shadow = minivae.VAE(seed=2)                             # Adam alone runs on a copy
    shadow.loss_and_grads(batches[0])
    shadow_opt = minivae.Adam(shadow.params, lr=1e-3)
    plain = minivae.VAE(seed=2, fast=False)                  # a model's optimizer runs its forms:
    plain.loss_and_grads(batches[0])                         # the plain Adam needs a plain model
    plain_opt = minivae.Adam(plain.params, lr=1e-3)
    numpy_opt = minivae.Adam(shadow.params, lr=1e-3)
    numpy_opt.ops = FastOps(np)                                       # Adam in NumPy's chunks

    order = np.random.default_rng(0).permutation(len(x_all))

    def nll_and_grad():
        model.likelihood.nll_and_grad(logits, batches[0], 1.0 / B)

    def loop(fn):
        def run():
            for i in range(args.steps):
                fn(i)
        return run

    parts = {
        "whole step": lambda: train(args.steps),
        "loss_and_grads": loop(lambda i: model.loss_and_grads(batches[i])),
        "  GEMMs alone": loop(lambda i: floor.step(B)),
        "  Bernoulli NLL+grad": loop(lambda i: nll_and_grad()),
        "  eps draw": loop(lambda i: model.rng.normal((B, model.latent_dim))),
        "Adam step": loop(lambda i: shadow_opt.step(shadow.grads)),
        "  ... NumPy form": loop(lambda i: numpy_opt.step(shadow.grads)),
        "  ... plain form": loop(lambda i: plain_opt.step(plain.grads)),
        "batch gather": loop(lambda i: np.take(x_all, order[i * B:(i + 1) * B], axis=0)),
    }
    times = {k: [] for k in parts}
    for _ in range(args.rounds):
        for name, fn in parts.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
    ms = {k: median(v) for k, v in times.items()}
    ms["  rest of fwd/bwd"] = (ms["loss_and_grads"] - ms["  GEMMs alone"]
                               - ms["  Bernoulli NLL+grad"] - ms["  eps draw"])
    ms["loop and other"] = ms["whole step"] - ms["loss_and_grads"] - ms["Adam step"] - ms["batch gather"]

    print(f"minivae {minivae.__file__}")
    print(f"numpy {np.__version__}, {args.threads} BLAS thread(s), batch {B}, data: {source}")
    print(f"the optimizer's forms: {opt.ops.name} ({type(opt.ops).__name__})")
    print(f"GEMMs: {floor.flops[B] / 1e6:.0f} MFLOP per step, "
          f"{floor.flops[B] / ms['  GEMMs alone'] / 1e6:.1f} GFLOP/s")
    print(f"{'part':24s} {'ms/step':>8s} {'share':>6s} {'s/epoch':>8s}")
    for name in ["whole step", "loss_and_grads", "  GEMMs alone", "  Bernoulli NLL+grad",
                 "  eps draw", "  rest of fwd/bwd", "Adam step", "  ... NumPy form",
                 "  ... plain form", "batch gather", "loop and other"]:
        print(f"{name:24s} {ms[name]:8.3f} {ms[name] / ms['whole step']:6.1%} "
              f"{ms[name] * n_epoch / 1e3:8.3f}")
    for fast, plain in (("Adam step", "  ... plain form"), ("Adam step", "  ... NumPy form"),
                        ("  ... NumPy form", "  ... plain form")):
        saved = ms[plain] - ms[fast]
        print(f"{fast.strip(' .')} against {plain.strip(' .')}: {saved:.3f} ms per step less, "
              f"{saved / (ms['whole step'] + ms[plain] - ms['Adam step']):.1%} of a step "
              f"with the {plain.strip(' .')}")
    if args.cprofile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.runcall(train, 5 * args.steps)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    return ms


if __name__ == "__main__":
    main()
