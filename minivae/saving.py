"""Saving a model to a file, and building it again from one.

Every model (VAE, IWAE, CVAE, Autoencoder) has these methods through
``model.BaseModel``. A file holds the parameters and ``model.config()``,
everything needed to build the model again:

    model.save("vae.npz")             # .npz without pickle, written atomically
    model = VAE.load("vae.npz")       # a VAE's file; minivae.load_model reads any kind
    model.load_params(arrays)         # ``param/<name>`` arrays into a model built already

A file is checked before its weights are used: written by minivae, of this
class's kind, with settings the constructor accepts and no more parameters
than the memory budget allows (params.param_budget), and every array of
the right name and shape, floating-point and finite.
"""

from __future__ import annotations

import os

import numpy as np

from .files.budget import OverBudget
from .files.serialize import CheckpointError, load_npz, save_npz
from .params import param_budget


class Saving:
    """save, load, from_arrays and load_params, for a model class with ``kind``, ``config()``
    and ``params`` (model.BaseModel)."""

    def save(self, path, extra_arrays=None, extra_meta=None) -> None:
        """Write the parameters and config to ``path`` (.npz, no pickle, atomic)."""
        arrays = {f"param/{name}": a for name, a in self.params.items()}
        arrays.update(extra_arrays or {})
        meta = {"format": "minivae", "version": 1, "config": self.config(), **(extra_meta or {})}
        save_npz(path, arrays, meta)

    @classmethod
    def load(cls, path, device="cpu", dtype=None):
        """A model rebuilt from a file written by :meth:`save` (or a training checkpoint).

        ``VAE.load`` reads VAEs, ``Autoencoder.load`` autoencoders;
        ``minivae.load_model`` reads either.
        """
        if os.path.isdir(path):     # a run directory: its checkpoint is for load_model
            raise CheckpointError(f"{path} is a directory; minivae.load_model({str(path)!r}) "
                                  "reads the model of a run directory")
        arrays, meta = load_npz(path)
        return cls.from_arrays(arrays, meta, path, device=device, dtype=dtype)

    @classmethod
    def from_arrays(cls, arrays, meta, path="<arrays>", device="cpu", dtype=None):
        """This class's model, built from the config in ``meta`` and the ``param/`` arrays."""
        if meta.get("format") != "minivae" or not isinstance(meta.get("config"), dict):
            raise CheckpointError(f"{path} was not written by minivae's save()")
        config = dict(meta["config"])
        kind = config.pop("model", None)
        if kind != cls.kind:
            raise CheckpointError(f"{path} holds a model of kind {kind!r}, not a {cls.__name__} "
                                  f"({cls.kind!r}); minivae.load_model(path) reads any kind")
        if dtype is not None:
            config["dtype"] = dtype
        saved = sum(int(np.prod(a.shape)) for k, a in arrays.items() if k.startswith("param/"))
        held = sum(a.nbytes for a in arrays.values())   # the file's arrays, loaded already
        try:
            with param_budget(saved, held):    # refuse before allocating more than the file holds
                model = cls(**config, device=device)
        except OverBudget as e:                # a file describing more than the machine holds
            why = e.reworded(lower="if the file is what you meant, load it where the budget is "
                                   "larger")
            raise CheckpointError(f"{path}: {why}") from None
        except (TypeError, ValueError, OverflowError) as e:
            raise CheckpointError(f"{path}: the model settings in its metadata are not valid ({e}); "
                                  "the file was damaged or edited") from None
        model.load_params(arrays, path)
        return model

    def load_params(self, arrays, path="<arrays>") -> None:
        """Copy ``param/<name>`` arrays into this model, checking names, shapes and values."""
        saved = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
        missing = sorted(set(self.params) - set(saved))
        unexpected = sorted(set(saved) - set(self.params))
        if missing or unexpected:
            raise CheckpointError(
                f"{path} holds a different architecture: missing {missing}, unexpected {unexpected}")
        for name, value in saved.items():
            if value.shape != self.params[name].shape:
                raise CheckpointError(
                    f"{path}: {name} has shape {value.shape}, this model needs "
                    f"{self.params[name].shape} (a checkpoint of another architecture)")
            if value.dtype.kind != "f":    # complex would lose its imaginary part, bool and
                raise CheckpointError(      # strings are no weights: refused as the commands do
                    f"{path}: param/{name} has dtype {value.dtype}; parameters are "
                    "floating-point numbers")
            if not np.all(np.isfinite(value)):
                raise CheckpointError(f"{path}: {name} contains NaN or infinite values")
        for name, value in saved.items():
            self.params[name][...] = self.xp.asarray(value, dtype=self.dtype)
