"""The data a training run reads: the training batches and the test set, on the device.

``load_data`` loads both splits (MNIST, Fashion-MNIST or a .npy/.npz file of
your own, data/), checks them against each other and the memory budget
(budget.py), keeps only --train-labels' images for training (anomaly.py),
binarizes the test set once for --binarize (evaluation.py) and picks the
test images whose reconstructions a run saves. A CVAE also reads each
image's label: ``class_count`` checks them against its C classes.

Shapes: N images, D pixels.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import numpy as np

from ..data import BatchIterator, DataError, load_dataset, to_unit_float
from ..data.custom import fingerprint, layout_note
from ..data.datasets import where_read
from .anomaly import keep_labels
from .budget import check_data_file
from .config import TrainConfig
from .evaluation import binarize_test_set, pick_examples


def load_data(cfg: TrainConfig, xp) -> SimpleNamespace:
    """The training batches and the test set, uploaded to the device once, (N, D) in [0, 1].

    For --model cvae the batches are (x, y) and the test labels y_test (N_test,) go to
    the device too; num_classes is the labels' C (``class_count``).
    """
    check_data_file(cfg, DataError)          # a file's arrays and their float copy: budget.py
    own = cfg.dataset.endswith((".npy", ".npz"))
    fp = fingerprint(cfg.dataset) if own and os.path.isfile(cfg.dataset) else None
    read = []                                # the IDX files of MNIST or Fashion-MNIST
    train_images, train_labels = load_dataset(cfg.dataset, "train", root=cfg.data_dir,
                                              sources=read)
    test_images, test_labels = load_dataset(cfg.dataset, "test", root=cfg.data_dir, sources=read)
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"{cfg.dataset}: the train images are {train_images.shape[1:]} and the "
                        f"test images {test_images.shape[1:]}; both splits need one image shape")
    note = layout_note(train_images.shape, cfg.dataset) if own else None
    if note:                            # (N, 3, 8, 4): 3x8 RGBA, or channel-first 8x4 RGB?
        print(note, file=sys.stderr)
    if cfg.train_labels is not None:    # the normal class only (anomaly.py); the test set keeps all
        train_images, train_labels = keep_labels(train_images, train_labels, cfg.train_labels,
                                                 cfg.dataset)
    num_classes = class_count(cfg, train_labels, test_labels) if cfg.model == "cvae" else None
    batches = BatchIterator(train_images, cfg.batch_size, seed=cfg.seed, binarize=cfg.binarize,
                            dtype=cfg.dtype, xp=xp,
                            labels=None if num_classes is None else train_labels.astype(np.int64))
    x_test = to_unit_float(test_images, xp, cfg.dtype)      # (N_test, D)
    if cfg.binarize:   # one fixed binarization of the test set, so epochs compare fairly
        x_test = binarize_test_set(x_test, cfg.seed)                 # (N_test, D) of 0/1
    examples = pick_examples(test_labels, len(x_test))               # (n,) test rows to save
    y_test = None if num_classes is None else xp.asarray(test_labels.astype(np.int64))  # (N_test,)
    return SimpleNamespace(batches=batches, x_test=x_test, test_labels=test_labels,
                           fingerprint=fp,                          # a file's size, sha256
                           source=where_read(read, cfg.dataset, cfg.data_dir) if read else None,
                           image_shape=train_images.shape[1:],      # (H, W) or (H, W, C)
                           examples=examples, x_examples=x_test[xp.asarray(examples)],  # (n, D)
                           y_test=y_test, num_classes=num_classes,
                           y_examples=None if y_test is None else y_test[xp.asarray(examples)])


def class_count(cfg: TrainConfig, train_labels, test_labels) -> int:
    """C for --model cvae: --num-classes, or the data set's; every label checked against it."""
    for split, labels in (("training", train_labels), ("test", test_labels)):
        if labels is None:
            raise DataError(f"--model cvae trains on each image's label, and the {split} images "
                            f"of {cfg.dataset} have none: give the file y_train and y_test "
                            "(or y / labels) arrays, or train a --model vae")
    known = 10 if cfg.dataset in ("mnist", "fashion-mnist") else int(train_labels.max()) + 1
    C = cfg.num_classes or known
    for split, labels in (("training", train_labels), ("test", test_labels)):
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= C:
            given = f"--num-classes {C}" if cfg.num_classes else f"{C} classes, from the " \
                "training labels"
            raise DataError(f"--model cvae: the {split} labels of {cfg.dataset} run from {lo} to "
                            f"{hi}, outside 0..{C - 1} ({given}); labels must be 0 to C - 1")
    return C
