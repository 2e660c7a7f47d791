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


class ParamDict(dict):
    """A dict name -> array whose arrays are views of the vector ``self.flat``."""

    flat = None


def flatten(dense_layers: dict, xp, dtype):
    """Move each layer's W, b, dW, db into two flat vectors.

    dense_layers: name -> Dense, in forward order.
    Returns (params, grads): ParamDicts with keys "<name>.W", "<name>.b".
    """
    total = sum(layer.W.size + layer.b.size for layer in dense_layers.values())
    params, grads = ParamDict(), ParamDict()
    params.flat = xp.empty((total,), dtype=dtype)   # (P,)
    grads.flat = xp.zeros((total,), dtype=dtype)    # (P,)
    offset = 0
    for name, layer in dense_layers.items():
        for attr, grad_attr in (("W", "dW"), ("b", "db")):
            value = getattr(layer, attr)
            n = value.size
            view = params.flat[offset:offset + n].reshape(value.shape)
            view[...] = value
            grad_view = grads.flat[offset:offset + n].reshape(value.shape)
            setattr(layer, attr, view)
            setattr(layer, grad_attr, grad_view)
            params[f"{name}.{attr}"] = view
            grads[f"{name}.{attr}"] = grad_view
            offset += n
    return params, grads
