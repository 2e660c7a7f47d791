"""All of a model's parameters in one flat vector, and all its gradients in another.

A model lists the shape of every parameter first; ``ParamStore`` then
allocates two vectors of P numbers and hands each layer *views* of them
(reshaped slices: writing into a view writes into the vector). The maths
is unchanged; what changes is that the optimizer updates every parameter
with a few whole-vector operations instead of a loop over arrays (on a
GPU: one kernel launch instead of one per array).

    store = ParamStore({"enc0.W": (784, 400), "enc0.b": (400,)}, xp, "float32")
    store.params["enc0.W"]      # (784, 400) view of store.params.flat, (P,)
    store.grads["enc0.W"]       # (784, 400) view of store.grads.flat

A view only stays a view if nobody rebinds the name: ``dW = x.T @ dy``
would make a new array that the optimizer never sees. So the dicts, and the
layers' W, b, dW, db, refuse to be rebound and say what to write instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import operator

import numpy as np

from .files import budget


def _refuse(what):
    def refuse(self, *args, **kwargs):
        raise TypeError(
            f"the arrays of a model's {what} are views of one flat vector; rebinding a name "
            f"would disconnect it (the optimizer would never see the new array). Write into "
            f"the array instead: d[name][...] = new_values")
    return refuse


class ParamDict(dict):
    """name -> view of the vector ``self.flat`` (P,), in forward order; names cannot be rebound."""

    flat = None
    ops = None   # the model's elementwise forms (ops.py or fast/), which its optimizer runs
    offsets = None   # name -> where its view starts in flat
    __setitem__ = __delitem__ = update = pop = popitem = setdefault = clear = _refuse("parameters")

    def __init__(self, flat, shapes: dict, ops=None):
        views, offsets, offset = {}, {}, 0
        for name, shape in shapes.items():
            n = math.prod(shape)
            views[name] = flat[offset:offset + n].reshape(shape)   # (n,) -> shape, a view
            offsets[name], offset = offset, offset + n
        dict.__init__(self, views)
        self.flat, self.ops, self.offsets = flat, ops, offsets


_BUDGET = contextvars.ContextVar("param_budget", default=(None, 0))
LAYER_BYTES = 4096   # the Python objects of one layer beside its arrays: Spec, layer, activation,
                     # views, cached arrays' headers (about 2.4 KB measured; 10**6 layers ~ 5 GB)


@contextlib.contextmanager
def param_budget(limit: int | None = None, held: int = 0):
    """Inside it, a ParamStore of more than ``limit`` numbers is refused before allocating,
    and so is a model that does not fit the memory budget beside ``held`` bytes.

    Loading a file builds the model its metadata describes, then fills it:
    settings edited to 10**12 inputs must fail with a message, not allocate
    terabytes. ``limit`` is the number of parameters the file holds. ``held``:
    what the caller holds already (the file's arrays, a data set), counted
    against the one memory budget (files/budget.py) with the model's vectors.
    """
    token = _BUDGET.set((limit, held))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def check_layers(n_layers: int, lower: str) -> None:
    """Refuse, before any layer is listed, a model whose layers alone exceed the memory budget.

    A layer is a few Python objects besides its arrays (LAYER_BYTES): hidden = [1] * 10**6
    is two million layers, gigabytes before a single parameter.
    """
    _, held = _BUDGET.get()
    budget.check(held + n_layers * LAYER_BYTES, f"a model of {n_layers:,} layers", lower,
                 per=f" for their Python objects ({budget.size(LAYER_BYTES)} a layer)"
                 + (f" and the {budget.size(held)} held already" if held else ""))


class ParamStore:
    """Two flat vectors, parameters and gradients, and their named views.

    ``ops``: the model's choice of forms (plain or fast), carried by both
    dicts so that ``Adam(model.params)`` runs the same choice.
    """

    def __init__(self, shapes: dict, xp=np, dtype="float32", ops=None):
        total = sum(math.prod(shape) for shape in shapes.values())            # P
        limit, held = _BUDGET.get()
        if limit is not None and total > limit:
            raise ValueError(f"these settings describe {total:,} parameters, but the file "
                             f"holds {limit:,}: its settings do not match its arrays")
        if shapes:   # two vectors of P numbers: refused before allocating when they cannot fit
            name = max(shapes, key=lambda k: math.prod(shapes[k]))
            shown = " x ".join(f"{n:,}" for n in shapes[name])
            budget.check(held + 2 * total * np.dtype(dtype).itemsize,
                         f"a model of {total:,} parameters (the largest, {name}, {shown})",
                         f"lower the sizes that set {name}'s shape", per=" with their gradients"
                         + (f" and the {budget.size(held)} held already" if held else ""))
        self.params = ParamDict(xp.empty((total,), dtype=dtype), shapes, ops)   # (P,) and views
        self.grads = ParamDict(xp.zeros((total,), dtype=dtype), shapes, ops)    # (P,) and views


def view_attribute(name: str, what: str):
    """A layer attribute that reads a view (at C speed) and refuses to be rebound.

    Reading ``layer.dW`` returns ``layer._dW``; ``layer.dW = ...`` raises an
    error naming the line to write instead.
    """
    def refuse(self, value):
        raise AttributeError(
            f"{type(self).__name__}.{name} is a view of the model's flat {what} vector: "
            f"rebinding it would leave the vector, and so the training, unchanged. Write into "
            f"it instead: self.{name}[...] = value, or xp.matmul(a, b, out=self.{name})")
    return property(operator.attrgetter("_" + name), refuse,
                    doc=f"a view of the flat {what} vector (write into it; never rebind it)")
