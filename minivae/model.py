"""What the VAE and the deterministic Autoencoder share.

Both are an encoder of Dense layers, a head or two giving the latent code,
and a decoder of Dense layers, with one likelihood p(x | decoder output)
for the reconstruction term. This file builds them (the architecture is
described here once), checks inputs, and saves and loads parameters.
``vae.py`` and ``autoencoder.py`` add what differs: the latent code, the
loss and its backward pass.

Shapes: B batch, D input size, H hidden width, Z latent size.
"""

from __future__ import annotations

import math

import numpy as np

from .backend import Generator, get_xp, resolve_device, resolve_dtype
from .fast import choose_ops
from .layers import ACTIVATIONS, Dense, forward_through, make_activation
from .params import ParamStore
from .serialize import CheckpointError, load_npz, save_npz


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class BaseModel:
    """Encoder/decoder plumbing; subclasses define the latent part and the loss.

    ``fast``: on a GPU, run the elementwise chains as fused kernels
    (minivae/fast.py chooses, once, here); False, or on the CPU, the model
    runs the plain forms of minivae/ops.py. Same maths either way.
    """

    kind = None    # "vae" or "ae": written into saved files
    heads = ()     # the Dense layers from the last hidden layer to the code, e.g. ("mu", "logvar")

    def __init__(self, input_dim, hidden_dims, latent_dim, likelihood, activation,
                 dtype, device, seed, decoder_hidden_dims, gaussian_std, fast=True):
        self.input_dim = _positive_int("input_dim", input_dim)
        self.hidden_dims = tuple(_positive_int("hidden_dims entry", h) for h in hidden_dims)
        self.latent_dim = _positive_int("latent_dim", latent_dim)
        if decoder_hidden_dims is None:   # mirror the encoder: 784-512-256-Z-256-512-784
            decoder_hidden_dims = tuple(reversed(self.hidden_dims))
        self.decoder_hidden_dims = tuple(_positive_int("decoder_hidden_dims entry", h)
                                         for h in decoder_hidden_dims)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not (isinstance(gaussian_std, (int, float)) and math.isfinite(gaussian_std)
                and gaussian_std > 0):
            raise ValueError(f"gaussian_std must be a positive number, got {gaussian_std!r}")
        self.activation, self.gaussian_std = activation, float(gaussian_std)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        self.xp = get_xp(self.device)
        self.fast = bool(fast)
        self.ops = choose_ops(self.xp, self.fast)       # the elementwise functions, chosen once
        self.likelihood = self.ops.likelihood(likelihood, self.gaussian_std)   # p(x | out)
        self.seed = seed
        self.rng = Generator(self.xp, seed)
        self.input_grad = None   # dloss/dx after loss_and_grads(..., input_grad=True)
        self._build()

    # -- construction -------------------------------------------------------

    def _build(self):
        """The layers, in forward order: enc0.., the heads, dec0.., out.

        Every Dense layer's W and b are views of one flat vector
        (``self.params.flat``), its dW and db of another (``self.grads.flat``).
        """
        D, Z = self.input_dim, self.latent_dim
        enc = (D, *self.hidden_dims)                       # D -> H ...
        dec = (Z, *self.decoder_hidden_dims)               # Z -> H ...
        dense = [(f"enc{i}", a, b) for i, (a, b) in enumerate(zip(enc[:-1], enc[1:]))]
        dense += [(head, enc[-1], Z) for head in self.heads]                    # H -> Z
        dense += [(f"dec{i}", a, b) for i, (a, b) in enumerate(zip(dec[:-1], dec[1:]))]
        dense += [("out", dec[-1], D)]                                          # H -> D
        shapes = {k: s for name, i, o in dense for k, s in Dense.shapes(name, i, o).items()}
        store = ParamStore(shapes, self.xp, self.dtype)
        self.params, self.grads = store.params, store.grads
        layer = {name: Dense(i, o, rng=self.rng, dtype=self.dtype, xp=self.xp, store=store,
                             name=name) for name, i, o in dense}               # init in this order

        def act():
            return make_activation(self.activation, self.xp)

        self.encoder = [l for i in range(len(enc) - 1) for l in (layer[f"enc{i}"], act())]
        self.decoder = [l for i in range(len(dec) - 1) for l in (layer[f"dec{i}"], act())]
        self.decoder.append(layer["out"])               # logits (Bernoulli) or, after
        if self.likelihood.output_activation:           # a sigmoid, the mean (Gaussian, MSE)
            self.decoder.append(make_activation(self.likelihood.output_activation, self.xp))
        for head in self.heads:
            setattr(self, f"{head}_head", layer[head])

    @property
    def num_params(self) -> int:
        return int(self.params.flat.size)

    # -- inputs and the decoder ----------------------------------------------

    def _as_input(self, x, name="x", width=None):
        """x as a (B, width) array of the model's dtype on its device, or a clear error."""
        width = self.input_dim if width is None else width
        x = self.xp.asarray(x)
        if x.ndim > 2 and math.prod(x.shape[1:]) == width:
            x = x.reshape(x.shape[0], width)   # images (B, 28, 28) -> (B, 784)
        if x.ndim != 2 or x.shape[1] != width:
            raise ValueError(f"{name} must have shape (B, {width}); got {tuple(x.shape)}")
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def decode(self, z):
        """Mean of p(x | z), (B, Z) -> (B, D): pixel probabilities for "bernoulli"."""
        z = self._as_input(z, "z", self.latent_dim)
        return self.likelihood.mean(forward_through(self.decoder, z))   # (B, Z) -> (B, D)

    def log_px_given_z(self, z, x):
        """log p(x | z) of each row: (B, Z) codes and (B, D) images -> (B,), in nats.

        Minus the reconstruction term of the loss at that z; evaluation.py's
        importance-weighted estimate of log p(x) calls it at many z ~ q(z | x).
        """
        z = self._as_input(z, "z", self.latent_dim)
        x = self._as_input(x)
        return -self.likelihood.nll(forward_through(self.decoder, z), x)   # (B,)

    # -- saving and loading -------------------------------------------------

    def config(self) -> dict:
        """Everything needed to build this model again (JSON-serialisable)."""
        return {
            "model": self.kind, "input_dim": self.input_dim, "hidden_dims": list(self.hidden_dims),
            "decoder_hidden_dims": list(self.decoder_hidden_dims), "latent_dim": self.latent_dim,
            "likelihood": self.likelihood.name, "activation": self.activation,
            "gaussian_std": self.gaussian_std, "dtype": self.dtype.name, "seed": self.seed,
        }

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
        try:
            model = cls(**config, device=device)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: its model settings are not valid ({e})") from None
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
            if not np.all(np.isfinite(value)):
                raise CheckpointError(f"{path}: {name} contains NaN or infinite values")
        for name, value in saved.items():
            self.params[name][...] = self.xp.asarray(value, dtype=self.dtype)

    def __repr__(self):
        cfg = self.config()
        body = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "model")
        return f"{type(self).__name__}({body}, device={self.device!r})"
