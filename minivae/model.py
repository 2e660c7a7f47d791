"""What the VAE and the deterministic Autoencoder share.

Both are an encoder (Dense layers, or Conv2d layers then Dense), a head or
two giving the latent code, and a decoder (Dense, or Dense then
ConvTranspose2d), with one likelihood p(x | decoder output) for the
reconstruction term. This file builds them from the plan in
architecture.py and checks inputs; saving.py writes a model to a file and
builds it again from one (save, load, load_params: BaseModel inherits them).
``vae.py`` and ``autoencoder.py`` add what differs: the latent code, the
loss and its backward pass.

Shapes: B batch, D input size, H hidden width, Z latent size.
"""

from __future__ import annotations

import math

from .architecture import (NO_ACTIVATION, InputLayer, activation_list, check_architecture,
                           conv_activation_count, conv_decoder, conv_encoder, positive_ints)
from .backend import Generator, get_xp, resolve_device, resolve_dtype
from .fast.forms import choose_ops
from .layers import (INITS, Chain, Dense, Identity, Spec, activation_spec,
                     forward_through, glorot_uniform, make_activation)
from .params import ParamStore, check_layers
from .summary import summary_text
from .likelihoods import SymmetricRange
from .saving import Saving


ARCH_DEFAULTS = dict(arch="dense", image_shape=None, channels=(32, 64), kernel_size=4, stride=2,
                     padding=1, decoder_activation=None, pixel_range="unit")


class BaseModel(Saving):
    """Encoder/decoder plumbing; subclasses define the latent part and the loss.

    ``fast``: on a GPU, run the elementwise chains as fused kernels
    (minivae/fast/forms.py chooses, once, here); False, or on the CPU, the model
    runs the plain forms of minivae/ops.py. Same maths either way.

    ``init``: "pytorch" (the default: each layer's own, PyTorch's U(+-1/sqrt(fan_in))
    for W and b) or "glorot" (Keras's default: layers.glorot_uniform, drawn after
    PyTorch's and written over it, so that "pytorch" stays draw for draw the same).

    ``**arch`` (defaults in ARCH_DEFAULTS): arch "dense" or "conv";
    image_shape (C, H, W), channels, kernel_size, stride, padding for conv;
    decoder_activation (one name, or one per layer plus the output's);
    pixel_range "unit" ([0, 1]) or "symmetric" ([-1, 1] inside, tanh output).
    ``activation`` may list one name per encoder layer (plus the code's, for
    an Autoencoder); latent_dim=None makes a conv Autoencoder's code its last
    feature map.
    """

    kind = None    # "vae" or "ae": written into saved files
    heads = ()     # the Dense layers from the last hidden layer to the code, e.g. ("mu", "logvar")

    def __init__(self, input_dim, hidden_dims, latent_dim, likelihood, activation,
                 dtype, device, seed, decoder_hidden_dims, gaussian_std, fast=True,
                 init="pytorch", **arch):
        unknown = sorted(set(arch) - set(ARCH_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown model options {unknown}; known: {sorted(ARCH_DEFAULTS)}")
        (self.arch, self.pixel_range, self.decoder_activation, self.kernel_size, self.stride,
         self.padding, self.channels, self.image_shape, self.input_dim, self.latent_dim,
         self.code_is_feature_map) = check_architecture(input_dim, latent_dim, self.heads,
                                                        **{**ARCH_DEFAULTS, **arch})
        self.hidden_dims = positive_ints("hidden_dims", hidden_dims, "(400,)")
        if not self.hidden_dims and self.arch == "dense":   # the encoder would have no layer
            raise ValueError("a dense model needs at least one hidden layer, e.g. "
                             "hidden_dims=(400,); an empty encoder is for arch='conv'")
        if self.code_is_feature_map and self.hidden_dims:   # the code is the conv maps themselves
            raise ValueError("latent_dim=None makes the code the last conv feature map, so the "
                             f"encoder ends there: give hidden_dims=() (got {self.hidden_dims})")
        if decoder_hidden_dims is None:   # mirror the encoder: 784-512-256-Z-256-512-784
            decoder_hidden_dims = tuple(reversed(self.hidden_dims))
        self.decoder_hidden_dims = positive_ints("decoder_hidden_dims", decoder_hidden_dims,
                                                 "(400,)")
        if not (isinstance(gaussian_std, (int, float)) and math.isfinite(gaussian_std)
                and gaussian_std > 0):
            raise ValueError(f"gaussian_std must be a positive number, got {gaussian_std!r}")
        self.activation = activation if isinstance(activation, str) else list(activation)
        self.gaussian_std = float(gaussian_std)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        self.xp = get_xp(self.device)
        self.fast = bool(fast)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.init = init
        self.ops = choose_ops(self.xp, self.fast)       # the elementwise functions, chosen once
        self.likelihood = self.ops.likelihood(likelihood, self.gaussian_std)   # p(x | out)
        if self.pixel_range == "symmetric":                  # compares a tanh output with 2x - 1
            self.likelihood = SymmetricRange(self.likelihood)
        self.seed = seed
        self.rng = Generator(self.xp, seed)
        self.input_grad = None   # dloss/dx after loss_and_grads(..., input_grad=True)
        convs = 2 * len(self.channels) if self.arch == "conv" else 0
        check_layers(len(self.hidden_dims) + len(self.decoder_hidden_dims) + convs + 3,
                     "use fewer hidden layers")     # before listing them (params.py)
        self._build()

    # -- construction -------------------------------------------------------

    def _build(self):
        """The layers, listed in forward order (``_layer_specs``), then built.

        Every layer's W and b are views of one flat vector (``self.params.flat``),
        its dW and db of another (``self.grads.flat``): all the shapes are known
        from the list before the first layer is built.
        """
        encoder, heads, decoder = self._layer_specs()
        specs = [s for s in encoder + heads + decoder if s.name is not None]   # with parameters
        shapes = {k: v for s in specs for k, v in s.cls.shapes(s.name, *s.args).items()}
        store = ParamStore(shapes, self.xp, self.dtype, self.ops)   # the optimizer reads ops there
        self.params, self.grads = store.params, store.grads
        forms = self.ops.layer_forms    # faster forms of some layers (fast/cuda_kernels.py), or none
        built = {s.name: s.build(self.xp, store, self.rng, self.dtype, forms)    # in init order
                 for s in specs}
        if self.init == "glorot":                 # Keras's starting point instead of PyTorch's
            for s in specs:
                glorot_uniform(built[s.name], self.rng)
        layer = lambda s: (built[s.name] if s.name is not None                # noqa: E731
                           else s.build(self.xp, forms=forms))
        self.encoder = [layer(s) for s in encoder]
        self.decoder = [layer(s) for s in decoder]
        if self.arch == "conv" or self.pixel_range != "unit":   # flat [0, 1] rows in
            scale, shift = (2.0, -1.0) if self.pixel_range == "symmetric" else (1.0, 0.0)
            self.encoder[0] = InputLayer(self.encoder[0], self.image_shape, scale, shift, self.xp)
        heads = {s.name: layer(s) for s in heads}
        for head in self.heads:
            setattr(self, f"{head}_head", heads.get(head, Identity(self.xp)))
        if self._code_activation not in (None, NO_ACTIVATION):   # the code is act(head(h))
            self.code_head = Chain([self.code_head, make_activation(self._code_activation,
                                                                    self.xp)], self.xp)

    def _layer_specs(self):
        """(encoder, heads, decoder): every layer of the model, in forward order, as Specs.

        The dense model, written out (the conv one: architecture.conv_encoder/_decoder):
            encoder  Spec("enc0", Dense, (D, H1)), Spec(None, ReLU), ...
            heads    Spec("mu", Dense, (H, Z)), Spec("logvar", Dense, (H, Z))   (or "code")
            decoder  Spec("dec0", Dense, (Z, G1)), Spec(None, ReLU), ..., Spec("out", Dense, (G, D))
        """
        conv = self.arch == "conv"
        n_enc, n_dec = conv_activation_count(self) if conv else \
            (len(self.hidden_dims), len(self.decoder_hidden_dims))
        enc_acts, self._code_activation = activation_list(self.activation, n_enc, "activation",
                                                          "code")
        dec_acts, out_act = activation_list(self._decoder_activation_spec(enc_acts, n_dec),
                                            n_dec, "decoder_activation", "output")
        if self._code_activation and self.heads != ("code",):
            raise ValueError("only an Autoencoder's code takes an activation; a VAE's mu and "
                             "logvar heads stay linear")
        enc_acts, dec_acts = (iter([activation_spec(a) for a in acts])
                              for acts in (enc_acts, dec_acts))
        if conv:
            encoder, width = conv_encoder(self, enc_acts)          # ..., (B, F) or (B, H)
            width = (width, *self.hidden_dims)[-1]
            decoder = conv_decoder(self, dec_acts)
        else:
            encoder, widths = [], (self.input_dim, *self.hidden_dims)
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):   # D -> H1 -> ... -> H
                encoder += [Spec(f"enc{i}", Dense, (a, b)), next(enc_acts)]
            width, decoder = widths[-1], []
            dims = (self.latent_dim, *self.decoder_hidden_dims)
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):        # Z -> G1 -> ... -> G
                decoder += [Spec(f"dec{i}", Dense, (a, b)), next(dec_acts)]
            decoder.append(Spec("out", Dense, (dims[-1], self.input_dim)))   # G -> D
        heads = [] if self.code_is_feature_map else \
            [Spec(head, Dense, (width, self.latent_dim)) for head in self.heads]   # H -> Z
        out_act = out_act or self.likelihood.output_activation
        if out_act and self.likelihood.name == "bernoulli" and out_act != NO_ACTIVATION:
            raise ValueError("the bernoulli likelihood reads raw logits: the decoder takes no "
                             f"output activation (got {out_act!r}); use mse or gaussian")
        if out_act and out_act != NO_ACTIVATION:        # logits (Bernoulli) or, after it,
            decoder.append(activation_spec(out_act))    # the mean (Gaussian, MSE)
        return encoder, heads, decoder

    def _decoder_activation_spec(self, enc_acts, n_dec):
        """decoder_activation, or by default the encoder's hidden activations mirrored."""
        if self.decoder_activation is not None:
            return self.decoder_activation
        if len(set(enc_acts)) <= 1:
            return enc_acts[0] if enc_acts else "relu"
        if len(enc_acts) == n_dec:
            return list(reversed(enc_acts))
        raise ValueError(f"the encoder has per-layer activations {enc_acts} and the decoder "
                         f"{n_dec} layers with one: give decoder_activation too")

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
        if x.shape[0] == 0:
            raise ValueError(f"{name} holds no rows (shape {tuple(x.shape)}); give at least one")
        if name == "x" and x.dtype.kind in "ui" and int(x.max()) > 1:   # uint8 pixels, 0..255
            raise ValueError(f"x holds integers up to {int(x.max())}, and the model reads pixels "
                             "in [0, 1]: divide them by 255 (minivae.data.to_unit_float(images))")
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def decode(self, z):
        """Mean of p(x | z), (B, Z) -> (B, D): pixel probabilities for "bernoulli"."""
        z = self._as_input(z, "z", self.latent_dim)
        return self.likelihood.mean(forward_through(self.decoder, z))   # (B, Z) -> (B, D)

    def log_px_given_z(self, z, x):
        """log p(x | z) of each row: (B, Z) codes and (B, D) images -> (B,), in nats.

        Minus the reconstruction term of the loss at that z; the importance-weighted
        estimate of log p(x) (run/evaluation.py's iw_log_likelihood, through
        run/importance.py's log_weight_chunks) calls it at many z ~ q(z | x).
        """
        z = self._as_input(z, "z", self.latent_dim)
        x = self._as_input(x)
        return -self.likelihood.nll(forward_through(self.decoder, z), x)   # (B,)

    # -- its settings, and how it prints -------------------------------------

    def config(self) -> dict:
        """Everything needed to build this model again (JSON-serialisable)."""
        return {
            "model": self.kind, "input_dim": self.input_dim, "hidden_dims": list(self.hidden_dims),
            "decoder_hidden_dims": list(self.decoder_hidden_dims),
            "latent_dim": None if self.code_is_feature_map else self.latent_dim,
            "likelihood": self.likelihood.name, "activation": self.activation,
            "gaussian_std": self.gaussian_std, "dtype": self.dtype.name, "seed": self.seed,
            **self._architecture_config(),
            **({"init": self.init} if self.init != "pytorch" else {}),
        }

    def _architecture_config(self) -> dict:
        """The options of architecture.py that differ from a plain dense model's (none for it)."""
        cfg = {"arch": self.arch, "decoder_activation": self.decoder_activation,
               "pixel_range": self.pixel_range}
        if self.arch == "conv":
            cfg.update(image_shape=list(self.image_shape), channels=list(self.channels),
                       kernel_size=self.kernel_size, stride=self.stride, padding=self.padding)
            return cfg
        return {k: v for k, v in cfg.items() if ARCH_DEFAULTS[k] != v}

    def summary(self) -> None:
        """Print the layers in forward order, their output shapes and parameter counts."""
        print(summary_text(self))

    def __str__(self):
        return summary_text(self)        # print(model): the table of summary()

    def __repr__(self):
        cfg = self.config()
        body = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "model")
        return f"{type(self).__name__}({body}, device={self.device!r})"
