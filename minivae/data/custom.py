"""Your own images from a ``.npy`` or ``.npz`` file.

Any image size, grey or colour, trains: the model only sees D = H * W * C
numbers per image. A 64x64 colour face set for anomaly detection is

    np.savez("faces.npz", x_train=train_faces, x_test=test_faces)   # uint8 (N, 64, 64, 3)
    images, labels = load_dataset("faces.npz", "train")             # labels: None

Accepted arrays
---------------
images : (N, H, W) grey or (N, H, W, C) channels-last with C in {1, 3, 4};
         uint8 in 0..255, or float in [0, 1] (float16/32/64, no NaN or inf).
labels : optional (N,) integers, used to choose the example images (one per
         class) of the plots and of reconstructions.csv, by ``--model cvae``
         (the conditional VAE), which trains on them, and by anomaly detection:
         ``--train-labels`` keeps the normal ones, and ``evaluate --per-image``
         calls the test images of the others anomalies (minivae/run/anomaly.py).

Which images are "train" and which "test"
-----------------------------------------
* A ``.npz`` with ``x_train`` and ``x_test`` (Keras's naming, as in its
  mnist.npz) uses them as given, with ``y_train`` / ``y_test`` as labels.
* Otherwise the file holds one image array: a ``.npy``, or a ``.npz`` key
  ``x``, ``images`` or ``x_train``, or its only array besides the labels
  (``y``, ``labels`` or ``y_train``). Its **last 10%** is "test" and the rest
  "train". The hold-out is deterministic (no shuffling, so the same file
  always gives the same split); shuffle the file first if it is sorted.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from ..files.npyfile import check_npy, check_npz, memory_cap
from .errors import DataError, DataNotFoundError, float_range_hint
from .idx import check_regular_file

SUFFIXES = (".npy", ".npz")
TEST_FRACTION = 0.1  # share of a single image array held out as the "test" split
_IMAGE_KEYS = ("x", "images", "x_train")
_LABEL_KEYS = ("y", "labels", "y_train")


def check_images(images, source: str = "images") -> np.ndarray:
    """Validate an image array; return it as uint8 or float32.

    Parameters
    ----------
    images : array_like
        (N, H, W) or (N, H, W, C) images, uint8 or float in [0, 1].
    source : str
        What to call the array in error messages.

    Returns
    -------
    np.ndarray
        The images, uint8 unchanged, floats (and bools) as float32.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] not in (1, 3, 4) and images.shape[1] in (1, 3, 4):
        raise DataError(f"{source}: images of shape {images.shape} look channel-first, (N, C, "
                        "H, W) as PyTorch stores them; minivae reads them channels last, (N, H, "
                        "W, C) with C in (1, 3, 4): use x.transpose(0, 2, 3, 1)")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise DataError(f"{source}: expected images of shape (N, H, W) or (N, H, W, C) "
                        f"with C in (1, 3, 4), got shape {images.shape}. A flat (N, D) "
                        "array needs reshaping to its image size first")
    if images.shape[0] == 0:
        raise DataError(f"{source}: the array holds no images (N = 0)")
    if 0 in images.shape[1:]:   # (N, H, 0): no pixels to train on, and min() of none fails
        raise DataError(f"{source}: images of shape {images.shape} hold no pixels (a side is "
                        "0); each image needs H, W >= 1")
    if images.dtype == np.uint8:
        return images
    if images.dtype == np.bool_:
        return images.astype(np.float32)
    if images.dtype.kind != "f":
        raise DataError(f"{source}: images must be uint8 (0..255) or float in [0, 1], "
                        f"got dtype {images.dtype}; convert them, e.g. "
                        "images.astype(np.uint8) if they hold 0..255")
    lo, hi = float(images.min()), float(images.max())
    if not (0.0 <= lo and hi <= 1.0):  # False for NaN and inf too
        bad = int(np.count_nonzero(~((images >= 0) & (images <= 1))))
        raise DataError(f"{source}: float images must lie in [0, 1] with no NaN or inf; "
                        f"{bad} values do not (min {lo}, max {hi}). {float_range_hint(lo, hi)}")
    return images.astype(np.float32, copy=False)


def _check_labels(labels, n: int, source: str):
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise DataError(f"{source}: labels must be (N,) = ({n},) integers, one per image "
                        f"(they choose the figures' examples, and --model cvae trains on "
                        f"them); got shape {labels.shape} of {labels.dtype}")
    return labels


def _keys(names, split: str, source: str) -> tuple:
    """(the images' key, the labels' key or None, True when the file states its own split).

    ``names``: the file's array names. x_train and x_test with y_train and y_test,
    or one image array (x, images, x_train, or the only one besides the labels).
    """
    if "x_train" in names and "x_test" in names:
        return f"x_{split}", (f"y_{split}" if f"y_{split}" in names else None), True
    labels = next((key for key in _LABEL_KEYS if key in names), None)
    for key in _IMAGE_KEYS:
        if key in names:
            return key, labels, False
    others = [key for key in names if key not in _LABEL_KEYS]
    if len(others) == 1:  # the file's only array besides the labels
        return others[0], labels, False
    raise DataError(f"{source}: cannot tell which array holds the images; name it "
                    f"one of {_IMAGE_KEYS} (or use x_train and x_test); found keys "
                    f"{sorted(names)}")


def _held_out(n: int, split: str, source: str) -> slice:
    """The rows of ``split`` among a single array's ``n``: the last 10% are "test"."""
    n_test = max(1, int(round(n * TEST_FRACTION)))
    if n - n_test < 1:
        raise DataError(f"{source}: {n} image(s) are too few to hold out a test split")
    return slice(0, n - n_test) if split == "train" else slice(n - n_test, n)


def _checked(path, split: str, max_bytes: int | None) -> tuple:
    """(path, {name: (shape, dtype)}) of a .npy/.npz whose headers declare arrays that fit in
    ``max_bytes`` (default: the memory budget), before anything is read."""
    path = Path(path)
    if split not in ("train", "test"):
        raise ValueError(f"split must be one of ('train', 'test'), got {split!r}")
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path}: custom data must be a {' or '.join(SUFFIXES)} file")
    if not os.path.lexists(path):
        raise DataNotFoundError(f"{path}: no such file")
    check_regular_file(path)              # a directory, FIFO or dangling link
    max_bytes = memory_cap() if max_bytes is None else max_bytes
    return path, (check_npz if path.suffix == ".npz" else check_npy)(str(path), max_bytes,
                                                                      DataError)


def _read(path: Path, keys) -> dict:
    """{key: array} of the arrays ``keys`` of a checked .npy/.npz; an .npz inflates only those."""
    try:
        # allow_pickle=False: an .npy/.npz file must never be able to run code.
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {key: npz[key] for key in keys}
        return {"x": np.load(path, allow_pickle=False)}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise DataError(f"{path}: cannot read it as {path.suffix} ({exc})") from None
    except MemoryError:
        raise DataError(f"{path}: not enough memory to load it") from None


def load_array_file(path, split: str = "train", max_bytes: int | None = None):
    """Load ``split`` ("train" or "test") of the images in a .npy/.npz file.

    The sizes the file declares are checked before anything is allocated: its
    arrays together may hold at most ``max_bytes`` (default: half the
    machine's memory, or ``$MINIVAE_MAX_DATA_BYTES``).

    Returns
    -------
    images : np.ndarray
        (N, H, W) or (N, H, W, C), uint8 or float32 in [0, 1].
    labels : np.ndarray or None
        (N,) integers if the file has them.
    """
    path, declared = _checked(path, split, max_bytes)
    source = str(path)
    image_key, label_key, stated = _keys(declared, split, source)
    arrays = _read(path, [key for key in (image_key, label_key) if key])   # those two alone
    images = check_images(arrays[image_key], f"{source}[{image_key}]" if stated else source)
    labels = _check_labels(arrays.get(label_key), len(images), source)
    if stated:                                          # the file states its own split
        return images, labels
    part = _held_out(len(images), split, source)
    return images[part], (labels[part] if labels is not None else None)


def load_array_labels(path, split: str = "train", max_bytes: int | None = None):
    """The labels of ``split`` that :func:`load_array_file` gives, without reading the images.

    The file is checked as load_array_file checks it, from its headers; then an
    .npz inflates its labels array alone (a .npy holds no labels). The images'
    header says how many there are, for the labels' length and the 10% held out.

    Returns (N,) integers, or None if the file has no labels.
    """
    path, declared = _checked(path, split, max_bytes)
    source = str(path)
    image_key, label_key, stated = _keys(declared, split, source)
    if label_key is None:
        return None
    shape = declared[image_key][0]
    n = shape[0] if shape else 0        # a 0-d "image array": _check_labels refuses the labels
    labels = _check_labels(_read(path, [label_key])[label_key], n, source)
    return labels if stated else labels[_held_out(n, split, source)]


def fingerprint(path) -> dict:
    """{"bytes": size, "sha256": hex digest} of a data file, read 1 MiB at a time.

    A checkpoint records it, so that ``--resume`` and ``evaluate`` can tell
    when the file was replaced (MNIST has its canonical checksums; your own
    file has only this).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        return {"bytes": os.fstat(f.fileno()).st_size, "sha256": digest.hexdigest()}


def layout_note(shape, source) -> str | None:
    """A note for (N, A, B, C) images whose A could be a channel count as well as C.

    (N, 3, 8, 4) are read channels-last, as 3x8 images of 4 channels; if they
    are 3-channel 8x4 images stored channel-first (PyTorch's order), training
    on them as given would mix their pixels up without a word.
    """
    if len(shape) != 4 or shape[1] not in (1, 3, 4):
        return None
    _, H, W, C = shape
    return (f"note: {source}: images of shape {tuple(shape)} are read channels-last, as {H}x{W} "
            f"images of {C} channels; if they are {H}-channel {W}x{C} images (channel-first, "
            "as PyTorch stores them), save x.transpose(0, 2, 3, 1) instead")
