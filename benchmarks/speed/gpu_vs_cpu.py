"""Every flow of minivae on the GPU against the same flow on the CPU: the same weights, data
and noise on both sides, the largest relative difference of each result.

    python benchmarks/speed/gpu_vs_cpu.py [--json OUT] [--rtol32 1e-5] [--rtol64 1e-10] [--size small]

The flows: one training step (loss, its parts, every gradient, then Adam's
update) of each kind of model at a realistic size (the default 784-400-20 VAE,
its plain forms, IWAE and the k-sample ELBO with K = 5, a Gaussian VAE, the
autoencoder, a conv VAE and a conv autoencoder on 28 x 28 images, a CVAE); the
test-set measurement (ELBO, MSE, PSNR, SSIM) and the importance-weighted
log-likelihood with K = 50, both drawing their noise from one NumPy generator;
decoding given codes, as sample does; and a GPU model saved and loaded on the
CPU, bit for bit. Each in float32 and float64. A difference is
max |gpu - cpu| / max |cpu| over an array, so one number per result; the
exit status is 1 if any exceeds its dtype's tolerance (float32 about 1e-5:
the GPU's GEMMs sum in another order; float64 1e-10).

A step's float32 tolerance is also at least twice float32's own error on
that step, up to ten times 1e-5: the CPU's float32 step against its float64
step from the same weights and inputs (the column "f32 error"). Each side is
about that far from the exact result, so two correct sides may be twice that
apart. It matters for IWAE: float32 holds its log w ~ -500 only to about 3e-5 (half
its spacing there), softmax(log w) makes that a relative error of the
weights, and its float32 gradients come out about 1e-5 off.

benchmarks/speed/gpu_suite.sh runs it on a GPU; the test suite runs it on the
CPU stand-in for CuPy at both sizes (tests/scripts/test_gpu_suite.py),
where only the fused kernels' forms differ from NumPy's.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(os.path.dirname(HERE))]      # the repository: minivae

from minivae import CVAE, IWAE, VAE, Adam, Autoencoder, load_model  # noqa: E402
from minivae.backend import Generator, cuda_problem, to_numpy  # noqa: E402
from minivae.run import evaluation  # noqa: E402

SIZES = {   # (dense model, conv model, batch, image shape): MNIST's, or tiny for the tests
    "full": (dict(input_dim=784, hidden_dims=(400,), latent_dim=20, seed=0),
             dict(arch="conv", image_shape=(1, 28, 28), channels=(32, 64), hidden_dims=(),
                  latent_dim=16, seed=0), 128, (28, 28)),
    "small": (dict(input_dim=64, hidden_dims=(16,), latent_dim=3, seed=0),
              dict(arch="conv", image_shape=(1, 8, 8), channels=(3, 4), hidden_dims=(),
                   latent_dim=3, seed=0), 16, (8, 8)),
}
DENSE, CONV, B, IMAGE = SIZES["full"]
MODELS = {
    "vae": lambda **kw: VAE(**DENSE, **kw),
    "vae, plain forms": lambda **kw: VAE(**DENSE, fast=False, **kw),
    "vae, gaussian": lambda **kw: VAE(**DENSE, likelihood="gaussian", gaussian_std=0.5, **kw),
    "iwae k=5": lambda **kw: IWAE(k=5, **DENSE, **kw),
    "elbo k=5": lambda **kw: IWAE(k=5, objective="elbo", **DENSE, **kw),
    "autoencoder": lambda **kw: Autoencoder(**DENSE, **kw),
    "conv vae": lambda **kw: VAE(**CONV, **kw),
    "conv autoencoder": lambda **kw: Autoencoder(**CONV, **kw),
    "cvae": lambda **kw: CVAE(num_classes=10, **DENSE, **kw),
}


def difference(gpu, cpu):
    """max |gpu - cpu| / max |cpu|, in float64."""
    gpu, cpu = np.asarray(to_numpy(gpu), np.float64), np.asarray(to_numpy(cpu), np.float64)
    return float(np.abs(gpu - cpu).max() / max(np.abs(cpu).max(), 1e-300))


def pair(kind, dtype):
    """(cpu model, gpu model) with the CPU model's weights on both."""
    cpu, gpu = MODELS[kind](device="cpu", dtype=dtype), MODELS[kind](device="cuda", dtype=dtype)
    for name, value in cpu.params.items():
        gpu.params[name][...] = gpu.xp.asarray(value)
    return cpu, gpu


def inputs(model, seed=1):
    """x (B, D) of 0/1, eps (K, B, Z) or (B, Z), a CVAE's labels: NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = (rng.random((B, model.input_dim)) > 0.5).astype(model.dtype)
    k = getattr(model, "k", None)
    eps = rng.standard_normal(((k,) if k else ()) + (B, model.latent_dim)).astype(model.dtype)
    extra = (rng.integers(0, model.num_classes, B),) if model.kind == "cvae" else ()
    return x, eps, extra


def step_difference(a, b):
    """The largest difference between two steps' (loss, parts, grads)."""
    (loss_a, parts_a, grads_a), (loss_b, parts_b, grads_b) = a, b
    return max([difference(loss_a, loss_b)] + [difference(parts_a[k], parts_b[k]) for k in parts_b]
               + [difference(grads_a[k], grads_b[k]) for k in grads_b])


def float32_error(kind):
    """float32's own error on a step: the CPU's float32 loss, parts and gradients against
    its float64 ones from the same weights and inputs."""
    m32 = MODELS[kind](device="cpu", dtype="float32")
    m64 = MODELS[kind](device="cpu", dtype="float64")
    m64.params.flat[...] = m32.params.flat
    x, eps, extra = inputs(m32)
    loss, parts = m32.loss_and_grads(x, *extra, eps)
    loss64, parts64 = m64.loss_and_grads(x.astype(np.float64), *extra, eps.astype(np.float64))
    return step_difference((loss, parts, m32.grads), (loss64, parts64, m64.grads))


def step(kind, dtype):
    """The largest difference over a step's loss, parts and gradients, and Adam's update.

    Adam updates both sides from the CPU's gradients: its first step moves each
    weight by lr g / (|g| + eps), so where a gradient is near 0 a rounding
    difference in g (already compared above) would become a move of up to 2 lr.
    """
    cpu, gpu = pair(kind, dtype)
    x, eps, extra = inputs(cpu)
    xp = gpu.xp
    loss, parts = cpu.loss_and_grads(x, *extra, eps)
    gloss, gparts = gpu.loss_and_grads(xp.asarray(x), *map(xp.asarray, extra), xp.asarray(eps))
    worst = step_difference((gloss, gparts, gpu.grads), (loss, parts, cpu.grads))
    gpu.grads.flat[...] = xp.asarray(cpu.grads.flat)          # the same gradients on both sides
    Adam(cpu.params).step(cpu.grads)
    Adam(gpu.params).step(gpu.grads)
    return max(worst, difference(gpu.params.flat, cpu.params.flat))


def measurements(dtype):
    """test_set_metrics and iw_log_likelihood (K = 50), noise from one NumPy generator."""
    cpu, gpu = pair("vae", dtype)
    x = np.random.default_rng(2).random((300, cpu.input_dim)).astype(dtype)   # grey levels
    (elbo, quality), (gelbo, gquality) = (
        evaluation.test_set_metrics(m, m.xp.asarray(x), IMAGE, batch_size=128,
                                    rng=Generator(np, 3)) for m in (cpu, gpu))
    out = {"test ELBO, MSE, PSNR, SSIM": max(
        [difference(gelbo[k], elbo[k]) for k in elbo]
        + [difference(gquality[k], quality[k]) for k in quality])}
    lp, glp = (evaluation.iw_log_likelihood(m, m.xp.asarray(x), 50, rng=Generator(np, 4))
               for m in (cpu, gpu))
    out["log p(x), K = 50"] = difference(glp, lp)
    z = np.random.default_rng(5).standard_normal((64, cpu.latent_dim)).astype(dtype)
    out["decode(z), as sample"] = difference(gpu.decode(gpu.xp.asarray(z)), cpu.decode(z))
    return out


def saved_bits(dtype):
    """0 if a GPU model saved and loaded on the CPU holds the same bits, else 1."""
    _, gpu = pair("iwae k=5", dtype)
    with tempfile.TemporaryDirectory() as tmp:
        gpu.save(os.path.join(tmp, "model.npz"))
        back = load_model(os.path.join(tmp, "model.npz"), device="cpu")
    same = to_numpy(gpu.params.flat).tobytes() == back.params.flat.tobytes()
    return 0.0 if same else 1.0


def compare():
    """({(flow, dtype): difference}, {flow: float32's own error on it}) (steps only)."""
    rows = {}
    for dtype in ("float32", "float64"):
        for kind in MODELS:
            rows[(f"step: {kind}", dtype)] = step(kind, dtype)
        for flow, value in measurements(dtype).items():
            rows[(flow, dtype)] = value
        rows[("saved on the GPU, loaded on the CPU", dtype)] = saved_bits(dtype)
    return rows, {f"step: {kind}": float32_error(kind) for kind in MODELS}


CAP = 10   # a float32 tolerance never widens past CAP x --rtol32, whatever float32's own error


def tolerance(dtype, own_error, args):
    """A row's tolerance: rtol64; rtol32, or twice float32's own error on the step (None:
    not a step) where that is more, up to CAP x rtol32, so that a float32 bug on the CPU
    side cannot widen the check without bound."""
    if dtype == "float64":
        return args.rtol64
    return max(args.rtol32, min(2 * (own_error or 0.0), CAP * args.rtol32))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", metavar="OUT", help="also write the differences here")
    p.add_argument("--rtol32", type=float, default=1e-5, help="float32's tolerance (1e-5)")
    p.add_argument("--rtol64", type=float, default=1e-10, help="float64's tolerance (1e-10)")
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="full: MNIST's sizes (default); small: tiny models, for the tests")
    args = p.parse_args(argv)
    global DENSE, CONV, B, IMAGE
    DENSE, CONV, B, IMAGE = SIZES[args.size]
    if cuda_problem():
        print(f"gpu_vs_cpu: no GPU to compare with ({cuda_problem()})", file=sys.stderr)
        return 2
    rows, own = compare()
    tol = {(flow, dtype): tolerance(dtype, own.get(flow), args) for flow, dtype in rows}
    print(f"{'flow':42s} {'float32':>10s} {'float64':>10s} {'f32 error':>10s}   "
          "(max |gpu - cpu| / max |cpu|; f32 error: float32 against float64 on the CPU)")
    failed = []
    for flow in dict.fromkeys(f for f, _ in rows):
        cells = []
        for dtype in ("float32", "float64"):
            value = rows[(flow, dtype)]
            bad = not value <= tol[(flow, dtype)]
            failed += [f"{flow} ({dtype})"] if bad else []
            cells.append(f"{value:9.1e}{'!' if bad else ' '}")
        cells.append(f"{own[flow]:9.1e}" if flow in own else f"{'-':>9s}")
        print(f"{flow:42s} {' '.join(cells)}")
    print(f"{len(rows) - len(failed)} of {len(rows)} within tolerance (float32 {args.rtol32:g}, or "
          f"twice the f32 error where that is more, up to {CAP * args.rtol32:g}; "
          f"float64 {args.rtol64:g})"
          + (f"; over it: {', '.join(failed)}" if failed else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": [{"flow": k[0], "dtype": k[1], "difference": v,
                                 "tolerance": tol[k],
                                 "float32_error": own.get(k[0]) if k[1] == "float32" else None}
                                for k, v in rows.items()]}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
