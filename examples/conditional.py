"""A conditional VAE beside a VAE: "draw me a 7", and what the label is worth in nats.

The CVAE (Sohn et al. 2015; Kingma et al. 2014) reads the digit's label y in
both halves, q(z | x, y) and p(x | z, y), so its z need not hold the class and
``decode(z, y)`` draws any digit in the style z (docs/math.md §13). Both
models here have the same layers, seed, batches and epochs; the CVAE's first
layers only have 10 more inputs.

What the numbers say. The VAE's importance-weighted bound estimates
-log p(x); the CVAE's estimates -log p(x | y). Since

    log p(x | y) = log p(x) + log p(y | x) - log p(y),

with p(y | x) <= 1 and p(y) = 1/10, a perfect model's conditional NLL would be
at most log 10 = 2.30 nats below its unconditional one, and nearly that when
the digit is plain from the image. A gap wider than 2.3 nats says that one
model fits better than the other, not that the label carries more. The CVAE
settles it itself: averaged over the labels, p(x) = (1/10) sum_y p(x | y) is an
unconditional model too, whose -log p(x) (from a bound on each p(x | y), --k-mix
samples each) stands beside the VAE's; and argmax_y p(x | y) is a classifier,
whose test accuracy says how plain the digit is from the image. The CVAE's KL
is smaller: the class no longer has to be paid for in z.

    python examples/conditional.py                  # 2 models x 10 epochs, a few minutes
    python examples/conditional.py --binarize --epochs 50

Draws out/conditional.png: the CVAE's class grid (one row per digit, the same
z down each column) beside the VAE's samples.
"""

from __future__ import annotations

import math

import numpy as np

import minivae
from minivae.run.evaluation import evaluate_elbo, iw_log_likelihood
from minivae.run.plots import mosaic, new_figure, save_figure, show_image

from _common import figure_path, load_data, model_input, parser, print_table


def train(model, data, args) -> None:
    """Adam over the training set; a CVAE's batches carry their labels, (x, y)."""
    opt = minivae.Adam(model.params, lr=args.lr)
    labels = data.train_labels.astype(np.int64) if isinstance(model, minivae.CVAE) else None
    batches = minivae.BatchIterator(data.train_images, args.batch_size, seed=args.seed,
                                    binarize=args.binarize, dtype=model.dtype, xp=model.xp,
                                    labels=labels)
    for _ in range(args.epochs):
        for batch in batches:                     # x (B, D), or (x (B, D), y (B,))
            model.loss_and_grads(*(batch if labels is not None else (batch,)))
            opt.step(model.grads)


def main(argv=None, data=None) -> dict:
    p = parser(__doc__, epochs=10)
    p.add_argument("--hidden", default="400", help="hidden widths, e.g. 200,200")
    p.add_argument("--latent-dim", type=int, default=20, help="Z")
    p.add_argument("--binarize", action="store_true",
                   help="dynamically binarized training, a fixed binarization of the test set")
    p.add_argument("--k", type=int, default=1000, help="importance samples per test image")
    p.add_argument("--n-test", type=int, default=1000, help="test images the NLL is measured on")
    p.add_argument("--k-mix", type=int, default=100,
                   help="importance samples for each of the C labels of the mixture p(x)")
    args = p.parse_args(argv)
    data = load_data(args, data)
    D = int(np.prod(data.image_shape))
    C = int(max(data.train_labels.max(), data.test_labels.max())) + 1
    hidden = tuple(int(h) for h in args.hidden.split(","))
    y = data.test_labels[:args.n_test].astype(np.int64)         # (N,)

    results = {}
    for name in ("VAE", "CVAE"):
        extra = {"num_classes": C} if name == "CVAE" else {}
        model = getattr(minivae, name)(input_dim=D, hidden_dims=hidden,
                                       latent_dim=args.latent_dim, device=args.device,
                                       seed=args.seed, **extra)
        train(model, data, args)
        x = model_input(model, data.test_images[:args.n_test], 7 if args.binarize else None)
        labels = model.xp.asarray(y) if name == "CVAE" else None
        elbo = evaluate_elbo(model, x, labels=labels)
        log_p = minivae.to_numpy(iw_log_likelihood(model, x, args.k, labels=labels))   # (N,)
        results[name] = {**elbo, "nll": -log_p.mean(), "se": log_p.std() / math.sqrt(len(log_p)),
                         "per_image": -log_p, "model": model}

    cvae = results["CVAE"]["model"]
    x = model_input(cvae, data.test_images[:args.n_test], 7 if args.binarize else None)
    log_pxy = np.stack([minivae.to_numpy(iw_log_likelihood(
        cvae, x, args.k_mix, labels=cvae.xp.full(len(y), c))) for c in range(C)], axis=1)  # (N, C)
    top = log_pxy.max(axis=1, keepdims=True)
    mix = -(top[:, 0] + np.log(np.exp(log_pxy - top).sum(axis=1)) - math.log(C))   # (N,)
    accuracy = float((log_pxy.argmax(axis=1) == y).mean())
    gap = results["VAE"]["per_image"] - results["CVAE"]["per_image"]   # (N,) image by image
    print(f"\nTest set, first {args.n_test} images, after {args.epochs} epochs "
          f"({'binarized' if args.binarize else 'grey-level'} MNIST; nats per image):")
    print_table(["model", "-ELBO", "recon", "KL", f"-L_{args.k}", "s.e."],
                [(n + (" -log p(x|y)" if n == "CVAE" else " -log p(x)"), r["loss"], r["recon"],
                  r["kl"], r["nll"], r["se"]) for n, r in results.items()])
    print(f"\nVAE minus CVAE: {gap.mean():.2f} +- {gap.std() / math.sqrt(len(gap)):.2f} nats "
          f"per image (log {C} = {math.log(C):.2f}: what a perfect model's label could be worth)")
    vs = results["VAE"]["per_image"] - mix                            # (N,)
    print(f"the CVAE without labels, p(x) = (1/{C}) sum_y p(x|y), -L_{args.k_mix} each: "
          f"-log p(x) ~ {mix.mean():.2f} +- {mix.std() / math.sqrt(len(mix)):.2f}, "
          f"{vs.mean():+.2f} +- {vs.std() / math.sqrt(len(vs)):.2f} below the VAE's")
    print(f"the CVAE as a classifier, argmax_y p(x|y): {100 * accuracy:.1f}% of the test labels")

    vae = results["VAE"]["model"]
    z = np.random.default_rng(0).standard_normal((8, args.latent_dim))   # (8, Z): 8 styles
    grid = np.concatenate([minivae.to_numpy(cvae.decode(z, np.full(8, c))) for c in range(C)])
    fig = new_figure(9.0, 0.45 * C + 0.8)
    left, right = fig.subplots(1, 2)
    show_image(left, mosaic(grid, data.image_shape, ncols=8),
               "CVAE: row = class y, column = one z")
    samples = minivae.to_numpy(vae.decode(np.random.default_rng(1).standard_normal(
        (8 * C, args.latent_dim))))
    show_image(right, mosaic(samples, data.image_shape, ncols=8), "VAE: z ~ N(0, I)")
    print(f"wrote {save_figure(fig, figure_path(args, 'conditional.png'))}")
    out = {n: {k: v for k, v in r.items() if k != "model"} for n, r in results.items()}
    return {**out, "mixture": mix, "accuracy": accuracy}


if __name__ == "__main__":
    main()
