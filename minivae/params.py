"""All of a model's parameters in one flat vector.

Each Dense layer's W and b become views (reshaped slices) of one contiguous
1-D array, and dW, db views of a second one. Nothing about the maths
changes; what changes is that the optimizer can update every parameter
with a handful of whole-vector operations instead of a loop over arrays
(on a GPU: one kernel launch instead of one per array).

    params = ParamDict()            # name -> view, in forward order
    params.flat                     # (P,) every parameter, P = total count
"""

from __future__ import annotations

import math


class ParamDict(dict):
    """A dict name -> array whose arrays are views of the vector ``self.flat``."""

    flat = None


def views(flat, shapes: dict) -> ParamDict:
    """Consecutive slices of ``flat`` (P,), each reshaped to its shape: name -> view.

    A slice of a contiguous vector, reshaped, is a view: writing into it
    writes into ``flat``. (P,) -> (I, O) for a weight, (O,) for a bias.
    """
    out, offset = ParamDict(), 0
    out.flat = flat
    for name, shape in shapes.items():
        n = math.prod(shape)
        out[name] = flat[offset:offset + n].reshape(shape)   # (n,) -> shape
        offset += n
    return out


def flatten(dense_layers: dict, xp, dtype):
    """Move each layer's W, b, dW, db into two flat vectors.

    dense_layers: name -> Dense, in forward order.
    Returns (params, grads): ParamDicts with keys "<name>.W", "<name>.b".
    """
    arrays = {f"{name}.{attr}": getattr(layer, attr)
              for name, layer in dense_layers.items() for attr in ("W", "b")}
    shapes = {name: a.shape for name, a in arrays.items()}
    total = sum(a.size for a in arrays.values())
    params = views(xp.empty((total,), dtype=dtype), shapes)   # (P,) and its views
    grads = views(xp.zeros((total,), dtype=dtype), shapes)    # (P,) and its views
    for key, value in arrays.items():
        params[key][...] = value                              # the initial values
    for name, layer in dense_layers.items():
        layer.W, layer.b = params[f"{name}.W"], params[f"{name}.b"]
        layer.dW, layer.db = grads[f"{name}.W"], grads[f"{name}.b"]
    return params, grads
