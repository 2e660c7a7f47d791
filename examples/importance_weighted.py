"""The importance-weighted log-likelihood: how far below log p(x) is the ELBO?

With z_1..z_K drawn from q(z|x) and weights w_k = p(x|z_k) p(z_k) / q(z_k|x),

    L_K = E[ log (1/K) sum_k w_k ]  <=  log p(x)          (Burda et al. 2015, eq. 8)

L_1 is the ELBO, and L_K rises towards log p(x) as K grows (their Theorem 1).
So the test NLL estimate -L_K must fall with K; -L_5000 is the usual
estimate of a VAE's NLL, and -L_1 - (-L_5000) shows how loose the ELBO
is for this encoder.

The model is Burda et al.'s one-stochastic-layer VAE: 784-200-200-50 with
tanh. K = 5000 costs 5000 decoder passes per image, so the NLL is measured
on a random subset of the test set (--n-test).

    python examples/importance_weighted.py                   # 5 epochs, 1000 test images
    python examples/importance_weighted.py --n-test 10000    # the whole test set
    python examples/importance_weighted.py --binarize --epochs 100 --n-test 10000

Prints -L_K for each K, with its standard error over the images and its time,
and how it compares with Burda et al. 2015, Table 1 (86.76 nats); draws
out/importance_weighted.png: -L_K against K, and each image's gain from K = 1
to the largest K.
"""

from __future__ import annotations

import time

import numpy as np

import minivae
from minivae.run.evaluation import eval_generator, iw_log_likelihood
from minivae.run.plots import new_figure, save_figure

from _common import (figure_path, load_data, model_input, parser, print_table, recon_and_kl,
                     train)

BURDA_VAE_NLL = 86.76   # Burda et al. 2015, Table 1: VAE with 1 stochastic layer, NLL at K = 5000


def main(argv=None, data=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--ks", default="1,5,50,500,5000", help="numbers of samples K, comma-separated")
    p.add_argument("--n-test", type=int, default=1000,
                   help="test images to measure (a random subset)")
    p.add_argument("--binarize", action="store_true",
                   help="Burda et al.'s setting: train on dynamically binarized pixels, "
                        "test on one fixed binarization")
    p.add_argument("--hidden", default="200,200", help="hidden widths, comma-separated")
    p.add_argument("--latent-dim", type=int, default=50)
    args = p.parse_args(argv)
    ks = sorted(int(k) for k in args.ks.split(","))
    data = load_data(args, data)
    D = int(np.prod(data.image_shape))

    model = minivae.VAE(input_dim=D, hidden_dims=tuple(int(h) for h in args.hidden.split(",")),
                        latent_dim=args.latent_dim, activation="tanh", device=args.device,
                        seed=args.seed)
    train(model, data.train_images, args.epochs, args.batch_size, args.lr, args.seed,
          binarize=args.binarize, desc="VAE")
    pick = np.random.default_rng(args.seed).permutation(len(data.test_images))[:args.n_test]
    x = model_input(model, data.test_images[np.sort(pick)],
                    binarize_seed=args.seed if args.binarize else None)  # (n, D)
    recon, kl = recon_and_kl(model, x)                                   # (n,) each

    rows, nll = [], {}
    for k in ks:
        start = time.perf_counter()
        # Each K gets its own noise, the same for every run with this seed.
        log_px = minivae.to_numpy(iw_log_likelihood(model, x, k, rng=eval_generator(model, k)))
        seconds = time.perf_counter() - start
        nll[k] = -log_px.astype(np.float64)                              # (n,)
        # The same images for every K: their differences are far less noisy than
        # the estimates themselves, whose spread is mostly how hard each image is.
        gain = nll[k] - nll[ks[0]]                                       # (n,)
        rows.append((f"-L_{k}", nll[k].mean(), std_err(nll[k]),
                     f"{gain.mean():+.2f} +- {std_err(gain):.2f}", seconds))
    rows.insert(0, ("-ELBO (exact KL)", recon.mean() + kl.mean(), std_err(recon + kl), "", ""))

    data_kind = "binarized" if args.binarize else "grey-level"
    print(f"\nNLL estimates on {len(x)} {data_kind} test images, {args.epochs} epochs "
          f"(nats per image; std err over the images):")
    print_table(["estimate", "NLL", "std err", f"vs -L_{ks[0]}", "seconds"], rows,
                [None, ".2f", ".2f", None, ".1f"])
    print(f"\nBurda et al. 2015, Table 1: {BURDA_VAE_NLL} nats for this VAE "
          "(784-200-200-50, tanh) at K = 5000, on dynamically binarized MNIST after 3280 "
          "passes over the data.")
    if not args.binarize:
        # For grey x, -log p(x|z) = sum_d [H(x_d) + KL(x_d || p_d)] >= sum_d H(x_d), the
        # binary entropy of the grey levels: a floor that binarized data does not have.
        xn = minivae.to_numpy(x).astype(np.float64)
        floor = -(xn * np.log(np.where(xn > 0, xn, 1))
                  + (1 - xn) * np.log(np.where(xn < 1, 1 - xn, 1))).sum(axis=1).mean()
        print(f"Not comparable: on grey levels the Bernoulli 'likelihood' is a cross-entropy "
              f"whose floor, the entropy of the grey levels, is {floor:.2f} nats per image "
              "here. Run with --binarize for Burda's setting.")
    path = draw(ks, nll, recon + kl, BURDA_VAE_NLL if args.binarize else None,
                figure_path(args, "importance_weighted.png"))
    print(f"\nFigure: {path}")
    return {"nll": {k: v.mean() for k, v in nll.items()}, "elbo": (recon + kl).mean()}


def std_err(values) -> float:
    """Standard error of the mean of ``values``, (n,)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def draw(ks, nll, neg_elbo, reference, path) -> str:
    fig = new_figure(10.0, 3.6)
    left, right = fig.subplots(1, 2)
    means = np.array([nll[k].mean() for k in ks])
    left.plot(ks, means, "o-", label="-L_K, importance weighted")
    left.axhline(neg_elbo.mean(), color="C1", ls="--", lw=1, label="-ELBO, exact KL")
    if reference is not None:
        left.axhline(reference, color="grey", ls=":", label="Burda et al. 2015, VAE, K = 5000")
    left.set_xscale("log")
    left.set_xlabel("K, samples per image")
    left.set_ylabel("test NLL estimate, nats per image")
    left.set_title(f"-L_K falls with K towards -log p(x) ({len(neg_elbo)} test images)",
                   fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    gain = nll[ks[0]] - nll[ks[-1]]                                    # (n,)
    right.hist(gain, bins=40, color="C2")
    right.axvline(gain.mean(), color="black", ls="--", lw=1, label=f"mean {gain.mean():.2f}")
    right.set_xlabel(f"-L_{ks[0]} - (-L_{ks[-1]}), nats")
    right.set_ylabel("test images")
    right.set_title(f"per image: how much K = {ks[-1]} tightens K = {ks[0]}", fontsize=10)
    right.legend(fontsize=8)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
