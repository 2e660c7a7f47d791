"""Mini-batches for training: the whole dataset on the device, shuffled each epoch.

MNIST as float32 is 60000 x 784 x 4 bytes = 188 MB: it fits on any GPU, so
it is uploaded once and every batch is gathered on the device. Nothing
crosses the PCIe bus during training, and on the CPU a batch is one
``take`` (about 50 microseconds for 128 images).

    it = BatchIterator(images, batch_size=128, seed=0)   # images: uint8 (N, 28, 28)
    for epoch in range(10):
        for x in it:                                      # x: (B, 784) float32 in [0, 1]
            loss, parts = model.loss_and_grads(x)

Dynamic binarization (Burda et al. 2015, "Importance Weighted Autoencoders",
Sec. 5): with ``binarize=True`` every pixel is a fresh Bernoulli draw, 1 with
probability equal to its grey level, each time the image is seen. The model
then trains on binary data, as a Bernoulli likelihood assumes, without
overfitting one fixed binarization. A test set is binarized once instead,
with :func:`binarize`, so that every evaluation sees the same 0/1 images.

On the CPU the iterator also keeps NumPy's matrix products fast on a busy
machine: between two batches it lets minivae/fast/threads.py choose how many
threads OpenBLAS uses (``threads="auto"``, the default), as the commands'
``--threads auto`` does. Without it, one other CPU-bound program can make
the loop several times slower than on one thread.
"""

from __future__ import annotations

import numpy as np

from ..backend import Generator, derived_seed, get_array_module, resolve_dtype, to_device
from ..fast.threads import loop_threads, thread_count
from .errors import DataError, float_range_hint


def to_unit_float(images, xp=None, dtype="float32"):
    """Images as an (N, D) float array in [0, 1] on the device of ``xp``.

    Parameters
    ----------
    images : array_like
        (N, ...) images: uint8 0..255 (divided by 255), float already in
        [0, 1] (checked, never clipped), or bool.
    xp : module, optional
        numpy or cupy; default: the module that owns ``images``.
    dtype : str
        "float32" or "float64".

    Returns
    -------
    array of shape (N, D), D = the product of the image dimensions.
    """
    xp = get_array_module(images) if xp is None else xp
    dtype = resolve_dtype(dtype)
    # Move first, convert second: uint8 crosses to the GPU in a quarter of the bytes.
    a = to_device(images, xp)
    if a.ndim < 2 or a.shape[0] == 0:
        raise DataError(f"expected (N, ...) images with N >= 1, got shape {a.shape}")
    if a.size == 0:   # (N, H, 0): no pixels, and the range check's min() of none would fail
        raise DataError(f"images of shape {a.shape} hold no pixels; each image needs at least one")
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)  # (N, H, W[, C]) -> (N, D)
    if a.dtype == np.uint8:
        x = a.astype(dtype)
        x /= 255  # division, not * (1/255): 255 maps to exactly 1.0
        return x
    if a.dtype == np.bool_:
        return a.astype(dtype)
    if a.dtype.kind != "f":
        raise DataError(f"images must be uint8, bool or float in [0, 1], got {a.dtype}")
    lo, hi = float(a.min()), float(a.max())  # two reads from the device, once per dataset
    if not (0.0 <= lo and hi <= 1.0):  # NaN and inf fail this test too
        raise DataError(f"float images must lie in [0, 1] with no NaN or inf; found "
                        f"min {lo}, max {hi}. {float_range_hint(lo, hi)}")
    return a.astype(dtype, copy=False)


def binarize(x, seed: int):
    """One fixed Bernoulli binarization of a dataset, on its device.

    Each pixel becomes 1 with probability equal to its grey level, 0 otherwise,
    from a generator seeded by ``seed`` alone: the same seed gives the same
    0/1 images on every call. This is what a test set needs, so that models
    and epochs are measured on the same data. Training uses
    ``BatchIterator(..., binarize=True)`` instead, which draws the pixels
    afresh every time an image is seen (dynamic binarization).

    x: (N, D) floats in [0, 1] (numpy or cupy). Returns (N, D) 0/1 of x's
    dtype, on x's device.
    """
    u = Generator(get_array_module(x), seed).uniform(x.shape, dtype=x.dtype)   # (N, D)
    return (u < x).astype(x.dtype)   # P(1) = P(u < x) = x for u ~ U[0, 1)


class BatchIterator:
    """Shuffled mini-batches of an (N, D) dataset that lives on the device.

    Parameters
    ----------
    data : array
        (N, D) floats in [0, 1] on the device (numpy or cupy), used as is; or
        images of any shape and dtype :func:`to_unit_float` accepts, e.g. uint8
        (N, 28, 28), converted once.
    batch_size : int
        B, the rows per batch. The last batch of an epoch is smaller unless
        ``drop_last``.
    shuffle : bool
        Draw a new order each epoch; otherwise rows come in order.
    seed : int
        Seed of the permutations and binarization noise; epoch e draws from
        a generator seeded by (seed, e).
    binarize : bool
        Yield 0/1 values: ``uniform < x``, drawn fresh every time.
    drop_last : bool
        Skip the final batch if it has fewer than B rows.
    dtype : str
        dtype of the batches, "float32" or "float64".
    xp : module, optional
        Device to keep the data on; default: where ``data`` already is.
    threads : "auto", int or None
        CPU only: the BLAS threads of the loop over the batches
        (minivae/fast/threads.py). "auto" uses one thread while other
        programs keep the cores busy and all of them otherwise, looking at
        the load once a second between two batches; N fixes the count (and
        with it every number to the last bit); None leaves NumPy's BLAS as
        it is. A command's ``--threads`` takes precedence over it.
    labels : array, optional
        (N,) integer labels, e.g. for a conditional VAE: each batch is then
        ``(x, y)``, y (B,) the labels of x's rows, on the same device.

    Each ``for x in it`` is one epoch of ``len(it)`` batches of shape (B, D).
    With ``shuffle=False`` (and no binarization) a batch is a view into the
    dataset, so do not modify batches in place.
    """

    def __init__(self, data, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 binarize: bool = False, drop_last: bool = False, dtype="float32", xp=None,
                 threads="auto", labels=None):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.xp = get_array_module(data) if xp is None else xp
        self.dtype = resolve_dtype(dtype)
        self.data = to_unit_float(data, self.xp, self.dtype)  # (N, D), no copy if ready
        self.batch_size = int(batch_size)
        self.shuffle, self.binarize, self.drop_last = shuffle, binarize, drop_last
        self.seed = int(seed)
        self.threads = None if threads is None else thread_count(threads)
        self.labels = None if labels is None else self.xp.asarray(labels)   # (N,) on the device
        if self.labels is not None and tuple(self.labels.shape) != (len(self.data),):
            raise ValueError(f"labels must be (N,) = ({len(self.data)},), one per image; got "
                             f"shape {tuple(self.labels.shape)}")
        self.epoch = 0  # epochs started so far
        self._in_epoch = False
        if drop_last and len(self.data) < self.batch_size:
            raise ValueError(f"drop_last with {len(self.data)} rows and batch_size "
                             f"{self.batch_size} leaves no batch at all")

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = len(self.data), self.batch_size
        return n // b if self.drop_last else -(-n // b)  # -(-n // b) is ceil(n / b)

    def _generator(self, epoch: int) -> Generator:
        """The generator of one epoch, seeded by (seed, epoch) alone.

        Epoch e's order and noise depend only on the seed and e, never on
        what ran before; resuming at epoch e is therefore exact on any device
        (CuPy's generator state cannot be saved, but it can be re-seeded).
        """
        return Generator(self.xp, derived_seed(self.seed, epoch))

    def __iter__(self):
        xp, data, b = self.xp, self.data, self.batch_size
        rng = self._generator(self.epoch)
        self.epoch += 1
        self._in_epoch = True
        labels = self.labels
        on_cpu = self.threads is not None and xp is np
        blas = loop_threads(self.threads) if on_cpu else None   # None: a command chooses
        try:
            order = rng.permutation(len(data)) if self.shuffle else None  # (N,)
            for i in range(len(self)):
                if blas is not None:
                    blas.tick()  # auto: a clock read; once a second, a look at the load
                rows = slice(i * b, (i + 1) * b) if order is None else order[i * b:(i + 1) * b]
                if order is None:
                    x = data[rows]  # a view: no copy at all
                else:
                    # One gather on the device. A fresh array per batch, not
                    # one reused buffer: a caller may keep batches (list(it)).
                    x = xp.take(data, rows, axis=0)  # (B, D)
                if self.binarize:
                    u = rng.uniform(x.shape, dtype=self.dtype)  # (B, D)
                    x = xp.less(u, x, out=u)  # 1.0 with probability x, into u's memory
                yield x if labels is None else (x, labels[rows])   # (B, D) [, (B,)]
        finally:  # also runs when a loop breaks out early
            self._in_epoch = False

    def state(self) -> dict:
        """Where the iterator stands, as plain JSON-serialisable Python.

        Capture it between epochs (e.g. in a checkpoint after one ends):
        ``set_state`` on a fresh iterator over the same data then yields the
        same batches, bit for bit, as the uninterrupted run would have.
        """
        if self._in_epoch:
            raise RuntimeError("BatchIterator.state() was called in the middle of an "
                               "epoch; capture it after the epoch's loop ends")
        return {"epoch": self.epoch, "n": len(self.data), "batch_size": self.batch_size,
                "seed": self.seed, "shuffle": self.shuffle, "binarize": self.binarize}

    def set_state(self, state: dict) -> None:
        """Continue from a :meth:`state` captured between epochs."""
        if (state["n"], state["batch_size"]) != (len(self.data), self.batch_size):
            raise ValueError(f"this state is for {state['n']} rows in batches of "
                             f"{state['batch_size']}, not {len(self.data)} in batches "
                             f"of {self.batch_size}")
        for key in ("shuffle", "binarize"):
            if key in state and bool(state[key]) != getattr(self, key):
                raise ValueError(f"this state is for {key}={bool(state[key])}, not "
                                 f"{key}={getattr(self, key)}")
        self.epoch = int(state["epoch"])
        self.seed = int(state["seed"])
