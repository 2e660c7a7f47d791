"""What the VAE and the deterministic Autoencoder share.

Both are an encoder MLP and a decoder MLP built from ``minivae.layers``,
the same likelihood p(x | decoder output) for the reconstruction term, and
the same parameter storage, device handling and save/load. ``vae.py`` and
``autoencoder.py`` add what differs: the latent code and its loss.

Shapes: B batch, D input size, H hidden width, Z latent size.
"""

from __future__ import annotations

import math

import numpy as np

from . import losses
from .backend import Generator, get_xp, resolve_device, resolve_dtype
from .layers import Sigmoid, sigmoid, ACTIVATIONS
from .mlp import Sequential, build_mlp
from .params import flatten
from .serialize import CheckpointError, load_npz, save_npz

LIKELIHOODS = ("bernoulli", "gaussian")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _model_class(kind, path):
    """The class that a saved file's "model" field names."""
    from .autoencoder import Autoencoder
    from .vae import VAE
    classes = {"vae": VAE, "ae": Autoencoder}
    if kind not in classes:
        raise CheckpointError(f"{path}: unknown model kind {kind!r} (expected one of {sorted(classes)})")
    return classes[kind]


class BaseModel:
    """Encoder/decoder plumbing; subclasses define the latent part and the loss."""

    kind = None  # "vae" or "ae": written into saved files

    def __init__(self, input_dim, hidden_dims, latent_dim, likelihood, activation,
                 dtype, device, seed, decoder_hidden_dims, gaussian_std):
        self.input_dim = _positive_int("input_dim", input_dim)
        self.hidden_dims = tuple(_positive_int("hidden_dims entry", h) for h in hidden_dims)
        self.latent_dim = _positive_int("latent_dim", latent_dim)
        if decoder_hidden_dims is None:   # mirror the encoder: 784-512-256-Z-256-512-784
            decoder_hidden_dims = tuple(reversed(self.hidden_dims))
        self.decoder_hidden_dims = tuple(_positive_int("decoder_hidden_dims entry", h)
                                         for h in decoder_hidden_dims)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not (math.isfinite(gaussian_std) and gaussian_std > 0):
            raise ValueError(f"gaussian_std must be a positive number, got {gaussian_std!r}")
        self.likelihood, self.activation = likelihood, activation
        self.gaussian_std = float(gaussian_std)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        self.xp = get_xp(self.device)
        self.seed = seed
        self.rng = Generator(self.xp, seed)
        self.input_grad = None   # dloss/dx after loss_and_grads(..., input_grad=True)

    # -- construction -------------------------------------------------------

    def _build_decoder(self, rng):
        """Decoder MLP Z -> H... -> D. Its output is the logits (Bernoulli) or the mean (Gaussian)."""
        dims = (self.latent_dim, *self.decoder_hidden_dims, self.input_dim)
        net = build_mlp("dec", dims, self.activation, rng, self.dtype, self.xp, final_activation=False)
        # Name the output layer "out" rather than "dec<n>".
        net.named_layers[-1] = ("out", net.named_layers[-1][1])
        if self.likelihood == "gaussian":
            net.named_layers.append(("out.act", Sigmoid()))   # mean in (0, 1)
        return Sequential(net.named_layers)

    def _finish(self, dense_layers: dict):
        """Put every parameter into one flat vector (see params.py)."""
        self.params, self.grads = flatten(dense_layers, self.xp, self.dtype)

    @property
    def num_params(self) -> int:
        return int(self.params.flat.size)

    # -- the likelihood p(x | out), out = decoder output ----------------------

    def log_px_given_z(self, z, x):
        """log p(x | z) of each row: (B, Z) codes and (B, D) images -> (B,), in nats.

        The decoder turns z into the parameters of p(x | z) (Bernoulli logits
        or the Gaussian mean); this is minus the reconstruction term of the
        loss at that z. It takes z rather than the decoder's output, whose
        meaning depends on the likelihood. :func:`minivae.evaluation.iw_log_likelihood`
        evaluates it at many samples z ~ q(z | x).
        """
        z = self._as_input(z, "z", self.latent_dim)
        x = self._as_input(x)
        return -self._recon_nll(self.decoder.forward(z), x)   # (B, Z) -> (B, D) -> (B,)

    def _recon_nll(self, out, x):
        """-log p(x | out) per example, (B, D) -> (B,)."""
        return losses.recon_nll(self.likelihood, out, x, self.gaussian_std)

    def _recon_grad_x(self, out, x):
        """d recon_nll / d x holding out fixed, (B, D): the data's own term."""
        if self.likelihood == "bernoulli":
            return -out                                # d/dx [softplus(l) - x l] = -l
        return (x - out) / self.gaussian_std**2       # d/dx (x - m)^2 / (2 s^2)

    def _mean(self, out):
        """The mean of p(x | out): sigmoid(logits) or the Gaussian mean itself."""
        return sigmoid(out) if self.likelihood == "bernoulli" else out

    # -- the loss, without gradients -----------------------------------------

    def loss(self, x, eps=None, reduce=True):
        """The loss and its parts, without gradients.

        x: (B, D) in [0, 1]. eps: (B, Z) standard-normal noise for a VAE, or
        None to draw it; an Autoencoder samples nothing and ignores it.

        reduce=True: batch means, as :meth:`loss_and_grads` returns them:
            (loss, {"recon": ..., "kl": ...}), each 0-d, nats per example.
        reduce=False: one value per example, e.g. to score each test image:
            (loss (B,), {"recon": (B,), "kl": (B,)}), loss = recon + beta * kl
            (an Autoencoder's kl is 0).
        """
        loss, parts = self._loss_per_example(self._as_input(x), eps)   # (B,), {(B,), (B,)}
        return self._batch_mean(loss, parts) if reduce else (loss, parts)

    def _loss_per_example(self, x, eps):
        """(loss (B,), {"recon": (B,), "kl": (B,)}) of a (B, D) batch: each model's own."""
        raise NotImplementedError

    def _batch_mean(self, loss, parts):
        """Per-example loss (B,) and parts -> their batch means, 0-d arrays."""
        mean = lambda a: self.xp.asarray(self.xp.mean(a))   # noqa: E731  (B,) -> ()
        return mean(loss), {name: mean(part) for name, part in parts.items()}

    # -- input handling -----------------------------------------------------

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
        return self._mean(self.decoder.forward(z))

    # -- saving and loading -------------------------------------------------

    def config(self) -> dict:
        """Everything needed to build this model again (JSON-serialisable)."""
        return {
            "model": self.kind, "input_dim": self.input_dim, "hidden_dims": list(self.hidden_dims),
            "decoder_hidden_dims": list(self.decoder_hidden_dims), "latent_dim": self.latent_dim,
            "likelihood": self.likelihood, "activation": self.activation,
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
        """A model rebuilt from a file written by :meth:`save` (or a training checkpoint)."""
        arrays, meta = load_npz(path)
        return cls.from_arrays(arrays, meta, path, device=device, dtype=dtype)

    @classmethod
    def from_arrays(cls, arrays, meta, path="<arrays>", device="cpu", dtype=None):
        if meta.get("format") != "minivae" or "config" not in meta:
            raise CheckpointError(f"{path} was not written by minivae's save()")
        config = dict(meta["config"])
        kind = config.pop("model", None)
        model_cls = _model_class(kind, path)
        if cls is not BaseModel and not issubclass(model_cls, cls):
            raise CheckpointError(f"{path} holds a {model_cls.__name__}, not a {cls.__name__}")
        if dtype is not None:
            config["dtype"] = dtype
        model = model_cls(**config, device=device)
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
