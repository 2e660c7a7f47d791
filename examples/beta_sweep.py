"""beta-VAE sweep: what the weight of the KL term does to the code and the samples.

A beta-VAE (Higgins et al. 2017) minimises recon + beta * KL. beta = 1 is the
ELBO. beta < 1 lets the code carry more (higher KL, sharper
reconstructions) and the aggregate of the posteriors drifts away from the
prior, so samples from N(0, I) get worse; beta > 1 taxes every nat of KL, so
the model closes latent dimensions (fewer active units) and blurs the
reconstructions, while its samples become smooth, average-looking digits.

    python examples/beta_sweep.py                       # 5 VAEs x 5 epochs
    python examples/beta_sweep.py --epochs 30 --betas 0.25,0.5,1,2,4,8,16

Prints, for each beta, the loss it trains on, the negative ELBO (recon + KL,
the same yardstick for every beta), both terms and the active units; draws
out/beta_sweep.png: each model on the rate-distortion plane, the samples
each beta decodes from the *same* 64 draws z ~ N(0, I), and reconstructions
of one test digit per class.
"""

from __future__ import annotations

import numpy as np

import minivae
from minivae.run.evaluation import active_units, pick_examples
from minivae.run.plots import mosaic, new_figure, save_figure, show_image

from _common import (figure_path, load_data, model_input, parser, print_table, rate_distortion,
                     recon_and_kl, train)


def main(argv=None, data=None) -> list[dict]:
    p = parser(__doc__)
    p.add_argument("--betas", default="0.5,1,2,4,8", help="KL weights to compare, comma-separated")
    p.add_argument("--latent-dim", type=int, default=20)
    p.add_argument("--hidden", type=int, default=400, help="width of the hidden layer")
    args = p.parse_args(argv)
    betas = [float(b) for b in args.betas.split(",")]
    data = load_data(args, data)
    D = int(np.prod(data.image_shape))
    z = np.random.default_rng(0).standard_normal((64, args.latent_dim))   # (64, Z), shared
    shown = pick_examples(data.test_labels, len(data.test_images))        # one image per class

    results = []
    for beta in betas:
        model = minivae.VAE(input_dim=D, hidden_dims=(args.hidden,), latent_dim=args.latent_dim,
                            beta=beta, device=args.device, seed=args.seed)
        train(model, data.train_images, args.epochs, args.batch_size, args.lr, args.seed,
              desc=f"beta={beta:g}")
        x = model_input(model, data.test_images)                          # (N, D)
        recon, kl = recon_and_kl(model, x)                                # (N,) each
        units, _ = active_units(model, x)
        results.append(dict(beta=beta, recon=recon.mean(), kl=kl.mean(), active=units,
                            samples=minivae.to_numpy(model.decode(z)),    # (64, D)
                            recons=minivae.to_numpy(model.reconstruct(x[shown]))))
    originals = minivae.to_numpy(x[shown])

    print(f"\nTest set, {len(data.test_images)} images, after {args.epochs} epochs, "
          f"Z = {args.latent_dim} (nats per image, one z per image):")
    print_table(["beta", "recon + beta*KL", "-ELBO", "recon", "KL", "active units"],
                [(f"{r['beta']:g}", r["recon"] + r["beta"] * r["kl"], r["recon"] + r["kl"],
                  r["recon"], r["kl"], f"{r['active']}/{args.latent_dim}") for r in results])
    path = draw(results, originals, data.image_shape, figure_path(args, "beta_sweep.png"))
    print(f"\nFigure: {path}")
    return results


def draw(results, originals, image_shape, path) -> str:
    n = len(results)
    fig = new_figure(4.0 + 2.4 * n, 5.0)
    grid = fig.add_gridspec(2, n + 1, width_ratios=[1.6] + [1] * n, height_ratios=[3, 1.2])
    ax = fig.add_subplot(grid[0, 0])
    rate_distortion(ax, [r["kl"] for r in results], [r["recon"] for r in results],
                    [f"beta={r['beta']:g}" for r in results])
    ax.set_title("reconstruction vs KL on the test set", fontsize=10)
    k = len(originals)
    right = grid[1, 0].subgridspec(1, 2, width_ratios=[0.6, 1])[0, 1]   # as wide as the others
    show_image(fig.add_subplot(right), mosaic(originals, image_shape, ncols=-(-k // 2)),
               "test images")
    for i, r in enumerate(results):
        show_image(fig.add_subplot(grid[0, i + 1]), mosaic(r["samples"], image_shape, ncols=8),
                   f"beta={r['beta']:g}: samples, {r['active']} active")
        show_image(fig.add_subplot(grid[1, i + 1]),
                   mosaic(r["recons"], image_shape, ncols=-(-k // 2)), "their reconstructions")
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
