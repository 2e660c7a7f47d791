"""The options that choose a model's layers, checked, and the layers of a conv model.

Last, the layers between rows and images (docs/math.md §11): Flatten, Unflatten,
the encoder's InputLayer, and batch_last, the conv layers' memory order.

``model.BaseModel`` checks its options here (:func:`check_architecture`)
and lists its layers itself, as ``layers.Spec`` entries in forward order
(the dense layers in ``BaseModel._layer_specs``, the conv ones from
:func:`conv_encoder` and :func:`conv_decoder` below). Both architectures
give the same three parts, so the VAE and the Autoencoder run either with
the same loss_and_grads:

    arch="dense"   encoder  Dense D->H1, act, Dense H1->H2, act, ...
                   heads    Dense H->Z (mu, logvar; or code)
                   decoder  Dense Z->G1, act, ..., Dense G->D, output activation

    arch="conv"    encoder  Conv C->c1, act, Conv c1->c2, act, ..., Flatten,
                            [Dense F->H1, act, ...]            F = c_n h w
                   heads    Dense H->Z (none: latent_dim=None, the code is the
                            last feature map itself; Autoencoder only)
                   decoder  [Dense Z->G1, act, ...,] Dense ->F, act, Unflatten (c_n, h, w),
                            ConvT c_n->c_{n-1}, act, ..., ConvT c1->C, Flatten,
                            output activation

Images enter as the loaders' flat channels-last rows (B, H W C) and leave the
same way, so the likelihood, the metrics and the figures see (B, D) as for a
dense model. Each ConvTranspose2d gets the output_padding that brings it back
to exactly the size its mirror Conv2d started from (docs/math.md §11).
"""

from __future__ import annotations

import math

import numpy as np

from .conv import Conv2d, ConvTranspose2d, output_size
from .layers import ACTIVATIONS, Dense, Layer, Spec
from .likelihoods import RANGES

ARCHS = ("dense", "conv")
NO_ACTIVATION = "none"


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_ints(name, values, example):
    """``values``, a list or tuple of positive integers, as a tuple; a string or one number
    is refused as a whole, not entry by entry (``"400"`` is not 4, 0, 0)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list or tuple of positive integers, e.g. {example}; "
                         f"got {values!r}")
    return tuple(positive_int(f"{name} entry", v) for v in values)


def check_architecture(input_dim, latent_dim, heads, arch, image_shape, channels, kernel_size,
                       stride, padding, decoder_activation, pixel_range):
    """The options that choose the layers, checked; returns them as the model keeps them:

    (arch, pixel_range, decoder_activation, kernel_size, stride, padding, channels,
     image_shape, input_dim, latent_dim, code_is_feature_map)
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if pixel_range not in RANGES:
        raise ValueError(f"pixel_range must be one of {RANGES}, got {pixel_range!r}")
    kernel_size, stride = positive_int("kernel_size", kernel_size), positive_int("stride", stride)
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    channels = positive_ints("channels", channels, "(32, 64)")
    if arch == "conv":
        if image_shape is None:              # a square grey image: 784 -> (1, 28, 28)
            side = math.isqrt(input_dim or 784)
            if side * side != (input_dim or 784):
                raise ValueError(f"arch='conv' needs image_shape=(C, H, W); input_dim "
                                 f"{input_dim} is not a square grey image")
            image_shape = (1, side, side)
        if len(tuple(image_shape)) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape!r}")
        image_shape = tuple(positive_int("image_shape entry", n) for n in image_shape)
        if input_dim is not None and input_dim != math.prod(image_shape):
            raise ValueError(f"input_dim {input_dim} does not match image_shape "
                             f"{image_shape} ({math.prod(image_shape)} pixels)")
        input_dim = math.prod(image_shape)
        if not channels:
            raise ValueError("arch='conv' needs at least one entry in channels")
    elif image_shape is not None:
        raise ValueError("image_shape is for arch='conv'; a dense model reads flat rows")
    input_dim = positive_int("input_dim", 784 if input_dim is None else input_dim)
    code_is_feature_map = latent_dim is None
    if latent_dim is None:                   # the code is the last feature map (conv AE)
        if arch != "conv" or heads != ("code",):
            raise ValueError("latent_dim=None (the code is the last conv feature map) is "
                             "only for a conv Autoencoder; give latent_dim")
        latent_dim = math.prod(conv_sizes(image_shape, channels, kernel_size, stride,
                                          int(padding))[-1])
    return (arch, pixel_range, decoder_activation, kernel_size, stride, int(padding), channels,
            image_shape, input_dim, positive_int("latent_dim", latent_dim), code_is_feature_map)


def activation_list(spec, n: int, what: str, extra: str):
    """(n names, the (n+1)-th or None) from "relu" or a list of n or n+1 names ("relu,tanh").

    The optional last entry is the activation of the code (encoder) or of the
    output (decoder): ``relu,relu,tanh`` on a 2-hidden-layer autoencoder puts
    tanh on the code, as in the Keras write-up.
    """
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else list(spec)
    for name in names:
        if name not in ACTIVATIONS and not (name == NO_ACTIVATION and len(names) > 1):
            raise ValueError(f"{what}: activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {name!r}")
    if len(names) == 1 and n != 0:
        return names * n, None
    if len(names) == n:
        return names, None
    if len(names) == n + 1:
        return names[:-1], names[-1]
    raise ValueError(f"{what}: give one activation, or one per layer ({n}), or {n + 1} with the "
                     f"last for the {extra}; got {len(names)}: {','.join(names)}")


def conv_sizes(image_shape, channels, k, s, p):
    """[(C, H, W) after each conv], starting with the image: the encoder's shapes."""
    shapes = [tuple(image_shape)]
    for c in channels:
        _, H, W = shapes[-1]
        try:
            shapes.append((c, output_size(H, k, s, p), output_size(W, k, s, p)))
        except ValueError as e:
            raise ValueError(f"image_shape {tuple(image_shape)}: after {len(shapes) - 1} conv "
                             f"layers the maps are {H}x{W}, too small for another ({e})") from None
    return shapes


def output_padding(small: int, big: int, k: int, s: int, p: int) -> int:
    """The output_padding taking a ConvTranspose2d from ``small`` back to ``big`` pixels."""
    op = big - ((small - 1) * s - 2 * p + k)
    if not 0 <= op < s:
        raise ValueError(f"a ConvTranspose2d (kernel {k}, stride {s}, padding {p}) cannot take "
                         f"{small} pixels back to {big}: the shapes do not round-trip; choose "
                         "a kernel, stride and padding whose convolution shrinks the image "
                         "exactly by the stride")
    return op


def conv_encoder(model, acts):
    """The encoder of a conv model as Specs: Conv, act, ..., Flatten, then its Dense layers.

    ``acts`` yields the activation Spec of each hidden layer, in order.
    Returns (specs, F), F = c_n h w the width of the flattened last feature map.
    """
    k, s, p = model.kernel_size, model.stride, model.padding
    shapes = conv_sizes(model.image_shape, model.channels, k, s, p)   # (C, H, W) per layer
    enc = []
    for i, ((c_in, _, _), (c_out, _, _)) in enumerate(zip(shapes[:-1], shapes[1:])):
        enc += [Spec(f"conv{i}", Conv2d, (c_in, c_out, k), dict(stride=s, padding=p)), next(acts)]
    enc.append(Spec(None, Flatten))                                       # (B, c_n, h, w) -> (B, F)
    widths = (math.prod(shapes[-1]), *model.hidden_dims)
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        enc += [Spec(f"enc{i}", Dense, (a, b)), next(acts)]
    return enc, widths[0]


def conv_decoder(model, acts):
    """The decoder of a conv model as Specs: [Dense ... ->F, act,] Unflatten, ConvT, act, ..., Flatten.

    Mirrors :func:`conv_encoder`; ``acts`` yields the activation Spec of each
    hidden layer. The output activation is added by the model.
    """
    k, s, p = model.kernel_size, model.stride, model.padding
    shapes = conv_sizes(model.image_shape, model.channels, k, s, p)
    dec = []
    if not model.code_is_feature_map:                                    # Z -> G.. -> F
        dims = (model.latent_dim, *model.decoder_hidden_dims, math.prod(shapes[-1]))
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            dec += [Spec(f"dec{i}", Dense, (a, b)), next(acts)]
    dec.append(Spec(None, Unflatten, (shapes[-1],)))                      # (B, F) -> (B, c_n, h, w)
    for i in range(len(shapes) - 1, 0, -1):                               # c_n -> ... -> C
        (c_big, H, W), (c_small, h, w) = shapes[i - 1], shapes[i]
        op = output_padding(h, H, k, s, p), output_padding(w, W, k, s, p)   # (rows, cols)
        name = "out" if i == 1 else f"deconv{len(shapes) - 1 - i}"
        dec.append(Spec(name, ConvTranspose2d, (c_small, c_big, k),
                        dict(stride=s, padding=p, output_padding=op)))
        if i > 1:
            dec.append(next(acts))
    dec.append(Spec(None, Flatten, kwargs=dict(channels_last=True)))     # -> (B, H W C) rows
    return dec


def conv_activation_count(model):
    """(encoder, decoder) hidden activations of a conv model: one after every hidden layer."""
    n_dense_dec = 0 if model.code_is_feature_map else len(model.decoder_hidden_dims) + 1
    return (len(model.channels) + len(model.hidden_dims),
            n_dense_dec + len(model.channels) - 1)

# -- rows and images (docs/math.md §11) -------------------------------------------
# A conv layer reads and writes images (B, C, H, W); a Dense layer, a likelihood
# and every data loader use flat rows (B, D). These layers convert, and their
# backward passes undo the same rearrangement: moving numbers changes no value.

def batch_last(a, xp=np):
    """(B, C, H, W) with the batch stored last, (C, H, W, B) in memory: the conv layers' layout.

    The same numbers and shape; only the memory order changes (one copy), so
    that the next elementwise layer and conv layer read it without reordering.
    """
    return xp.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


class Flatten(Layer):
    """(B, C, H, W) -> (B, D). channels_last=True: in the data loaders' order (H, W, C)."""

    def __init__(self, xp=np, channels_last: bool = False):
        super().__init__(xp)
        self.channels_last = channels_last

    def forward(self, x):
        self.shape = x.shape                                    # (B, C, H, W)
        if self.channels_last:
            x = x.transpose(0, 2, 3, 1)                         # (B, H, W, C)
        return x.reshape(x.shape[0], -1)                        # (B, D), D = C H W

    def backward(self, dy):
        B, C, H, W = self.shape
        if self.channels_last:
            return dy.reshape(B, H, W, C).transpose(0, 3, 1, 2)   # (B, D) -> (B, C, H, W)
        return batch_last(dy.reshape(self.shape), self.xp)     # (B, D) -> (B, C, H, W)


class Unflatten(Layer):
    """(B, D) -> (B, C, H, W) for ``shape`` = (C, H, W); the inverse of Flatten."""

    def __init__(self, shape, xp=np, channels_last: bool = False):
        super().__init__(xp)
        self.shape, self.channels_last = tuple(shape), channels_last

    def forward(self, x):
        C, H, W = self.shape
        if self.channels_last:
            return x.reshape(x.shape[0], H, W, C).transpose(0, 3, 1, 2)   # (B, C, H, W)
        return batch_last(x.reshape(x.shape[0], C, H, W), self.xp)   # (B, C, H, W)

    def backward(self, dy):
        if self.channels_last:
            dy = dy.transpose(0, 2, 3, 1)                       # (B, H, W, C)
        return dy.reshape(dy.shape[0], -1)                      # (B, D)


class InputLayer(Layer):
    """The encoder's first layer, reading rows as the data loaders give them: (B, D) in [0, 1].

    Before ``layer`` it applies x -> scale * x + shift (scale 2, shift -1: the
    [-1, 1] normalisation some models train on), then, for a conv layer,
    Unflatten(channels_last) to (B, C, H, W). Its backward passes ``need_dx``
    on, so the first layer still skips the gradient nobody asked for.
    """

    def __init__(self, layer, image_shape=None, scale=1.0, shift=0.0, xp=np):
        super().__init__(xp)
        self.layer, self.scale, self.shift = layer, scale, shift
        self.unflatten = Unflatten(image_shape, xp, channels_last=True) if image_shape else None

    def forward(self, x):
        if self.scale != 1 or self.shift != 0:
            x = self.scale * x + self.shift                     # (B, D)
        if self.unflatten is not None:
            x = self.unflatten.forward(x)                       # (B, D) -> (B, C, H, W)
        return self.layer.forward(x)

    def backward(self, dy, need_dx: bool = True):
        dx = self.layer.backward(dy, need_dx=need_dx)
        if dx is None:
            return None
        if self.unflatten is not None:
            dx = self.unflatten.backward(dx)                    # (B, C, H, W) -> (B, D)
        return self.scale * dx                                  # d(scale x + shift)/dx = scale
