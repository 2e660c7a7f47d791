"""A run with the learner's functions, against the PyTorch reference band.

benchmarks/reference/reference_curve.csv holds pytorch/examples' VAE trained
with 10 seeds (784-400-20, ReLU, Bernoulli on [0, 1] MNIST, Adam 1e-3,
batch 128): per epoch, the min and max of the train and test loss. The band
is benchmarks/reference/loss_curve.py's: [min - spread - 0.25, max + spread +
0.25] nats per image, where an eleventh run of the same experiment lands.
The learner's functions, if right, land there too: a wrong gradient, a
missing 1/B or exp(logvar) as the standard deviation moves the curve by
several nats. The file is in minivae's repository, not in an installed package.
"""

from __future__ import annotations

import csv
import os

from ..run.config import FIELDS

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CURVE = os.path.join(REPOSITORY, "benchmarks", "reference", "reference_curve.csv")
K, FLOOR = 1.0, 0.25       # as benchmarks/reference/loss_curve.py
# The settings the reference was trained with: the defaults of TrainConfig.
SAME_AS_REFERENCE = ("dataset", "binarize", "preset", "model", "arch", "hidden", "decoder_hidden",
                     "latent_dim", "likelihood", "pixel_range", "activation", "decoder_activation",
                     "beta", "k", "objective", "batch_size", "optimizer", "lr", "lr_schedule",
                     "adam_eps", "kl_warmup", "free_bits", "num_classes")


def differs(cfg) -> list:
    """The settings of ``cfg`` that are not the reference's."""
    return [name for name in SAME_AS_REFERENCE
            if name in FIELDS and getattr(cfg, name) != FIELDS[name].default]


def read_band(path=CURVE) -> dict:
    """epoch -> {"train": (low, high), "test": (low, high)}, nats per image."""
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        band = {}
        for r in rows:
            band[int(r["epoch"])] = {}
            for split in ("train", "test"):
                lo, hi = float(r[f"{split}_min"]), float(r[f"{split}_max"])
                spread = hi - lo
                band[int(r["epoch"])][split] = (lo - K * spread - FLOOR, hi + K * spread + FLOOR)
        return band


def band_lines(rows, cfg, path=CURVE) -> list:
    """What the run prints at its end: each epoch's losses, the band, and in or out."""
    other = differs(cfg)
    if other:
        options = ", ".join("--" + n.replace("_", "-") for n in other)
        return [f"The PyTorch reference band is for the default model; this run changes "
                f"{options}, so there is no band to compare with."]
    if not os.path.exists(path):
        return [f"The PyTorch reference band ({os.path.relpath(path, REPOSITORY)}) is in minivae's "
                "repository; it is not here."]
    band = read_band(path)
    lines = ["Your functions against PyTorch's example (10 seeds, benchmarks/reference/; band "
             "as benchmarks/reference/loss_curve.py), nats per image:",
             "  epoch    train  band               test  band"]
    for row in rows:
        epoch = int(row["epoch"])
        if epoch not in band:
            continue
        cells = []
        for split in ("train", "test"):
            value, (lo, hi) = float(row[f"{split}_loss"]), band[epoch][split]
            verdict = "in " if lo <= value <= hi else "OUT"
            cells.append(f"{value:7.2f}  [{lo:6.2f}, {hi:6.2f}] {verdict}")
        lines.append(f"  {epoch:5d}  " + "  ".join(cells))
    return lines


def band_figure(rows, out_png, path=CURVE) -> None:
    """The run's train and test curves over the reference band (needs matplotlib)."""
    from ..run.plots._common import new_figure, save_figure
    band = read_band(path)
    fig = new_figure(8, 3.6)
    for ax, split in zip(fig.subplots(1, 2), ("train", "test")):
        epochs = [e for e in sorted(band) if e <= max(int(r["epoch"]) for r in rows)]
        ax.fill_between(epochs, [band[e][split][0] for e in epochs],
                        [band[e][split][1] for e in epochs], color="0.8", label="PyTorch, 10 seeds")
        ax.plot([int(r["epoch"]) for r in rows], [float(r[f"{split}_loss"]) for r in rows],
                marker="o", markersize=3, label="your functions")
        ax.set_title(f"{split} loss (nats per image)")
        ax.set_xlabel("epoch")
        ax.legend()
    save_figure(fig, out_png)


def band_report(rows, cfg, run_dir) -> None:
    """Print the band's table at a run's end, and draw it into run_dir (with --plots)."""
    lines = band_lines(rows, cfg)
    print("\n".join(lines))
    if cfg.plots and len(lines) > 2:
        try:
            path = os.path.join(run_dir, "reference_band.png")
            band_figure(rows, path)
            print(f"  the curves over the band: {path}")
        except ImportError as e:
            print(f"warning: reference_band.png skipped ({e})")
