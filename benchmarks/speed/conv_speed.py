"""The conv VAE: minivae against an independent PyTorch conv VAE, side by side, CPU.

    python benchmarks/speed/conv_speed.py --threads 2 --steps 60      # partial epochs, ~2 min
    python benchmarks/speed/conv_speed.py --threads 2                 # full epochs (469 steps)

Both sides train the same architecture, written twice: minivae's
``VAE(arch="conv")`` default for 1x28x28 (Conv 1->32->64, kernel 4, stride 2,
padding 1, ReLU; Dense 3136-400, heads 400-20; the decoder mirrors it with
ConvTranspose 64->32->1; Bernoulli logits + KL; Adam 1e-3; float32; batch
128) and here, with torch.nn layers (PyTorch eager, whose CPU convolutions
run oneDNN). Same threads for both (OpenBLAS and torch.set_num_threads), data
in memory. After a warm-up, --rounds rounds of minivae, PyTorch and the GEMM
floor in rotating order, so that each sees the same machine load; medians.

    GEMM floor    exactly the matrix products of minivae's step (the im2col
                  GEMMs of every Conv2d/ConvTranspose2d, forward and backward,
                  and the Dense layers'), on preallocated operands with NumPy
                  alone: what im2col over the same BLAS cannot go below.
    peak memory   a fresh process per side trains --memory-steps steps: its
                  peak resident memory, and "+" the rise over the memory
                  before the model was built.

--steps N times N-step partial epochs and scales them to the 469 steps of an
epoch ("s/epoch" is then an estimate; ms/step is measured).
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]     # speed/ (its neighbours), benchmarks/ (common.py)
from common import (cpu_name, epoch_batch_sizes, load_train_images, median,  # noqa: E402
                    reset_peak_rss, status_kb, threads_from_argv)
from speed import cpu_timer, time_rounds  # noqa: E402

FULL_EPOCH = 469   # steps of one MNIST epoch at batch 128


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="steps per timed partial epoch")
    p.add_argument("--rounds", type=int, default=3, help="timed epochs of each side")
    p.add_argument("--data-dir", default=None, help="MNIST (default: $MINIVAE_DATA_DIR, "
                   "else synthetic data of the same shape, which times the same)")
    p.add_argument("--memory-steps", type=int, default=20, help="0: skip the memory processes")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--memory-of", choices=["minivae", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.batch_size < 1 or args.rounds < 1 or (args.steps is not None and args.steps < 1):
        p.error("--batch-size, --rounds and --steps must be positive")
    return args


class MinivaeConv:
    def __init__(self, x, B):
        import minivae
        self.model = minivae.VAE(arch="conv", seed=1)
        self.opt = minivae.Adam(self.model.params, lr=1e-3)
        self.batches = minivae.BatchIterator(x, B, seed=1)

    def epoch(self):
        for x in self.batches:                                  # (B, 784)
            self.model.loss_and_grads(x)
            self.opt.step(self.model.grads)


class TorchConv:
    """The same conv VAE in PyTorch eager, written independently of minivae."""

    def __init__(self, x, B):
        import torch
        from torch import nn
        torch.manual_seed(1)
        self.torch, self.x, self.B = torch, torch.from_numpy(x), B
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1),
                                 nn.ReLU(), nn.Flatten(), nn.Linear(3136, 400), nn.ReLU())
        self.mu, self.logvar = nn.Linear(400, 20), nn.Linear(400, 20)
        self.dec = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 3136), nn.ReLU(),
                                 nn.Unflatten(1, (64, 7, 7)), nn.ConvTranspose2d(64, 32, 4, 2, 1),
                                 nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Flatten())
        params = [p for m in (self.enc, self.mu, self.logvar, self.dec) for p in m.parameters()]
        self.n_params = sum(p.numel() for p in params)
        self.opt = torch.optim.Adam(params, lr=1e-3)
        self.gen = torch.Generator().manual_seed(1)

    def epoch(self):
        torch, F = self.torch, self.torch.nn.functional
        for idx in torch.randperm(len(self.x), generator=self.gen).split(self.B):
            x = self.x[idx]                                                 # (B, 784)
            h = self.enc(x.view(-1, 1, 28, 28))
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            logits = self.dec(z)
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp()) / len(x)
            self.opt.zero_grad()
            (recon + kl).backward()
            self.opt.step()


class ConvGemmFloor:
    """The GEMMs of one minivae conv-VAE step, as minivae/conv.py and layers.Dense run them."""

    def __init__(self, model, B):
        import numpy as np
        from minivae.conv import Conv2d, ConvTranspose2d
        from minivae.layers import Dense
        model.loss_and_grads(np.zeros((B, model.input_dim), np.float32))   # shapes, cached
        rng = np.random.default_rng(0)
        rand = lambda *s: rng.random(s, dtype=np.float32)                  # noqa: E731
        layers = [getattr(l, "layer", l) for l in model.encoder + model.decoder]
        layers += [model.mu_head, model.logvar_head]
        first = layers[0]
        self.ops = []                                      # (a, b, out): out = a @ b

        def add(a_shape, b_shape, transpose_b=False):
            a = rand(*a_shape)
            b = rand(*b_shape[::-1]).T if transpose_b else rand(*b_shape)
            self.ops.append((a, b, np.empty((a_shape[0], b_shape[1]), np.float32)))

        for l in layers:
            if isinstance(l, Conv2d):                      # y = W2 cols; dW = dy cols^T; dcols
                (K, L), O = l.cols.shape, l.out_channels
                add((O, K), (K, L)); add((O, L), (L, K), transpose_b=True)
                if l is not first:
                    add((K, O), (O, L))
            elif isinstance(l, ConvTranspose2d):           # cols = W2^T x2; dW; dx2
                (C, L), OKK = l.x2.shape, l.W[0].size
                add((OKK, C), (C, L)); add((C, L), (L, OKK), transpose_b=True); add((C, OKK), (OKK, L))
            elif isinstance(l, Dense):
                (b, i), o = l.x.shape, l.W.shape[1]
                add((b, i), (i, o)); add((i, b), (b, o)); add((b, o), (o, i))
        self.flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in self.ops)

    def step(self):
        import numpy as np
        for a, b, out in self.ops:
            np.matmul(a, b, out=out)


def memory_child(args):
    x, _ = load_train_images(args.data_dir, n_rows=args.memory_steps * args.batch_size)
    if args.memory_of == "torch":
        import torch
        torch.set_num_threads(args.threads)
    else:
        import minivae  # noqa: F401
    import gc
    gc.collect()
    reset = reset_peak_rss()
    before = status_kb("VmRSS")
    (TorchConv if args.memory_of == "torch" else MinivaeConv)(x, args.batch_size).epoch()
    peak = status_kb("VmHWM")
    print(json.dumps({"peak_mb": peak / 1024 if peak else None,
                      "train_mb": (peak - before) / 1024 if reset and peak and before else None}))


def measure_memory(args, which):
    import subprocess
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-of", which, "--threads",
           str(args.threads), "--batch-size", str(args.batch_size), "--memory-steps",
           str(args.memory_steps)] + (["--data-dir", args.data_dir] if args.data_dir else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    threads_from_argv(argv)
    args = parse_args(argv)
    if args.memory_of:
        return memory_child(args)
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    n_rows = None if args.steps is None else args.steps * args.batch_size
    x, source = load_train_images(args.data_dir, n_rows)
    steps = len(epoch_batch_sizes(len(x), args.batch_size))
    mv, tc = MinivaeConv(x, args.batch_size), TorchConv(x, args.batch_size)
    assert mv.model.num_params == tc.n_params, (mv.model.num_params, tc.n_params)
    floor = ConvGemmFloor(mv.model.__class__(arch="conv", seed=1), args.batch_size)
    sides = {"minivae": mv.epoch, "torch": tc.epoch,
             "floor": lambda: [floor.step() for _ in range(steps)]}
    times = time_rounds(sides, cpu_timer, args.rounds)
    med = {k: median(v) for k, v in times.items()}
    memory = {w: measure_memory(args, w) for w in ("minivae", "torch")} if args.memory_steps else {}
    scale = FULL_EPOCH / steps
    print(f"\n# conv VAE 1x28x28, {mv.model.num_params:,} parameters | {args.threads} thread(s) | "
          f"{source} | numpy {np.__version__}, torch {torch.__version__} | {cpu_name()} | "
          f"load average {os.getloadavg()[0]:.1f} | {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"batch {args.batch_size}, {steps} steps timed per epoch"
          + (f" (scaled x{scale:.2f} to the {FULL_EPOCH}-step epoch)" if steps != FULL_EPOCH else "")
          + f", median of {args.rounds} rounds, alternating")
    print(f"{'':22s} {'s/epoch':>8s} {'ms/step':>8s} {'vs torch':>9s} {'vs floor':>9s}  peak RSS (train +)")
    for name, label in (("minivae", "minivae (NumPy)"), ("torch", "PyTorch eager"),
                        ("floor", "im2col GEMM floor")):
        m = memory.get(name)
        mtxt = (f"{m['peak_mb']:.0f} MB (+{m['train_mb']:.0f})" if m and m["train_mb"] else
                f"{floor.flops * steps / med['floor'] / 1e9:.0f} GFLOP/s" if name == "floor" else "-")
        print(f"{label:22s} {med[name] * scale:8.2f} {med[name] / steps * 1e3:8.1f} "
              f"{med[name] / med['torch']:8.2f}x {med[name] / med['floor']:8.2f}x  {mtxt}")
    ratio = med["minivae"] / med["torch"]
    print(f"\ntarget: minivae's epoch <= 1.0x PyTorch eager's: {ratio:.2f}x, "
          f"{'met' if ratio <= 1.0 else 'not met'}")
    result = {"seconds": times, "median_s": med, "steps": steps, "ratio_to_torch": ratio,
              "memory": memory, "floor_flops_per_step": floor.flops}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
