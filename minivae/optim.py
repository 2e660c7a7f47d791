"""Optimizers that update a model's parameters in place.

    opt = Adam(model.params, lr=1e-3)
    loss, parts = model.loss_and_grads(x)
    opt.step(model.grads)

A model's ``params`` and ``grads`` are views of two flat vectors
(minivae/params.py), so an optimizer updates the whole vector (P,) at once:
one update, on one array, whatever the number of layers. A plain dict of
arrays (no flat vector) is updated array by array through the same code.
The update's formula is in minivae/ops.py (docs/math.md §7). The optimizer
of a model runs the forms the model was built with (``VAE(fast=...)``: plain,
or minivae/fast/'s), read from ``model.params.ops``: one choice per model.
For a plain dict of arrays, ``fast`` chooses (minivae/fast/forms.py).
"""

from __future__ import annotations

import math

from .backend import get_array_module
from .fast.forms import choose_ops
from .params import ParamDict


def _arrays(d):
    """The arrays an update runs over: [the flat vector (P,)] for a ParamDict, else each array."""
    return [d.flat] if isinstance(d, ParamDict) else list(d.values())


class Optimizer:
    """Keeps per-parameter state arrays (``slots``) that mirror ``params``."""

    slots = ()

    def __init__(self, params, lr, fast=None):
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        if not params:
            raise ValueError("no parameters to optimize")
        self.params, self.lr, self.t = params, float(lr), 0
        xp = get_array_module(next(iter(params.values())))
        self.ops = getattr(params, "ops", None)        # the model's choice, made when it was built
        if self.ops is None:                           # a plain dict: fast unless told otherwise
            self.ops = choose_ops(xp, fast is not False)
        elif fast is not None and fast != (self.ops.name != "plain"):
            raise ValueError(f"these are a model's parameters, built with fast={not fast}: its "
                             f"optimizer runs the model's forms ({self.ops.description}). Build "
                             f"the model with fast={fast} instead")
        # Each slot mirrors params: a ParamDict over a zero flat vector, or a dict of zeros.
        self.state = {}
        for slot in self.slots:
            if isinstance(params, ParamDict):
                flat = xp.zeros_like(params.flat)                                      # (P,)
                self.state[slot] = ParamDict(flat, {n: p.shape for n, p in params.items()})
            else:
                self.state[slot] = {n: xp.zeros_like(p) for n, p in params.items()}

    def _groups(self, grads):
        """[(param, grad, *slot arrays)] for every array the update runs over."""
        missing = sorted(set(self.params) - set(grads))
        if missing:
            raise KeyError(f"no gradient for parameters {missing}")
        if isinstance(self.params, ParamDict) and not isinstance(grads, ParamDict):
            raise TypeError("params are a model's flat ParamDict, so grads must be too "
                            "(pass model.grads)")
        return list(zip(_arrays(self.params), _arrays(grads),
                        *(_arrays(self.state[s]) for s in self.slots)))

    def state_dict(self) -> dict:
        """Arrays and step count to save in a checkpoint ("t", "<slot>.<param>")."""
        out = {"t": self.t}
        for slot in self.slots:
            out.update({f"{slot}.{name}": a for name, a in self.state[slot].items()})
        return out

    def load_state_dict(self, d: dict) -> None:
        """Restore from :meth:`state_dict`, checking names, shapes and that values are finite."""
        for slot in self.slots:
            for name, a in self.state[slot].items():
                key = f"{slot}.{name}"
                if key not in d or tuple(d[key].shape) != a.shape:
                    raise ValueError(f"optimizer state has no {key} of shape {a.shape}")
                if not get_array_module(d[key]).isfinite(d[key]).all():
                    raise ValueError(f"optimizer state {key} contains NaN or infinite values")
                if slot == "v" and (d[key] < 0).any():   # a running mean of g^2 is never negative
                    raise ValueError(f"optimizer state {key} holds negative values: it was "
                                     "damaged or edited")
                a[...] = get_array_module(a).asarray(d[key], dtype=a.dtype)
        self.t = int(d["t"])


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as torch.optim.SGD.

        buf <- momentum * buf + (g + weight_decay * p)
        p   <- p - lr * buf
    """

    slots = ("buf",)

    def __init__(self, params, lr=1e-2, momentum=0.0, weight_decay=0.0, fast=None):
        super().__init__(params, lr, fast)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def step(self, grads) -> None:
        self.t += 1
        for p, g, buf in self._groups(grads):
            if self.weight_decay:
                g = g + self.weight_decay * p
            buf *= self.momentum
            buf += g
            p -= self.lr * buf


class Adam(Optimizer):
    """Adam (Kingma & Ba 2014) with bias correction, as torch.optim.Adam.

    The update and its derivation: ``ops.Ops.adam_update``, docs/math.md §7.
    Because m and v start at 0, without the bias correction the first steps
    would be too small; with it, step 1 moves every parameter by about lr.
    """

    slots = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 fast=None):
        super().__init__(params, lr, fast)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        self.beta1, self.beta2, self.eps = float(b1), float(b2), float(eps)
        self.weight_decay = float(weight_decay)

    def step(self, grads) -> None:
        self.t += 1
        for p, g, m, v in self._groups(grads):
            self.ops.adam_update(p, g, m, v, lr=self.lr, beta1=self.beta1, beta2=self.beta2,
                                 eps=self.eps, step=self.t, weight_decay=self.weight_decay)
