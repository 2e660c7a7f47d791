"""A model's layers as a table: ``model.summary()`` and ``print(model)``.

    >>> print(minivae.VAE())
    VAE: 652,824 parameters (float32, cpu)
      layer                        output shape          params
      encoder
        enc0 (Dense 784->400)      (B, 400)             314,000
        ReLU                       (B, 400)                   0
      heads
        mu (Dense 400->20)         (B, 20)                8,020
        logvar (Dense 400->20)     (B, 20)                8,020
      decoder
        ...
      encoder 330,040 (with its heads), decoder 322,784, total 652,824

As Keras's ``summary()`` and PyTorch's module repr show them: the layers in
forward order, each output's shape (B is the batch) and its parameter count.
The shapes come from running one row of zeros through the model.
"""

from __future__ import annotations

from .conv import Conv2d, ConvTranspose2d
from .architecture import InputLayer
from .layers import Chain, Dense


def describe(layer) -> str:
    """A layer in a few words: "enc0 (Dense 784->400)", "conv0 (Conv2d 1->32, k4 s2 p1)", "ReLU"."""
    if isinstance(layer, Chain):
        return " + ".join(describe(inner) for inner in layer.layers)
    if isinstance(layer, Dense):
        return f"{layer.name} (Dense {layer.W.shape[0]}->{layer.W.shape[1]})"
    if isinstance(layer, (Conv2d, ConvTranspose2d)):
        return (f"{layer.name} ({kind(layer)} {layer.in_channels}->{layer.out_channels}, "
                f"k{layer.k} s{layer.stride} p{layer.padding})")
    return kind(layer)


def kind(layer) -> str:
    """The layer's class name; a faster form of a layer (minivae/fast/) is named as the layer
    it speeds up: "ReLU" for FusedReLU, "Conv2d" for CompiledConv2d."""
    plain = next(c for c in type(layer).__mro__ if not c.__module__.startswith("minivae.fast"))
    return plain.__name__


def describe_input(layer: InputLayer) -> str:
    """What the encoder's InputLayer does before its first layer: "x -> 2 x - 1, rows -> images"."""
    steps = []
    if layer.scale != 1 or layer.shift != 0:
        sign = "-" if layer.shift < 0 else "+"
        steps.append(f"x -> {layer.scale:g} x {sign} {abs(layer.shift):g}")
    if layer.unflatten is not None:
        steps.append("rows -> images")
    return "input: " + ", ".join(steps)


def parameter_count(layer) -> int:
    """The numbers a layer trains: W and b, or those of the layers it wraps."""
    if isinstance(layer, Chain):
        return sum(parameter_count(inner) for inner in layer.layers)
    if hasattr(layer, "W"):
        return int(layer.W.size + layer.b.size)
    return 0


def layer_rows(model) -> list:
    """[(part, description, output shape, parameters)] for every layer, in forward order."""
    rows = []

    def shape(x):
        return "(B, " + ", ".join(str(n) for n in x.shape[1:]) + ")"   # (1, ...) -> (B, ...)

    def run(part, layers, x):
        for layer in layers:
            if isinstance(layer, InputLayer):         # its own step first, then the layer it wraps
                x = layer.scale * x + layer.shift
                x = layer.unflatten.forward(x) if layer.unflatten is not None else x
                rows.append((part, describe_input(layer), shape(x), 0))
                layer = layer.layer
            x = layer.forward(x)
            rows.append((part, describe(layer), shape(x), parameter_count(layer)))
        return x

    x = model.xp.zeros((1, model.input_dim), dtype=model.dtype)    # (1, D)
    y1h = model.one_hot([0]) if hasattr(model, "num_classes") else None   # a CVAE's label (1, C)
    if y1h is not None:
        x = model.join_label(x, y1h)                                # (1, D + C)
        joined = "[x, one-hot y]" if model.arch == "dense" else f"x, {model.num_classes} label planes"
        rows.append(("encoder", f"input: {joined}", shape(x), 0))
    h = run("encoder", model.encoder, x)
    heads = [getattr(model, f"{name}_head") for name in model.heads]
    z = [run("heads", [head], h) for head in heads][0].reshape(1, model.latent_dim)   # (1, Z)
    if y1h is not None:
        z = model.xp.concatenate([z, y1h], axis=1)                  # (1, Z + C)
        rows.append(("decoder", "input: [z, one-hot y]", shape(z), 0))
    run("decoder", model.decoder, z)
    return rows


def summary_text(model) -> str:
    """The table of ``model.summary()``: one line per layer, then the totals."""
    rows = layer_rows(model)
    width = max(28, *(len(r[1]) + 4 for r in rows))
    lines = [f"{type(model).__name__}: {model.num_params:,} parameters "
             f"({model.dtype.name}, {model.device})",
             f"  {'layer':{width}s} {'output shape':18s} {'params':>10s}"]
    part = None
    for this_part, text, shape, n in rows:
        if this_part != part:
            lines.append(f"  {this_part}")
            part = this_part
        lines.append(f"    {text:{width - 2}s} {shape:18s} {n:>10,}")
    encoder = sum(n for p, _, _, n in rows if p in ("encoder", "heads"))
    decoder = sum(n for p, _, _, n in rows if p == "decoder")
    lines.append(f"  encoder {encoder:,} (with its heads), decoder {decoder:,}, "
                 f"total {model.num_params:,}")
    return "\n".join(lines)
