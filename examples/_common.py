"""What the example scripts share: options, data, a training loop, measurements.

Each example reads top to bottom as an experiment; the plumbing lives here.

    args = parser(__doc__).parse_args(argv)
    data = load_data(args)                      # train/test images and labels
    model = minivae.VAE(latent_dim=20, device=args.device, seed=args.seed)
    train(model, data.train_images, args.epochs)
    x = model_input(model, data.test_images)    # (N, D) on the model's device
    recon, kl = recon_and_kl(model, x)          # (N,) each, nats per image

Shapes: N images, B batch, D pixels, Z latent size.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

import minivae
from minivae.data import binarize, to_unit_float
from minivae.run.evaluation import per_example_loss

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def parser(doc: str, epochs: int = 5) -> argparse.ArgumentParser:
    """The options every example takes; a script adds its own."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set")
    p.add_argument("--data-dir", default=None,
                   help="directory of the MNIST files (default: $MINIVAE_DATA_DIR or the cache)")
    p.add_argument("--out", default=OUT_DIR, help="directory for the figures")
    p.add_argument("--device", default="auto", choices=("cpu", "cuda", "auto"))
    p.add_argument("--seed", type=int, default=1, help="seeds initialisation, batches and noise")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    return p


@dataclass
class Data:
    train_images: np.ndarray   # uint8 (N_train, H, W)
    train_labels: np.ndarray   # (N_train,)
    test_images: np.ndarray    # uint8 (N_test, H, W)
    test_labels: np.ndarray    # (N_test,)

    @property
    def image_shape(self):
        return self.train_images.shape[1:]


def load_data(args, data: Data | None = None) -> Data:
    """MNIST from ``--data-dir`` (found or fetched by minivae), or ``data`` as given (tests)."""
    if data is not None:
        return data
    train = minivae.load_mnist("train", args.data_dir)
    test = minivae.load_mnist("test", args.data_dir)
    return Data(*train, *test)


def model_input(model, images, binarize_seed: int | None = None):
    """Test images as an (N, D) array on the model's device, in [0, 1].

    With ``binarize_seed``, one fixed binarization (pixel = 1 with probability
    its grey level), so that every model is measured on the same 0/1 images.
    """
    x = to_unit_float(images, model.xp, model.dtype)              # (N, D)
    return x if binarize_seed is None else binarize(x, binarize_seed)


def train(model, images, epochs: int, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
          binarize: bool = False, desc: str = "train") -> list[float]:
    """Train ``model`` with Adam on ``images``; return each epoch's mean training loss.

    images: uint8 (N, H, W), or (N, D) floats in [0, 1]. A progress bar shows
    on a terminal; one line per model is printed at the end.
    """
    opt = minivae.Adam(model.params, lr=lr)
    batches = minivae.BatchIterator(images, batch_size, seed=seed, binarize=binarize,
                                    dtype=model.dtype, xp=model.xp)
    history, start = [], time.perf_counter()
    with tqdm(total=epochs * len(batches), desc=desc, unit="step", leave=False,
              disable=None) as bar:                             # None: only on a terminal
        for epoch in range(epochs):
            total = model.xp.zeros((), dtype=np.float64)       # sum of loss * B, on the device
            for x in batches:                                  # x: (B, D)
                loss, _ = model.loss_and_grads(x)
                opt.step(model.grads)
                total += loss * x.shape[0]
                bar.update()
            history.append(float(total) / len(batches.data))   # one read per epoch
            bar.set_postfix(loss=f"{history[-1]:.2f}")
    seconds = time.perf_counter() - start
    if history:
        print(f"{desc}: {epochs} epochs in {seconds:.1f} s ({seconds / epochs:.1f} s per epoch), "
              f"train loss {history[-1]:.2f} in the last")
    return history


def recon_and_kl(model, x):
    """-log p(x | z) and KL(q(z|x) || p(z)) of every row of ``x``: two NumPy (N,) arrays.

    For a VAE, z is one draw from q(z|x) (the noise is seeded apart from
    training's), so recon + KL is the single-sample negative ELBO of each
    image. For an Autoencoder, z is its code and the KL is 0.
    """
    _, parts = per_example_loss(model, x)                      # {"recon": (N,), "kl": (N,)}
    return tuple(minivae.to_numpy(parts[k]).astype(np.float64) for k in ("recon", "kl"))


def roc_auc(negatives, positives) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative).

    Ties count one half. Rank-based (the Mann-Whitney U statistic): rank all
    scores together, tied scores sharing their average rank; then

        U = (sum of the positives' ranks) - P (P + 1) / 2,   AUC = U / (N P)

    counts, over all N x P pairs, the pairs the positive wins (plus half
    the ties), in O((N + P) log(N + P)) instead of O(N P).
    """
    neg = np.asarray(negatives, dtype=np.float64).ravel()
    pos = np.asarray(positives, dtype=np.float64).ravel()
    if neg.size == 0 or pos.size == 0:
        raise ValueError("roc_auc needs at least one negative and one positive score")
    _, group, counts = np.unique(np.concatenate([neg, pos]), return_inverse=True,
                                 return_counts=True)          # distinct values, sorted
    last_rank = np.cumsum(counts)                              # 1-based rank of each group's last
    mean_rank = last_rank - (counts - 1) / 2                   # average rank within a tie group
    pos_ranks = mean_rank[group[neg.size:]]                    # (P,)
    u = pos_ranks.sum() - pos.size * (pos.size + 1) / 2
    return float(u / (neg.size * pos.size))


def roc_curve(negatives, positives):
    """(false positive rates, true positive rates), one point per distinct threshold.

    Flag every image scoring >= t, for t running down the distinct scores.
    Tied scores enter together, so the curve goes diagonally through a tie
    and the area under it equals :func:`roc_auc`.
    """
    scores = np.concatenate([negatives, positives]).astype(np.float64)
    is_pos = np.concatenate([np.zeros(len(negatives)), np.ones(len(positives))])
    order = np.argsort(-scores, kind="stable")
    scores, is_pos = scores[order], is_pos[order]
    last = np.append(scores[1:] != scores[:-1], True)         # the end of each run of ties
    tpr = np.cumsum(is_pos)[last] / len(positives)
    fpr = np.cumsum(1 - is_pos)[last] / len(negatives)
    return np.append(0.0, fpr), np.append(0.0, tpr)


def print_table(header, rows, formats=None) -> None:
    """Print rows under a header; floats to 2 decimals unless ``formats`` says otherwise."""
    formats = formats or [None] * len(header)
    cells = [[v if isinstance(v, str) else f"{v:{f}}" if f else
              f"{v:.2f}" if isinstance(v, float) else str(v)
              for v, f in zip(row, formats)] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    # The first column (names) aligned left, the numbers right.
    line = lambda items: "  ".join(s.ljust(w) if i == 0 else s.rjust(w)  # noqa: E731
                                   for i, (s, w) in enumerate(zip(items, widths))).rstrip()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for r in cells:
        print(line(r))


def rate_distortion(ax, kl, recon, labels) -> None:
    """Plot models as points on the plane of KL (rate) against reconstruction (distortion).

    The dashed line through a model joins every point with its recon + KL,
    its negative ELBO: a model whose line runs lower has the better bound,
    however it splits it between the terms (Alemi et al. 2018, "Fixing a
    Broken ELBO", Fig. 1).
    """
    kl, recon = np.asarray(kl, dtype=np.float64), np.asarray(recon, dtype=np.float64)
    rates = np.array([0.0, kl.max() * 1.35 + 1])
    for i, label in enumerate(labels):
        total = kl[i] + recon[i]
        ax.plot(rates, total - rates, "--", color=f"C{i}", lw=0.8, alpha=0.7)
        ax.scatter(kl[i], recon[i], s=40, color=f"C{i}", zorder=3)
        ax.annotate(f"{label}: -ELBO {total:.1f}", (kl[i], recon[i]), textcoords="offset points",
                    xytext=(7, 5 if i % 2 == 0 else -13), fontsize=8)   # alternate: no overlap
    span = recon.max() - recon.min() + 1
    ax.set_xlim(rates)
    ax.set_ylim(recon.min() - 0.3 * span, recon.max() + 0.3 * span)
    ax.set_xlabel("KL(q(z|x) || p(z)): rate, nats")
    ax.set_ylabel("-log p(x|z): distortion, nats")
    ax.grid(alpha=0.3)


def figure_path(args, name: str) -> str:
    os.makedirs(args.out, exist_ok=True)
    return os.path.join(args.out, name)
