"""Latent size 2 vs 20 vs 50: the trade between reconstruction and KL.

The negative ELBO has two terms. The reconstruction term -log p(x|z) falls
when the code z carries more about the image; the KL term KL(q(z|x) || p(z))
is the price, in nats, of what z carries. Z = 2 cannot carry much: blurry
reconstructions, small KL. Z = 20 carries far more and pays for it in KL.
Z = 50 has room it does not use: the KL penalty switches the extra
dimensions off as training goes on (posterior collapse), so the active units
stop growing and Z = 50 gains little over Z = 20. A unit j is active
when its posterior mean moves with the input, Var_x[mu_j(x)] > 0.01 (Burda
et al. 2015, Sec. 5.2).

    python examples/latent_size.py                      # 3 VAEs x 10 epochs
    python examples/latent_size.py --epochs 50 --sizes 2,5,10,20,50,100

Prints a table of the test set's negative ELBO, its two terms and the active
units for each size; draws out/latent_size.png: every model on the plane of
KL (rate) against reconstruction (distortion), and 64 samples from each.
"""

from __future__ import annotations

import numpy as np

import minivae
from minivae.run.evaluation import ACTIVE_THRESHOLD, active_units
from minivae.run.plots import mosaic, new_figure, save_figure, show_image

from _common import (figure_path, load_data, model_input, parser, print_table, rate_distortion,
                     recon_and_kl, train)


def main(argv=None, data=None) -> list[dict]:
    p = parser(__doc__, epochs=10)
    p.add_argument("--sizes", default="2,20,50", help="latent sizes Z to compare, comma-separated")
    p.add_argument("--hidden", type=int, default=400, help="width of the hidden layer")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    data = load_data(args, data)
    D = int(np.prod(data.image_shape))

    results = []
    for Z in sizes:
        # Same architecture, seed and batches for every Z: only the latent size differs.
        model = minivae.VAE(input_dim=D, hidden_dims=(args.hidden,), latent_dim=Z,
                            device=args.device, seed=args.seed)
        train(model, data.train_images, args.epochs, args.batch_size, args.lr, args.seed,
              desc=f"Z={Z}")
        x = model_input(model, data.test_images)                  # (N, D)
        recon, kl = recon_and_kl(model, x)                        # (N,) each
        units, activity = active_units(model, x)                  # activity: (Z,)
        z = np.random.default_rng(0).standard_normal((64, Z))     # (64, Z) from the prior
        results.append(dict(Z=Z, loss=recon.mean() + kl.mean(), recon=recon.mean(),
                            kl=kl.mean(), active=units, activity=activity,
                            samples=minivae.to_numpy(model.decode(z))))   # (64, D)

    print(f"\nTest set, {len(data.test_images)} images, after {args.epochs} epochs "
          "(nats per image; -ELBO with one z per image):")
    print_table(["Z", "-ELBO", "recon", "KL", "active units"],
                [(r["Z"], r["loss"], r["recon"], r["kl"], f"{r['active']}/{r['Z']}")
                 for r in results])
    path = draw(results, data.image_shape, figure_path(args, "latent_size.png"))
    print(f"\nFigure: {path}")
    return results


def draw(results, image_shape, path) -> str:
    n = len(results)
    fig = new_figure(8.4 + 2.7 * n, 3.6)
    axes = fig.subplots(1, n + 2, width_ratios=[1.5, 1.5] + [1] * n)
    rate_distortion(axes[0], [r["kl"] for r in results], [r["recon"] for r in results],
                    [f"Z={r['Z']}" for r in results])
    axes[0].set_title("reconstruction vs KL on the test set", fontsize=10)

    ax = axes[1]   # each dimension's activity, most active first: where collapse shows
    for i, r in enumerate(results):
        ax.plot(np.arange(1, r["Z"] + 1), np.sort(r["activity"])[::-1], ".-", color=f"C{i}",
                label=f"Z={r['Z']}")
    ax.axhline(ACTIVE_THRESHOLD, color="grey", ls="--", lw=0.8)
    ax.annotate(f"active: Var > {ACTIVE_THRESHOLD:g}", (1, 1.2 * ACTIVE_THRESHOLD), fontsize=8,
                color="grey")
    ax.set_yscale("log")
    ax.set_xlabel("latent dimension j, most active first")
    ax.set_ylabel("Var over test images of mu_j(x)")
    ax.set_title("activity of each latent dimension", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    for ax, r in zip(axes[2:], results):
        show_image(ax, mosaic(r["samples"], image_shape, ncols=8),
                   f"Z={r['Z']}: samples, {r['active']} active units")
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
