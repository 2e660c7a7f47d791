"""A model's layer lists, dense or convolutional, described in one place.

``model.BaseModel._build`` asks :func:`plan` for the parametrised layers in
forward order and then threads the activations between them. Both
architectures give the same three parts, so the VAE and the Autoencoder run
either with the same loss_and_grads:

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

from .conv import Conv2d, ConvTranspose2d, output_size
from .layers import ACTIVATIONS, Dense

ARCHS = ("dense", "conv")
NO_ACTIVATION = "none"


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


def plan(model):
    """(encoder, heads, decoder) layer plans: lists of (name, class, args, kwargs).

    ``None`` in the encoder/decoder plan marks where an activation goes; the
    strings "flatten", "unflatten", "flatten_image" mark reshaping layers.
    """
    D, Z = model.input_dim, model.latent_dim
    feature_code = model.code_is_feature_map                # no heads: z is the feature map
    heads_in = D
    enc, dec = [], []
    if model.arch == "conv":
        k, s, p = model.kernel_size, model.stride, model.padding
        shapes = conv_sizes(model.image_shape, model.channels, k, s, p)
        for i, ((c_in, _, _), (c_out, _, _)) in enumerate(zip(shapes[:-1], shapes[1:])):
            enc += [(f"conv{i}", Conv2d, (c_in, c_out, k), dict(stride=s, padding=p)), None]
        enc.append(("flatten",))
        heads_in = math.prod(shapes[-1])                                  # F = c_n h w
    widths = (heads_in, *model.hidden_dims)
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        enc += [(f"enc{i}", Dense, (a, b), {}), None]
    heads = [(head, Dense, (widths[-1], Z), {}) for head in model.heads] if not feature_code else []
    if model.arch == "dense":
        dims = (Z, *model.decoder_hidden_dims)
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            dec += [(f"dec{i}", Dense, (a, b), {}), None]
        dec.append(("out", Dense, (dims[-1], D), {}))
        return enc, heads, dec
    if not feature_code:                                                  # Z -> G.. -> F
        dims = (Z, *model.decoder_hidden_dims, heads_in)
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            dec += [(f"dec{i}", Dense, (a, b), {}), None]
    dec.append(("unflatten", shapes[-1]))
    for i in range(len(shapes) - 1, 0, -1):                               # c_n -> ... -> C
        (c_big, H, W), (c_small, h, w) = shapes[i - 1], shapes[i]
        op = output_padding(h, H, k, s, p), output_padding(w, W, k, s, p)   # (rows, cols)
        name = "out" if i == 1 else f"deconv{len(shapes) - 1 - i}"
        dec.append((name, ConvTranspose2d, (c_small, c_big, k),
                    dict(stride=s, padding=p, output_padding=op)))
        if i > 1:
            dec.append(None)
    dec.append(("flatten_image",))
    return enc, heads, dec
