"""Anomaly detection from the commands: train on normal images, score a mixed test set.

The labs detect anomalies by how badly a model explains an image: it is
trained on normal images only, so an image unlike them reconstructs worse
and costs a higher loss. Two commands do the whole workflow:

    python -m minivae.train --train-labels 0,1,2,3,4 --out runs/digits       # normal: 0-4
    python -m minivae.evaluate runs/digits --per-image scores.csv              # every test image

``--train-labels`` keeps the training images of those labels (:func:`keep_labels`);
the test set keeps all of them. ``evaluate --per-image`` (:func:`per_image_report`)
writes each test image's scores (:func:`per_image_scores`), and when some test
labels never occurred in training (:func:`unseen_labels`) it calls those images the
anomalies and prints the ROC-AUC of each score (:func:`roc_auc`): the
probability that a random anomaly scores higher than a random normal image
(0.5 is chance, 1 a perfect detector). ``evaluate --predictions FILE`` writes
the labs' prediction.csv: every test image and its reconstruction. Both files
are written row by row into a temporary file renamed into place at the end
(files/serialize.py's atomic_file): never half-written, and the predictions,
two numbers per pixel, never held in memory whole.

Shapes: N test images, B batch, D pixels.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..data import DataError, load_labels
from ..files.serialize import atomic_file
from .evaluation import per_example_loss

PER_IMAGE_COLUMNS = ("row_id", "label", "unseen", "loss", "recon", "kl", "mse")


def keep_labels(images, labels, keep, source: str):
    """(images, labels) of the training images whose label is in ``keep``: the normal class.

    Refused, naming the labels there are, when the data set has no labels or
    none of its images carry one of ``keep``.
    """
    if labels is None:
        raise DataError(f"--train-labels: {source} has no labels to choose images by (a .npz "
                        "needs y_train and y_test, or y)")
    rows = np.isin(labels, np.asarray(keep))                  # (N,) bool
    if not rows.any():
        there = ", ".join(map(str, np.unique(labels)[:20]))
        raise DataError(f"--train-labels {','.join(map(str, keep))}: no training image of "
                        f"{source} has one of these labels (it has {there})")
    return images[rows], labels[rows]


def unseen_labels(train_labels, test_labels):
    """(unseen (N,) bool, their labels) for the test images whose label training never had.

    None when there is nothing to tell apart: no labels, or every test image's
    label (or none) among the training labels.
    """
    if train_labels is None or test_labels is None:
        return None
    unseen = ~np.isin(test_labels, np.unique(train_labels))   # (N,) bool
    if unseen.all() or not unseen.any():
        return None
    return unseen, [int(v) for v in np.unique(np.asarray(test_labels)[unseen])]


def per_image_scores(model, x, rng, labels=None, batch_size: int = 1000) -> dict:
    """Each test image's loss, its two terms, and the MSE of its reconstruction.

    x: (N, D) in [0, 1] on the model's device. Returns NumPy (N,) arrays:
    loss = recon + beta * kl (one z ~ q(z|x), as evaluate's test loss; an
    autoencoder's is its reconstruction term and kl is 0), and mse, the mean
    over the pixels of (reconstruction - x)^2 on [0, 1], the reconstruction
    from the posterior mean (a VAE) or the code (an autoencoder).
    """
    cvae = getattr(model, "kind", None) == "cvae"
    loss, parts = per_example_loss(model, x, batch_size, rng,
                                   **({"labels": labels} if cvae else {}))   # (N,) each
    mse = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]                                   # (B, D)
        given = (labels[start:start + batch_size],) if cvae else ()
        diff = model.reconstruct(xb, *given) - xb                          # (B, D)
        mse.append((diff * diff).mean(axis=1))                             # (B,)
    out = {"loss": loss, "recon": parts["recon"], "kl": parts["kl"],
           "mse": model.xp.concatenate(mse)}
    return {k: to_numpy(v).astype(np.float64) for k, v in out.items()}


def roc_auc(scores, positive) -> float:
    """Area under the ROC curve: P(a positive's score > a negative's), ties counting one half.

    Rank-based (the Mann-Whitney U statistic): all N scores ranked together,
    tied scores sharing their average rank; with P positives and M negatives,
    U = (sum of the positives' ranks) - P (P + 1) / 2 and AUC = U / (P M).
    scores: (N,); positive: (N,) bool.
    """
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    p, m = int(positive.sum()), int((~positive).sum())
    if p == 0 or m == 0:
        raise ValueError("roc_auc needs at least one positive and one negative")
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2          # (distinct,) 1-based, ties averaged
    u = mean_rank[group.reshape(-1)[positive]].sum() - p * (p + 1) / 2
    return float(u / (p * m))


def write_per_image(path, scores: dict, labels=None, unseen=None) -> None:
    """``path``: one row per test image, the columns of PER_IMAGE_COLUMNS (label and unseen
    empty where unknown)."""
    with atomic_file(path, text=True) as f:
        f.write(",".join(PER_IMAGE_COLUMNS) + "\n")
        for i in range(len(scores["loss"])):
            label = "" if labels is None else str(int(labels[i]))
            flag = "" if unseen is None else str(int(unseen[i]))
            values = ",".join(f"{scores[k][i]:.7g}" for k in PER_IMAGE_COLUMNS[3:])
            f.write(f"{i},{label},{flag},{values}\n")


def write_predictions(path, batches) -> int:
    """The labs' prediction.csv: row_id, orig_px0..orig_px{D-1}, recon_px0..recon_px{D-1}.

    batches: (x, recon) pairs of NumPy (B, D) arrays in [0, 1], the test images in
    order and their reconstructions (:func:`reconstructed_batches`). Written batch by
    batch, so memory does not grow with the number of rows; returns that number.
    """
    n = 0
    with atomic_file(path, text=True) as f:
        for x, recon in batches:
            b, d = x.shape
            if n == 0:
                f.write(",".join(["row_id", *(f"orig_px{i}" for i in range(d)),
                                  *(f"recon_px{i}" for i in range(d))]) + "\n")
            table = np.concatenate([np.arange(n, n + b)[:, None], x, recon], axis=1)  # (B, 1 + 2D)
            np.savetxt(f, table, fmt=["%d"] + ["%.6g"] * (2 * d), delimiter=",")
            n += b
    return n


def reconstructed_batches(model, x, labels=None, batch_size: int = 1000):
    """Yield (x, decode(mu(x))) (an autoencoder's decode(encode(x))) for ``batch_size`` rows
    of ``x`` (N, D) at a time, as NumPy (B, D) arrays."""
    cvae = getattr(model, "kind", None) == "cvae"
    for s in range(0, x.shape[0], batch_size):
        xb = x[s:s + batch_size]                                           # (B, D)
        given = (labels[s:s + batch_size],) if cvae else ()
        yield to_numpy(xb), to_numpy(model.reconstruct(xb, *given))


def per_image_report(model, x, test_labels, run: dict, path, rng) -> list[str]:
    """``evaluate --per-image path``: write ``path`` (:func:`write_per_image`); return the
    lines to print, with the ROC-AUC of each score when some test labels never occurred in
    training. ``run``: the run's settings (its dataset, data_dir and train_labels)."""
    given = None if test_labels is None or model.kind != "cvae" else \
        model.xp.asarray(test_labels.astype(np.int64))      # a CVAE reads its labels
    scores = per_image_scores(model, x, rng, labels=given)
    train_labels = None
    if test_labels is not None:   # the labels the model was trained on, as train.py chose them
        train_labels = load_labels(run.get("dataset", "mnist"), "train", root=run.get("data_dir"))
        keep = run.get("train_labels")
        if keep is not None and train_labels is not None:
            train_labels = train_labels[np.isin(train_labels, keep)]
    found = unseen_labels(train_labels, test_labels)
    unseen, names = found if found is not None else (None, [])
    write_per_image(path, scores, test_labels, unseen)
    lines = [f"  per image: {path}, {len(x)} rows ({', '.join(PER_IMAGE_COLUMNS)})"]
    if found is None:
        why = ("the test set has no labels" if test_labels is None else
               "every test label occurs in training (train with --train-labels to leave some out)")
        return lines + [f"  no anomalies marked, so no ROC-AUC: {why}"]
    shown = ", ".join(map(str, names[:10])) + (", ..." if len(names) > 10 else "")
    loss = "the loss" if model.kind != "ae" else f"the {model.likelihood.name} loss"
    return lines + [
        f"  anomalies: the {int(unseen.sum())} test images of label{'s' * (len(names) > 1)} "
        f"{shown}, which training never saw ({int((~unseen).sum())} others)",
        f"    ROC-AUC {roc_auc(scores['loss'], unseen):.4f} scored by {loss}, "
        f"{roc_auc(scores['mse'], unseen):.4f} by the reconstruction's MSE"]
