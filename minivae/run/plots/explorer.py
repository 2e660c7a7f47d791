"""The latent explorer of report.html: move a point in latent space, see the decoding.

The page decodes z itself, in plain JavaScript (``explorer.js``, inlined),
from the decoder's weights exported here into the HTML as base64 float32
arrays. No network, no server, no library: the report stays one file.

Which decoder can be exported: a dense one, as ``minivae.VAE`` and
``Autoencoder`` build it. Its parameters are, in forward order,

    dec0.W (Z, H1), dec0.b, dec1.W (H1, H2), ..., out.W (Hk, D), out.b

each hidden layer followed by the model's activation, and the output by the
likelihood's mean (sigmoid of the logits). Before exporting, the same
forward pass is run here in NumPy and compared with ``model.decode``; if
they disagree (another architecture), the report says so and has no explorer
rather than one that shows something else than the model.

A conditional VAE's decoder reads [z, one-hot y] (dec0.W is (Z + C, H1)): the
page gets a class selector, and decodes z with the chosen class's one-hot row.

Shown dimensions: both for Z = 2; for Z > 2 the two most active ones
(largest variance of the posterior mean over test images), the others held
at the mean code; for Z = 1 the one dimension, along the horizontal axis.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources

import numpy as np

from ...backend import to_numpy
from ..evaluation import latent_activity
from .latent import COLOURS

MAX_FLOATS = 4_000_000  # decoder weights exported at most (16 MB of float32)
MAX_POINTS = 2000       # test codes drawn on the plane
SLOPE = 0.01            # layers.LeakyReLU's default slope
ACTIVATIONS = {
    "relu": lambda v: np.maximum(v, 0.0),
    "leaky_relu": lambda v: np.where(v > 0, v, SLOPE * v),
    "tanh": np.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "identity": lambda v: v,
}


def _b64(array) -> str:
    """Little-endian float32 bytes of ``array``, base64: what the page's Float32Array reads."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def dense_decoder(model):
    """[(W (in, out), b (out,)), ...] from dec0 to out, as float64 NumPy; None if not dense."""
    params = getattr(model, "params", None)
    if params is None:
        return None
    names = [n[:-2] for n in params if n.endswith(".W")]
    hidden = [n for n in names if re.fullmatch(r"dec\d+", n)]
    hidden.sort(key=lambda n: int(n[3:]))
    if "out" not in names:
        return None
    layers = [(to_numpy(params[f"{n}.W"]).astype(np.float64),
               to_numpy(params[f"{n}.b"]).astype(np.float64)) for n in hidden + ["out"]]
    dims = [model.latent_dim + getattr(model, "num_classes", 0)] + [W.shape[1] for W, _ in layers]
    if any(W.shape[0] != d for (W, _), d in zip(layers, dims)) or dims[-1] != model.input_dim:
        return None
    return layers


def forward(layers, z, activation: str, output: str, y=None, num_classes=0):
    """The decoder's mean for z (M, Z) -> (M, D), in float64: what explorer.js computes.

    A CVAE's (``num_classes`` C > 0): [z, one-hot y] (M, Z + C) goes in, y (M,) its labels.
    """
    h = np.asarray(z, dtype=np.float64)
    if num_classes:
        h = np.concatenate([h, np.eye(num_classes)[np.asarray(y)]], axis=1)   # (M, Z + C)
    for i, (W, b) in enumerate(layers):
        h = h @ W + b                                    # (M, in) -> (M, out)
        h = ACTIVATIONS[output if i == len(layers) - 1 else activation](h)
    return h


def _output_function(model, layers):
    """"sigmoid" or "identity": whichever makes :func:`forward` equal ``model.decode``; or None."""
    z = np.random.default_rng(0).standard_normal((8, model.latent_dim))   # (8, Z)
    C = getattr(model, "num_classes", 0)
    y = np.arange(8) % max(C, 1)                                          # (8,), a CVAE's labels
    given = (y,) if C else ()
    want = to_numpy(model.decode(model.xp.asarray(z, dtype=model.dtype), *given))
    tolerance = 1e-4 if np.dtype(model.dtype) == np.float32 else 1e-9
    for output in ("sigmoid", "identity"):
        got = forward(layers, z, model.activation, output, y, C)
        if np.abs(got - want.astype(np.float64)).max() < tolerance:
            return output
    return None


def explorer_spec(model, means, labels, image_shape) -> dict | None:
    """What the page needs (weights, shown dimensions, points), or None with no explorer."""
    layers = dense_decoder(model)
    if layers is None or getattr(model, "activation", None) not in ACTIVATIONS:
        return None
    if sum(W.size + b.size for W, b in layers) > MAX_FLOATS:
        return None
    output = _output_function(model, layers)
    if output is None:
        return None
    means = np.asarray(means, dtype=np.float64)                 # (N, Z)
    dims = [int(j) for j in np.argsort(latent_activity(means))[::-1][:2]]
    dims = sorted(dims) if model.latent_dim == 2 else dims
    pick = np.linspace(0, len(means) - 1, min(MAX_POINTS, len(means))).astype(int)
    points = means[pick][:, dims]                               # (P, 1 or 2)
    lo = np.minimum(points.min(axis=0), -3.0)
    hi = np.maximum(points.max(axis=0), 3.0)
    label_list = None if labels is None else [int(v) for v in np.asarray(labels)[pick]]
    classes = [] if label_list is None else sorted(set(label_list))
    return {
        "layers": [{"rows": int(W.shape[0]), "cols": int(W.shape[1]), "W": _b64(W), "b": _b64(b),
                    "act": output if i == len(layers) - 1 else model.activation}
                   for i, (W, b) in enumerate(layers)],
        "slope": SLOPE, "image_shape": [int(s) for s in image_shape],
        "base": [float(v) for v in means.mean(axis=0)],          # (Z,) the mean code
        "dims": dims, "lo": [float(v) for v in lo], "hi": [float(v) for v in hi],
        "points": np.round(points, 3).tolist(), "labels": label_list,
        "colours": {str(c): COLOURS[i % len(COLOURS)] for i, c in enumerate(classes)},
        "num_classes": int(getattr(model, "num_classes", 0)),   # a CVAE's: the class selector
    }


def _class_selector(spec) -> str:
    """A CVAE's class selector: which label y the page decodes [z, y] with; "" for others."""
    if not spec["num_classes"]:
        return ""
    options = "".join(f'<option value="{c}">{c}</option>' for c in range(spec["num_classes"]))
    return ('<p><label>class y <select id="explorer-class">' + options + "</select></label> "
            "(the decoder reads [z, one-hot y]: the same z, another class)</p>")


def explorer_section(model, means, labels, image_shape) -> str:
    """The report's "Latent explorer" section: canvases, data and script; a note if none."""
    spec = explorer_spec(model, means, labels, image_shape)
    if spec is None:
        return ("<h2>Latent explorer</h2><p>Not available for this model: the explorer "
                "decodes in the page from a dense decoder's weights (dec0 ... out), "
                f"at most {MAX_FLOATS:,} of them.</p>")
    Z, shown = model.latent_dim, " and ".join(f"z{j + 1}" for j in spec["dims"])
    held = "" if Z <= 2 else (f" The other {Z - 2} dimensions stay at the mean code; "
                              f"{shown} are the two most active ones.")
    script = resources.files(__package__).joinpath("explorer.js").read_text(encoding="utf-8")
    data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    legend = " ".join(f'<span style="color:{c}">&#9632; {html.escape(k)}</span>'
                      for k, c in spec["colours"].items())
    return f"""<h2 id="latent-explorer">Latent explorer</h2>
<p>Click or drag on the plane: the point sets {html.escape(shown)}, and the image is what the
decoder makes of it, computed in this page from the model's weights. The dots are test
images' codes, coloured by label.{html.escape(held)}</p>
<div style="display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap">
<canvas id="explorer-plane" width="360" height="360"
 style="border:1px solid #ccc;cursor:crosshair;touch-action:none"></canvas>
<div><canvas id="explorer-image" width="224" height="224"
 style="border:1px solid #ccc;image-rendering:pixelated"></canvas>
<p id="explorer-z" style="font-family:monospace"></p>{_class_selector(spec)}
<p style="font-size:13px">{legend}</p></div></div>
<script type="application/json" id="explorer-data">{data}</script>
<script>{script}</script>"""
