"""Anomaly detection: a model trained on some digits flags the others.

A VAE and a deterministic Autoencoder are trained only on the training
images of the "seen" digits (0-4 by default). Each test image then gets an
anomaly score, how badly the model explains it, and the unseen digits should
score higher. Three scores:

* VAE -ELBO:  recon + KL with one z ~ q(z|x); on average an upper bound on -log p(x)
* VAE -L_K:   the importance-weighted bound with K samples (Burda et al. 2015),
              closer to -log p(x)
* AE recon:   -log p(x | decoder(encoder(x))), no KL, no sampling

The ROC-AUC of a score is the probability that a random unseen test image
scores higher than a random seen one: 0.5 is chance, 1 a perfect detector.
Likelihood-based scores also measure how much ink an image has: a plain "1"
scores lower than any other digit, seen or not, and unseen digits that look
like seen ones (7 like 1, 9 like 4) hide best (Nalisnick et al. 2019, "Do
deep generative models know what they don't know?").

    python examples/anomaly_detection.py                    # seen 0-4, 5 epochs
    python examples/anomaly_detection.py --seen 012345678   # all but 9
    python examples/anomaly_detection.py --epochs 30 --k 500
    python examples/anomaly_detection.py --arch conv        # conv VAE and conv AE

Prints the AUC of each score over all unseen digits, then each digit's mean
-ELBO and each unseen digit's AUC alone; draws out/anomaly_detection.png:
the ROC curves and, per score, the histograms of seen and unseen test images.
"""

from __future__ import annotations

import numpy as np

import minivae
from minivae.run.evaluation import iw_log_likelihood
from minivae.run.plots import new_figure, save_figure

from _common import (figure_path, load_data, model_input, parser, print_table, recon_and_kl,
                     roc_auc, roc_curve, train)


def main(argv=None, data=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--seen", default="01234", help="the digits to train on, e.g. 01234")
    p.add_argument("--k", type=int, default=50, help="importance samples K of the -L_K score")
    p.add_argument("--latent-dim", type=int, default=20)
    p.add_argument("--hidden", type=int, default=400, help="width of the hidden layer")
    p.add_argument("--arch", choices=("dense", "conv"), default="dense",
                   help="conv: Conv 1->32->64 (kernel 4, stride 2) before the hidden layer, "
                        "ConvTranspose back after it")
    args = p.parse_args(argv)
    seen = sorted({int(c) for c in args.seen})
    data = load_data(args, data)
    train_images = data.train_images[np.isin(data.train_labels, seen)]
    is_unseen = ~np.isin(data.test_labels, seen)                # (N,) the positives
    D = int(np.prod(data.image_shape))
    print(f"Training on digits {seen}: {len(train_images)} images. Test: "
          f"{(~is_unseen).sum()} seen, {is_unseen.sum()} unseen.")

    shape = dict(input_dim=D, hidden_dims=(args.hidden,), latent_dim=args.latent_dim,
                 device=args.device, seed=args.seed)
    if args.arch == "conv":                                     # grey (H, W) images
        shape.update(arch="conv", image_shape=(1, *data.image_shape[:2]))
    vae, ae = minivae.VAE(**shape), minivae.Autoencoder(**shape)
    for model, name in ((vae, "VAE"), (ae, "AE")):
        train(model, train_images, args.epochs, args.batch_size, args.lr, args.seed, desc=name)

    x = model_input(vae, data.test_images)                      # (N, D)
    recon, kl = recon_and_kl(vae, x)                            # (N,) each
    scores = {                                                  # name -> (N,), higher = odder
        "VAE -ELBO": recon + kl,
        f"VAE -L_{args.k}": -minivae.to_numpy(iw_log_likelihood(vae, x, k=args.k)),
        "AE recon": recon_and_kl(ae, x)[0],
    }
    aucs = {name: roc_auc(s[~is_unseen], s[is_unseen]) for name, s in scores.items()}

    print(f"\nROC-AUC, unseen digits vs seen digits ({args.epochs} epochs; scores in nats):")
    print_table(["score", "ROC-AUC", "mean seen", "mean unseen"],
                [(name, f"{aucs[name]:.4f}", s[~is_unseen].mean(), s[is_unseen].mean())
                 for name, s in scores.items()])
    print("\nEach digit: its mean -ELBO and, if unseen, the ROC-AUC of it alone vs all "
          "seen digits:")
    rows = []
    for d in np.unique(data.test_labels):
        mine = data.test_labels == d                            # (N,)
        aucs_d = [f"{roc_auc(s[~is_unseen], s[mine]):.4f}" if d not in seen else "-"
                  for s in scores.values()]
        rows.append((int(d), int(mine.sum()), scores["VAE -ELBO"][mine].mean(), *aucs_d))
    print_table(["digit", "images", "mean -ELBO"] + [f"AUC {n}" for n in scores], rows)
    path = draw(scores, aucs, is_unseen, seen, figure_path(args, "anomaly_detection.png"))
    print(f"\nFigure: {path}")
    return {"auc": aucs, "scores": scores, "is_unseen": is_unseen}


def draw(scores, aucs, is_unseen, seen, path) -> str:
    n = len(scores)
    fig = new_figure(4.0 + 3.2 * n, 3.4)
    axes = fig.subplots(1, n + 1, width_ratios=[1.2] + [1] * n)
    ax = axes[0]
    for i, (name, s) in enumerate(scores.items()):
        fpr, tpr = roc_curve(s[~is_unseen], s[is_unseen])
        ax.plot(fpr, tpr, color=f"C{i}", label=f"{name}: AUC {aucs[name]:.3f}")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    ax.set_xlabel("false positive rate (seen digits flagged)")
    ax.set_ylabel("true positive rate (unseen flagged)")
    ax.set_title("ROC curves", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    for ax, (name, s) in zip(axes[1:], scores.items()):
        bins = np.linspace(*np.percentile(s, [0.5, 99.5]), 60)   # clip the far tail
        ax.hist(s[~is_unseen], bins=bins, alpha=0.6, density=True,
                label=f"seen {''.join(map(str, seen))}")
        ax.hist(s[is_unseen], bins=bins, alpha=0.6, density=True, label="unseen")
        ax.set_xlabel(f"{name}, nats")
        ax.set_yticks([])
        ax.set_title(f"{name} score of test images", fontsize=10)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
