"""Draw new images from a trained VAE: ``python -m minivae.sample RUN_DIR -n 64 --out grid.png``.

A conditional VAE (``--model cvae``) draws the class it is given,
``--label 7``, or one row per class without it.

A VAE's decoder turns any z from the prior N(0, I) into an image, so new
images need no data at all: draw n codes, decode them, tile the means into
one picture. CKPT is a run directory or its checkpoint.npz (or any file
written by ``model.save``).

Ctrl-C or SIGTERM ends it with one line, status 130 or 143 (signals.py); the
grid is written atomically, so it is never left half-written.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..backend import Generator, to_numpy
from .rundir import replace_refused
from .values import nonnegative_int, positive_int
from .trained_budget import check_sample
from .console import flush_every_line
from ..files.budget import OverBudget
from .signals import run_aborting_cleanly
from .runs import add_checkpoint_args, open_checkpoint
from ..fast.threads import BlasThreads, add_threads_option

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def build_parser():
    p = argparse.ArgumentParser(prog="python -m minivae.sample", allow_abbrev=False,
                                description="Decode images drawn from the prior of a trained VAE "
                                            "and save them as one grid image.")
    add_checkpoint_args(p)
    add_threads_option(p)
    p.add_argument("-n", type=positive_int, default=64, help="number of images (default: 64)")
    p.add_argument("--out", default="grid.png", help="PNG file to write (default: grid.png)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the codes z (default: 0)")
    p.add_argument("--label", type=nonnegative_int, metavar="Y",
                   help="a conditional VAE only (--model cvae): draw class Y, 0 to C - 1 "
                        "(default: every class in turn, one row each)")
    return p


def check_out(path: str, run_figures) -> str | None:
    """Why ``--out path`` may not be written (None if it may).

    The grid only ever replaces a PNG image, and never one of a run's own
    figures (``run_figures``: their file names), so no run file and no file
    of the user's other than an old picture can be lost.
    """
    if not path.lower().endswith(".png"):
        return f"--out {path}: the grid is a PNG image; give a file name ending in .png"
    return replace_refused("--out", path, run_figures, PNG_MAGIC, "a PNG image", "grid.png")


def check_label(label, num_classes, checkpoint) -> str | None:
    """Why ``--label`` does not fit the model (None if it does, or is not given)."""
    if label is None:
        return None
    if num_classes is None:
        return (f"--label {label}: {checkpoint} holds a model without labels; --label is for "
                "a conditional VAE (train one with --model cvae)")
    if label >= num_classes:
        return (f"--label {label}: this model has {num_classes} classes, labels 0 to "
                f"{num_classes - 1}")
    return None


def main(argv=None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit status."""
    flush_every_line()                      # every line reaches a pipe or a log at once
    return run_aborting_cleanly(command, argv)


def command(argv, progress) -> int:
    """The command itself; ``progress`` (signals.Progress) says what it is doing."""
    args = build_parser().parse_args(argv)
    progress.now(f"loading {args.checkpoint}")
    opened = open_checkpoint(args)
    if opened is None:
        return 1
    model, image_shape, _ = opened
    BlasThreads(args.threads).start()                # matrix-product threads: threads.py
    if model.kind == "ae":
        print(f"error: {args.checkpoint} holds an autoencoder: it has no prior to sample from "
              "(train with --model vae)", file=sys.stderr)
        return 1
    refused = check_label(args.label, getattr(model, "num_classes", None), args.checkpoint)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    try:
        from .plots import plot_class_grid, plot_samples   # matplotlib, only here
        from .plots.report import CAPTIONS               # the names of a run's figures
    except ImportError as e:
        print(f"error: drawing the grid needs matplotlib ({e}); pip install matplotlib",
              file=sys.stderr)
        return 1
    refused = check_out(args.out, {f"{name}.png" for name in CAPTIONS})
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    try:
        check_sample(model, args.n)                      # decoded and drawn: trained_budget.py
    except OverBudget as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    model.rng = Generator(model.xp, args.seed)           # the codes depend on --seed only
    progress.now(f"drawing {args.n:,} samples", target=args.out)
    if model.kind == "cvae" and args.label is None:      # the class grid: a row per class
        C, cols = model.num_classes, max(1, args.n // model.num_classes)
        z = model.rng.normal((cols, model.latent_dim), dtype=model.dtype)   # (cols, Z)
        images = np.concatenate([to_numpy(model.decode(z, np.full(cols, c)))
                                 for c in range(C)])     # (C cols, D): class by class
        try:
            path = plot_class_grid(images, C, args.out, image_shape)
        except OSError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {C * cols} samples to {path}: one row per class 0 to {C - 1}, the same z "
              "down each column (--label Y draws one class)")
        return 0
    title = "samples: decoder mean at z ~ N(0, I)"
    if model.kind == "cvae":                             # n images of class --label
        images = to_numpy(model.sample(args.n, args.label))   # (n, D)
        title = f"samples of class {args.label}: decoder mean at z ~ N(0, I)"
    else:
        images = to_numpy(model.sample(args.n))          # (n, D) decoder means in [0, 1]
    try:
        path = plot_samples(images, args.out, image_shape, title)
    except OSError as e:                                 # a full disk, no permission...
        print(f"error: {e}", file=sys.stderr)
        return 1
    of_class = f" of class {args.label}" if model.kind == "cvae" else ""
    print(f"wrote {args.n} samples{of_class} to {path}")
    return 0

