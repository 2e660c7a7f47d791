"""Loading a saved model of any kind: the table from a file's "model" field to its class.

    model = minivae.load_model("ckpt.npz")     # a VAE, an IWAE, a CVAE or an Autoencoder
    model = minivae.load_model("runs/<run>")   # a run directory: its checkpoint.npz

``VAE.load``, ``IWAE.load``, ``CVAE.load`` and ``Autoencoder.load`` read their own kind
only; this is the one place that knows every kind. An IWAE's file says
``"model": "vae"`` with its k and objective (as files written before IWAE
was a class of its own do).
"""

from __future__ import annotations

import os

from ..autoencoder import Autoencoder
from ..cvae import CVAE
from ..files.serialize import CheckpointError, load_npz
from ..iwae import IWAE
from ..vae import VAE

MODEL_CLASSES = {cls.kind: cls for cls in (VAE, Autoencoder, CVAE)}


def model_from_arrays(arrays, meta, path="<arrays>", device="cpu", dtype=None):
    """The model described by ``meta`` (from a minivae file), with its parameters set."""
    config = meta.get("config") if isinstance(meta, dict) else None
    kind = config.get("model") if isinstance(config, dict) else None
    if meta.get("format") != "minivae" or not isinstance(config, dict):
        raise CheckpointError(f"{path} was not written by minivae's save()")
    if not isinstance(kind, str) or kind not in MODEL_CLASSES:
        raise CheckpointError(f"{path}: its metadata names an unknown model kind {kind!r} "
                              f"(expected one of {sorted(MODEL_CLASSES)})")
    cls = MODEL_CLASSES[kind]
    if cls is VAE and (config.get("k", 1), config.get("objective", "elbo")) != (1, "elbo"):
        cls = IWAE                                   # k samples of z per example
    return cls.from_arrays(arrays, meta, path, device=device, dtype=dtype)


RUN_CHECKPOINT = "checkpoint.npz"   # what a training run writes into its directory


def load_model(path, device="cpu", dtype=None):
    """A model of any kind rebuilt from a file written by ``model.save`` (or a checkpoint).

    ``path`` may also be a run directory, as the commands take it
    (``minivae.load_model("runs/<run>")``): its checkpoint.npz is read.
    """
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, RUN_CHECKPOINT)):
            raise CheckpointError(f"{path} is a directory with no {RUN_CHECKPOINT} in it (a run "
                                  "writes one after each epoch); pass a run directory or a "
                                  "file written by model.save()")
        path = os.path.join(path, RUN_CHECKPOINT)
    arrays, meta = load_npz(path)
    return model_from_arrays(arrays, meta, path, device=device, dtype=dtype)
