"""Posterior collapse, seen as it happens: no remedy, KL warm-up, free bits.

The KL term charges for every nat that z carries about x. When the decoder
gains less from z than z costs, the cheapest code is none at all: q(z|x)
becomes the prior for every x, the KL goes to 0 and z is ignored (Bowman et
al. 2016). Here the decoder's p(x|z) is a Gaussian with a broad standard
deviation (--gaussian-std 2.5): it explains a pixel's error so cheaply that
a code hardly pays, and the plain VAE collapses within its first epoch.

Three runs of the same model, seed and batches:

* plain: the ELBO from the first step;
* warm-up (Bowman et al. 2016; Sønderby et al. 2016): the KL's weight rises
  linearly from 0 to 1 over the first --warmup epochs, so the decoder learns
  to read z before z is charged for (``run.schedule.kl_weight``);
* free bits (Kingma et al. 2016): each latent dimension's first --free-bits
  nats of KL are not charged, so nothing pushes a dimension below them to the
  prior (``VAE(free_bits=...)``, docs/math.md §14).

Each epoch it prints, for each run, the test set's KL and its active units
(dimensions whose posterior mean moves with x, Var_x E_q[z_j] > 0.01, Burda et
al. 2015); at the end the negative ELBO, the reconstruction term and the
active units. What to look for: which run keeps z in use, and what that costs
in the bound. ``python -m minivae.train --kl-warmup N --free-bits L`` does the
same in a run, and warns when a run collapses.

    python examples/posterior_collapse.py                  # 3 VAEs x 10 epochs, ~1 minute
    python examples/posterior_collapse.py --gaussian-std 1 # a code that pays: no collapse

Draws out/posterior_collapse.png: each run's KL and active units per epoch.
"""

from __future__ import annotations

import numpy as np

import minivae
from minivae.run.evaluation import evaluate_elbo, latent_diagnostics
from minivae.run.plots import new_figure, save_figure
from minivae.run.schedule import kl_weight

from _common import figure_path, load_data, model_input, parser, print_table


def train_and_watch(model, data, x_test, args, warmup: int) -> list[dict]:
    """Train with Adam, the KL's weight from ``kl_weight``; measure the test set each epoch."""
    opt = minivae.Adam(model.params, lr=args.lr)
    batches = minivae.BatchIterator(data.train_images[:args.n_train], args.batch_size,
                                    seed=args.seed, dtype=model.dtype, xp=model.xp)
    history = []
    for epoch in range(1, args.epochs + 1):
        for step, x in enumerate(batches):                        # x: (B, D)
            beta = kl_weight(1.0, warmup, epoch, step, len(batches))   # 0 -> 1, or 1 throughout
            model.loss_and_grads(x, beta=beta)
            opt.step(model.grads)
        history.append({"epoch": epoch, "beta": beta, **latent_diagnostics(model, x_test)})
    return history


def main(argv=None, data=None) -> dict:
    p = parser(__doc__, epochs=10)
    p.add_argument("--hidden", type=int, default=256, help="width of the hidden layer")
    p.add_argument("--latent-dim", type=int, default=16, help="Z")
    p.add_argument("--gaussian-std", type=float, default=2.5,
                   help="std of the Gaussian p(x|z): the larger, the less a code pays")
    p.add_argument("--warmup", type=int, default=5, help="epochs of KL warm-up")
    p.add_argument("--free-bits", type=float, default=0.5, help="lambda, nats per dimension")
    p.add_argument("--n-train", type=int, default=20000, help="training images used")
    args = p.parse_args(argv)
    data = load_data(args, data)
    D = int(np.prod(data.image_shape))
    runs = {"plain": dict(warmup=0, free_bits=0.0),
            f"warm-up {args.warmup}": dict(warmup=args.warmup, free_bits=0.0),
            f"free bits {args.free_bits:g}": dict(warmup=0, free_bits=args.free_bits)}

    results = {}
    for name, how in runs.items():
        model = minivae.VAE(input_dim=D, hidden_dims=(args.hidden,), latent_dim=args.latent_dim,
                            likelihood="gaussian", gaussian_std=args.gaussian_std,
                            free_bits=how["free_bits"], device=args.device, seed=args.seed)
        x_test = model_input(model, data.test_images)             # (N, D)
        history = train_and_watch(model, data, x_test, args, how["warmup"])
        results[name] = {"history": history, **evaluate_elbo(model, x_test)}

    names = list(results)
    print(f"\nEach epoch: the test set's KL (nats per image) and active units of {args.latent_dim}"
          f" (Gaussian p(x|z), std {args.gaussian_std:g}):")
    print_table(["epoch"] + [f"{n}: KL, active" for n in names],
                [[str(e + 1)] + [f"{results[n]['history'][e]['kl']:.3f}, "
                                 f"{results[n]['history'][e]['active_units']:2d}" for n in names]
                 for e in range(args.epochs)])
    print(f"\nAfter {args.epochs} epochs, test set (nats per image, one z per image):")
    print_table(["run", "-ELBO", "recon", "KL", "active units"],
                [(n, r["loss"], r["recon"], r["kl"],
                  f"{r['history'][-1]['active_units']}/{args.latent_dim}")
                 for n, r in results.items()], [None, ".2f", ".2f", ".3f", None])

    fig = new_figure(9.0, 3.2)
    left, right = fig.subplots(1, 2)
    for n, r in results.items():
        epochs = [h["epoch"] for h in r["history"]]
        left.plot(epochs, [h["kl"] for h in r["history"]], marker="o", markersize=3, label=n)
        right.plot(epochs, [h["active_units"] for h in r["history"]], marker="o", markersize=3,
                   label=n)
    left.set(xlabel="epoch", ylabel="test KL (nats per image)", title="what z carries")
    right.set(xlabel="epoch", ylabel="active units", title="dimensions in use",
              ylim=(-0.5, args.latent_dim + 0.5))
    left.legend(fontsize=8)
    print(f"\nwrote {save_figure(fig, figure_path(args, 'posterior_collapse.png'))}")
    return results


if __name__ == "__main__":
    main()
