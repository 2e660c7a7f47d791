"""Continuous, statically binarized, dynamically binarized: the same VAE on three MNISTs.

A Bernoulli p(x|z) is a distribution over 0/1 pixels, but MNIST's pixels are
grey levels. There are three ways to train on it, and papers mix them up:

* continuous: the grey levels themselves, in [0, 1], as the PyTorch example
  does. The "NLL" is then a cross-entropy, not the log-likelihood of any
  data set: it cannot be compared with the published numbers;
* statically binarized: each pixel drawn 0/1 once (1 with probability its
  grey level), and that one binary data set trained on for every epoch;
* dynamically binarized (Burda et al. 2015, Sec. 5): the pixels drawn afresh
  every time an image is seen (``BatchIterator(binarize=True)``), so the
  model never sees the same binary image twice.

Burda et al. (2015) remark that static binarization scores about 2 nats
worse and overfits (yburda/iwae's README): one fixed draw of 60,000 binary
images is a smaller data set than the endless stream of dynamic draws. Each
model is measured with the importance-weighted bound (K = --k, docs/math.md
§9) on the first --n-test images of one fixed binarization of the test set
(the grey model also on the grey test images, its own data), and on as many
binary training images (the static model's own draw; one draw for the others),
so that the gap between the two shows the overfitting.

    python examples/binarization.py                       # 3 VAEs, ~5 minutes on 2 cores
    python examples/binarization.py --epochs 100 --n-train 60000

Prints the table; draws out/binarization.png: each model's test NLL per K.
"""

from __future__ import annotations

import numpy as np

import minivae
from minivae.data import binarize, to_unit_float
from minivae.run.evaluation import iw_log_likelihood
from minivae.run.plots import new_figure, save_figure

from _common import figure_path, load_data, model_input, parser, print_table, train

TEST_SEED, STATIC_SEED, TRAIN_EVAL_SEED = 12345, 777, 4242   # three fixed binarizations


def nll(model, x, k: int, seed: int) -> float:
    """-L_K, the importance-weighted NLL, mean over the rows of x (N, D): nats per image."""
    rng = minivae.backend.Generator(model.xp, seed)
    return -float(minivae.to_numpy(iw_log_likelihood(model, x, k, rng=rng)).mean())


def main(argv=None, data=None) -> dict:
    p = parser(__doc__, epochs=30)
    p.add_argument("--hidden", default="200,200", help="hidden widths (Burda's: 200,200)")
    p.add_argument("--latent-dim", type=int, default=50, help="Z (Burda's: 50)")
    p.add_argument("--n-train", type=int, default=10000,
                   help="training images: fewer overfit sooner (60000: all of MNIST)")
    p.add_argument("--n-test", type=int, default=1000, help="images the NLLs are measured on")
    p.add_argument("--k", type=int, default=500, help="importance samples per image")
    args = p.parse_args(argv)
    data = load_data(args, data)
    D = int(np.prod(data.image_shape))
    hidden = tuple(int(h) for h in args.hidden.split(","))
    grey = to_unit_float(data.train_images[:args.n_train], dtype="float32")   # (N, D) in [0, 1]
    kinds = {"continuous": dict(images=grey, binarize=False),
             "static": dict(images=binarize(grey, STATIC_SEED), binarize=False),   # one draw
             "dynamic": dict(images=grey, binarize=True)}                          # a draw a step

    rows, results = [], {}
    for name, how in kinds.items():
        model = minivae.VAE(input_dim=D, hidden_dims=hidden, latent_dim=args.latent_dim,
                            activation="tanh", device=args.device, seed=args.seed)
        history = train(model, how["images"], args.epochs, args.batch_size, args.lr, args.seed,
                        binarize=how["binarize"], desc=name)
        x_test = model_input(model, data.test_images[:args.n_test], binarize_seed=TEST_SEED)
        seen = model.xp.asarray(how["images"][:args.n_test])     # training images, binary:
        if name != "static":                                     # the static draw trained on,
            seen = binarize(seen, TRAIN_EVAL_SEED)               # else one draw of the grey ones
        r = {"train": nll(model, seen, args.k, 1), "test": nll(model, x_test, args.k, 2),
             "loss": history[-1]}
        if name == "continuous":                                 # its own, grey, test images
            r["grey test"] = nll(model, model_input(model, data.test_images[:args.n_test]),
                                 args.k, 3)
        results[name] = r
        rows.append((name, r["train"], r["test"], r["test"] - r["train"],
                     f"{r['grey test']:.2f}" if "grey test" in r else "-"))

    print(f"\n-L_{args.k} in nats per image, after {args.epochs} epochs on {args.n_train} "
          f"training images ({args.n_test} images each):")
    print_table(["trained on", "train NLL", "binarized test NLL", "gap", "grey test 'NLL'"],
                rows)
    gap = results["static"]["test"] - results["dynamic"]["test"]
    print(f"\nstatic minus dynamic, on the binarized test set: {gap:+.2f} nats "
          "(Burda et al. 2015: about 2 nats worse after 3280 passes)")

    fig = new_figure(6.0, 3.2)
    ax = fig.subplots(1, 1)
    names = list(results)
    ax.bar(np.arange(3) - 0.2, [results[n]["train"] for n in names], 0.4, label="train")
    ax.bar(np.arange(3) + 0.2, [results[n]["test"] for n in names], 0.4, label="binarized test")
    ax.set_xticks(np.arange(3), names)
    ax.set_ylabel(f"-L_{args.k}, nats per image")
    low = min(min(r["train"], r["test"]) for r in results.values())
    ax.set_ylim(low - 10, None)
    ax.legend(fontsize=8)
    print(f"wrote {save_figure(fig, figure_path(args, 'binarization.png'))}")
    return results


if __name__ == "__main__":
    main()
