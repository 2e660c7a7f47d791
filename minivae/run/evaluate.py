"""Measure a trained model on its test set: ``python -m minivae.evaluate RUN_DIR [--iw K]``.

Prints, in nats per test image:

* the test loss: the negative ELBO with one sample of z per image, computed
  with the same evaluation noise as the per-epoch test loss of training, so
  it repeats the last ``test_loss`` of metrics.csv (exactly, on the CPU);
* with ``--iw K``: the importance-weighted estimate of the negative
  log-likelihood, -log p(x), of Burda et al. 2015. It is an upper bound on the
  true NLL that tightens as K grows; the gap to the test loss is how loose the
  ELBO is. Their Table 1 reports 86.76 nats for a VAE on binarized MNIST with
  K = 5000 (models trained with --binarize compare with that; grey-level
  MNIST with a Bernoulli likelihood gives other numbers). It comes with its
  standard error over the images; an mse model's includes the constant its
  loss leaves out, 0.5 D log(pi);
* with ``--per-image FILE.csv``: each test image's loss, its terms and its
  reconstruction's MSE, and, when some test labels never occurred in
  training (``train --train-labels``), the ROC-AUC of those images as
  anomalies (anomaly.py); ``--predictions FILE.csv`` writes every test image
  and its reconstruction in the labs' format.

CKPT is a run directory or its checkpoint.npz. Ctrl-C or SIGTERM ends it
with one line that says what was interrupted, status 130 or 143
(signals.py); the CSV files are written atomically, never left in part, and
replace only a table evaluate wrote before: never a run's own, nor a file of yours.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from ..backend import to_numpy
from .values import dataset_name, nonnegative_int, positive_int
from ..data import DataError, load_dataset, to_unit_float
from .anomaly import PER_IMAGE_COLUMNS, per_image_report, reconstructed_batches, write_predictions
from .metrics import mse_scale
from .evaluation import (binarize_test_set, eval_generator, iw_log_likelihood,
                         reconstruction_metrics, evaluate_elbo, require_vae)
from .trained_budget import check_evaluation
from .console import flush_every_line
from ..data.custom import fingerprint
from ..files.budget import OverBudget
from ..files.serialize import CheckpointError
from .rundir import replace_refused
from .runs import add_checkpoint_args, check_same_data, checkpoint_path, open_checkpoint
from .signals import run_aborting_cleanly
from .sweep import SWEEP_IMAGES, sweep_report
from ..fast.threads import BlasThreads, add_threads_option


def sweep_images(value):
    """--sweep-images: a positive number of images, or "all" (None)."""
    return None if value == "all" else positive_int(value)


def build_parser():
    p = argparse.ArgumentParser(prog="python -m minivae.evaluate", allow_abbrev=False,
                                description="Test loss (negative ELBO), reconstruction quality "
                                            "and, with --iw, the importance-weighted "
                                            "log-likelihood of a trained model.")
    add_checkpoint_args(p)
    add_threads_option(p)
    p.add_argument("--iw", type=positive_int, metavar="K",
                   help="also estimate log p(x) with K importance samples per image")
    p.add_argument("--dataset", type=dataset_name, help="test set to use (default: the run's)")
    p.add_argument("--data-dir", help="where the dataset files are (default: the run's)")
    p.add_argument("--batch-size", type=positive_int, default=100,
                   help="images per batch for --iw (default: 100; memory grows with it)")
    p.add_argument("--seed", type=nonnegative_int, help="seed of the noise (default: the run's)")
    p.add_argument("--iw-sweep", action="store_true",
                   help="the test ELBO and the importance-weighted bound at K = 1, 10, 100, "
                        "1000, 5000 (the same samples), with standard errors, effective sample "
                        "sizes, the check that it rises with K, and the published numbers")
    p.add_argument("--sweep-images", type=sweep_images, default=SWEEP_IMAGES, metavar="N|all",
                   help=f"test images the sweep uses (default: the first {SWEEP_IMAGES}; all: "
                        "every one, about 10 times longer on MNIST)")
    p.add_argument("--per-image", metavar="FILE.csv",
                   help="write each test image's scores (" + ", ".join(PER_IMAGE_COLUMNS)
                   + "), and the ROC-AUC of the images whose labels training never saw")
    p.add_argument("--predictions", metavar="FILE.csv",
                   help="write the labs' prediction.csv: row_id, then each test image's pixels "
                        "orig_px0.. and its reconstruction recon_px0.., in [0, 1]")
    return p


RUN_TABLES = ("metrics.csv", "latents.csv", "reconstructions.csv")   # a run's own CSV files


def check_tables_out(args) -> str | None:
    """Why --per-image or --predictions may not be written (None if both may): each only
    ever replaces a table of evaluate's (its first line begins "row_id,"), never a run's."""
    if args.per_image and args.predictions and \
            os.path.abspath(args.per_image) == os.path.abspath(args.predictions):
        return f"--per-image and --predictions both name {args.per_image}; give each its own file"
    for option, path in (("--per-image", args.per_image), ("--predictions", args.predictions)):
        refused = path and replace_refused(option, path, RUN_TABLES, b"row_id,",
                                           "a table that evaluate wrote", "scores.csv")
        if refused:
            return refused
    return None


def check_test_set(model, images, image_shape, meta, dataset, args):
    """(image shape for the metrics, None) for test images the model can score, else
    (None, why): another image shape, a data file changed since training, too much memory
    (the test set and the work its options ask for: trained_budget.check_evaluation)."""
    shape, saved = tuple(images.shape[1:]), meta.get("image_shape")
    if saved and shape != tuple(saved):          # an 8x8 model and 4x16 images: same pixels
        return None, (f"{dataset} holds images of shape {'x'.join(map(str, shape))}, and the "
                      f"model was trained on {'x'.join(map(str, saved))} images; evaluate it on "
                      "images of that shape")
    if math.prod(shape) != model.input_dim:
        return None, (f"{dataset} has {math.prod(shape)} pixels per image, the model expects "
                      f"{model.input_dim}")
    path = checkpoint_path(args.checkpoint)
    try:
        if args.dataset is None and str(dataset).endswith((".npy", ".npz")):
            check_same_data(meta, fingerprint(dataset), dataset, path, "its scores would be "
                            "another data set's. Put the original file back, or pass --dataset "
                            "FILE to evaluate on another one on purpose")
        sweep = (args.sweep_images or len(images)) if args.iw_sweep else None   # None: all
        check_evaluation(model, len(images), args.iw, args.batch_size, sweep_images=sweep,
                         per_image=bool(args.per_image))
    except (CheckpointError, OverBudget, OSError) as e:
        return None, str(e)
    return (image_shape if saved else shape), None   # a model.save() file: the data's shape


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
    model, image_shape, meta = opened
    threads = BlasThreads(args.threads).start()      # matrix-product threads: threads.py
    refused = check_tables_out(args)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    if args.iw or args.iw_sweep:
        try:
            require_vae(model, "--iw-sweep" if args.iw_sweep else "--iw")   # before the ELBO
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    run = meta.get("train_config", {})
    dataset = args.dataset or run.get("dataset", "mnist")
    progress.now(f"loading the test set of {dataset}")
    try:
        images, test_labels = load_dataset(dataset, "test",
                                           root=args.data_dir or run.get("data_dir"))
    except (DataError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    image_shape, refused = check_test_set(model, images, image_shape, meta, dataset, args)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    xp = model.xp
    x = to_unit_float(images, xp, model.dtype.name)                 # (N, D)
    seed = args.seed if args.seed is not None else run.get("seed", 0)
    if run.get("binarize"):   # the same fixed binarization of the test set as in training
        x = binarize_test_set(x, seed)                              # (N, D) of 0/1
    try:
        labels = cvae_labels(model, test_labels, dataset, args)     # a CVAE's (N,), else None
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    epoch = meta.get("epoch")       # none in a file of model.save: no run, no epoch
    when = f"after epoch {epoch}" if epoch is not None else \
        "saved from the Python API (model.save), no epoch recorded"
    print(f"{args.checkpoint}: {type(model).__name__} {when}, {len(x)} test "
          f"image{'s' * (len(x) != 1)} of {dataset}")
    progress.now("measuring the test loss")
    elbo = evaluate_elbo(model, x, rng=eval_generator(model, seed), labels=labels)
    quality = reconstruction_metrics(model, x, image_shape, labels=labels)
    factor, scale = mse_scale(model.pixel_range)        # the MSE on the loss's scale
    mse_text = f"MSE {quality['mse'] * factor:.5f} per pixel{scale}" + (
        f" ({quality['mse']:.5f} on [0, 1])" if scale else "")
    mse = model.likelihood.name == "mse"     # a squared error, not a log-likelihood in nats
    if model.kind == "ae":   # a deterministic autoencoder: no sampling, no KL, no posterior
        print(f"  test loss   {elbo['loss']:.3f} per image ({model.likelihood.name} "
              f"reconstruction term{scale})")
        print(f"  reconstructions: {mse_text}, "
              f"PSNR {quality['psnr']:.2f} dB, SSIM {quality['ssim']:.4f}")
    else:
        if mse:
            c = mse_constant(model.input_dim)
            print(f"  test loss   {elbo['loss']:.3f} per image (squared error {elbo['recon']:.3f}"
                  f"{scale} + KL {elbo['kl']:.3f}; one sample of z per image)")
            print(f"    a negative ELBO of {elbo['loss'] + c:.3f} nats/image with p(x|z) = "
                  f"N(mean, 1/2): 0.5 D log(pi) = {c:.2f} more")
        else:
            print(f"  test loss   {elbo['loss']:.3f} nats/image (recon {elbo['recon']:.3f}, "
                  f"KL {elbo['kl']:.3f}; one sample of z per image)")
        print(f"  reconstructions from the posterior mean: {mse_text}, "
              f"PSNR {quality['psnr']:.2f} dB, SSIM {quality['ssim']:.4f}")
    try:
        if args.per_image:
            progress.now("scoring each test image", target=args.per_image)
            for line in per_image_report(model, x, test_labels, run, args.per_image,
                                         eval_generator(model, seed)):
                print(line)
        if args.predictions:
            progress.now("writing the predictions", target=args.predictions)
            write_predictions(args.predictions, reconstructed_batches(model, x))
            print(f"  predictions: {args.predictions}, {len(x)} rows (row_id, orig_px0.., "
                  "recon_px0..)")
    except (DataError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.iw:
        threads.tick()                                # the load may have changed meanwhile
        progress.now(f"estimating -log p(x) with --iw {args.iw}")
        start = time.perf_counter()
        log_px = iw_log_likelihood(model, x, args.iw, rng=eval_generator(model, seed + 1),
                                   batch_size=args.batch_size, labels=labels)   # (N,)
        seconds = time.perf_counter() - start
        nll = -to_numpy(log_px).astype("float64")                   # (N,) nats per image
        if mse:   # log p(x|z) was minus the squared error: add the Gaussian's constant back
            nll = nll + mse_constant(model.input_dim)
        for line in iw_lines(model, x, nll, args.iw, seconds, scale):
            print(line)
        if labels is not None:
            print("    (a CVAE: this bounds -log p(x | y), each image given its label; "
                  "docs/math.md §13)")
    if args.iw_sweep:
        threads.tick()
        progress.now("measuring --iw-sweep")
        for line in sweep_report(model, x, labels, run, meta.get("epoch"), seed,
                                 images=args.sweep_images, batch_size=args.batch_size):
            print(line)
    return 0


def cvae_labels(model, test_labels, dataset, args):
    """A CVAE's test labels on its device, checked against its classes; None for other models."""
    if model.kind != "cvae":
        return None
    if args.per_image or args.predictions:
        raise ValueError("--per-image and --predictions are for models without labels; a cvae "
                         "is measured with the test loss, --iw and --iw-sweep")
    if test_labels is None:
        raise ValueError(f"{args.checkpoint} holds a cvae, which reads each image's label, and "
                         f"the test images of {dataset} have none")
    lo, hi = int(test_labels.min()), int(test_labels.max())
    if lo < 0 or hi >= model.num_classes:
        raise ValueError(f"the test labels of {dataset} run from {lo} to {hi}; this cvae has "
                         f"{model.num_classes} classes, 0 to {model.num_classes - 1}")
    return model.xp.asarray(np.asarray(test_labels).astype(np.int64))


def mse_constant(input_dim: int) -> float:
    """0.5 D log(pi): what the mse likelihood leaves out of -log N(x; mean, 1/2) (docs/math.md §6)."""
    return 0.5 * input_dim * math.log(math.pi)


def iw_lines(model, x, nll, k: int, seconds: float, scale: str = "") -> list[str]:
    """The -log p(x) estimate with its standard error over the images, and what it is not.

    nll: (N,) NumPy, nats per image, the likelihood's constant included.
    """
    n = len(nll)
    se = f"std err {nll.std(ddof=1) / math.sqrt(n):.3f}; " if n > 1 else ""   # of the mean
    lines = [f"  -log p(x) ~ {nll.mean():.3f} nats/image ({se}importance-weighted, K = {k}, "
             f"{seconds:.1f} s)"]
    if model.likelihood.name == "mse":
        lines.append(f"    (p(x|z) = N(mean, 1/2): its constant 0.5 D log(pi) = "
                     f"{mse_constant(model.input_dim):.2f} included)")
    if scale:
        lines.append(f"    (a density of the pixels{scale}, 2x - 1, as the model trains on them)")
    grey = bool(model.xp.any((x > 0) & (x < 1)))
    if model.likelihood.name == "bernoulli" and grey:
        lines += ["    a Bernoulli density of grey levels in [0, 1], not the probability of "
                  "discrete images;",
                  "    binarized-MNIST figures (86.76 nats in Burda et al. 2015) need a run "
                  "with --binarize"]
    return lines

