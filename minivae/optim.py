"""Optimizers that update a model's parameters in place.

    opt = Adam(model.params, lr=1e-3)
    loss, parts = model.loss_and_grads(x)
    opt.step(model.grads)

When ``params`` and ``grads`` are views of flat vectors (a model's
``ParamDict``, see params.py), each update is a few operations on one long
vector instead of a loop over every array; the maths is the same.
"""

from __future__ import annotations

import math

from . import ops
from .backend import get_array_module
from .params import views


def _both_flat(params, grads) -> bool:
    return getattr(params, "flat", None) is not None and getattr(grads, "flat", None) is not None


class Optimizer:
    """Keeps per-parameter state arrays that mirror ``params``."""

    def __init__(self, params, lr):
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        self.params, self.lr, self.t = params, float(lr), 0

    def _zeros_like_params(self):
        """A state dict name -> zeros, as flat views when params are flat."""
        flat = getattr(self.params, "flat", None)
        if flat is None:
            state = {n: get_array_module(p).zeros_like(p) for n, p in self.params.items()}
            return state, None
        buf = get_array_module(flat).zeros_like(flat)          # (P,)
        state = views(buf, {name: p.shape for name, p in self.params.items()})
        return dict(state), buf

    def _groups(self, grads):
        """[(param, grad, *state arrays)] to update: the flat vectors when both
        params and grads have one (one group), else one group per array."""
        if _both_flat(self.params, grads):
            return [(self.params.flat, grads.flat, *(getattr(self, s)[1] for s in self.slots))]
        missing = sorted(set(self.params) - set(grads))
        if missing:
            raise KeyError(f"no gradient for parameters {missing}")
        return [(p, grads[n], *(getattr(self, s)[0][n] for s in self.slots))
                for n, p in self.params.items()]

    def state_dict(self) -> dict:
        """Arrays and step count to save in a checkpoint ("t", "<slot>.<param>")."""
        out = {"t": self.t}
        for slot in self.slots:
            state, _ = getattr(self, slot)
            out.update({f"{slot}.{name}": a for name, a in state.items()})
        return out

    def load_state_dict(self, d: dict) -> None:
        """Restore from :meth:`state_dict`, checking that names and shapes match."""
        for slot in self.slots:
            state, _ = getattr(self, slot)
            for name, a in state.items():
                key = f"{slot}.{name}"
                if key not in d or tuple(d[key].shape) != a.shape:
                    raise ValueError(f"optimizer state has no {key} of shape {a.shape}")
                a[...] = get_array_module(a).asarray(d[key], dtype=a.dtype)
        self.t = int(d["t"])


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as torch.optim.SGD.

        buf <- momentum * buf + (g + weight_decay * p)
        p   <- p - lr * buf
    """

    slots = ("buf",)

    def __init__(self, params, lr=1e-2, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.buf = self._zeros_like_params()

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

        g   <- g + weight_decay * p                  (L2 penalty, optional)
        m   <- beta1 m + (1 - beta1) g               first-moment estimate
        v   <- beta2 v + (1 - beta2) g^2             second-moment estimate
        m^  =  m / (1 - beta1^t),  v^ = v / (1 - beta2^t)   bias correction
        p   <- p - lr m^ / (sqrt(v^) + eps)

    Because m and v start at 0, without the correction the first steps would
    be too small; with it, step 1 moves every parameter by lr * g/(|g| + eps),
    about lr.
    """

    slots = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        self.beta1, self.beta2, self.eps = float(b1), float(b2), float(eps)
        self.weight_decay = float(weight_decay)
        self.m = self._zeros_like_params()
        self.v = self._zeros_like_params()

    def step(self, grads) -> None:
        self.t += 1
        for p, g, m, v in self._groups(grads):
            # The formula above, computed in place a cache-sized chunk at a time
            # (about twelve passes that stay in L2, no temporaries): see ops.adam_update.
            ops.adam_update(p, g, m, v, lr=self.lr, beta1=self.beta1, beta2=self.beta2,
                            eps=self.eps, step=self.t, weight_decay=self.weight_decay)
