"""Gradient checking: analytic gradients against central differences.

For a scalar loss L and one entry theta_i of an array, the two-point
central difference

    ( L(theta_i + h) - L(theta_i - h) ) / (2 h)

has a truncation error O(h^2) (the even Taylor terms cancel) and a rounding
error ~ 1e-16 |L| / h. For a loss of a few nats in float64 the best h, ~1e-6,
leaves an absolute error ~1e-9: too coarse to show a relative error below
1e-6 on gradients of 1e-4. So we use the four-point central difference

    numeric_i = ( -L(+2h) + 8 L(+h) - 8 L(-h) + L(-2h) ) / (12 h)

whose truncation error is O(h^4): h = 1e-4 gives truncation ~1e-16 and
rounding ~1e-11. (h must stay small: a ReLU kink within 2h of a unit's input
makes any finite difference wrong.)

We compare entry by entry with the relative error

    err_i = |analytic_i - numeric_i| / max(|analytic_i|, |numeric_i|, floor)

where ``floor`` (1e-4) keeps entries whose gradient is ~0 from dividing
rounding noise by noise: below it, the error is measured against the floor.
The report names the worst entry: array name, index, both values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backend import to_numpy


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its central difference."""


@dataclass
class GradcheckResult:
    """The worst entry over every array checked."""

    max_error: float = 0.0
    name: str = ""
    index: tuple = ()
    analytic: float = 0.0
    numeric: float = 0.0
    errors: dict = field(default_factory=dict)   # name -> worst error in that array
    checked: int = 0                             # entries compared

    def __str__(self):
        return (f"worst relative error {self.max_error:.3e} at {self.name}{list(self.index)}: "
                f"analytic {self.analytic:.10g}, numeric {self.numeric:.10g} "
                f"({self.checked} entries checked)")


def gradcheck(loss_fn, arrays: dict, analytic: dict, h: float = 1e-4, tol: float = 1e-6,
              floor: float = 1e-4, max_entries: int | None = None, seed: int = 0,
              raise_on_failure: bool = True) -> GradcheckResult:
    """Compare ``analytic[name]`` with central differences of ``loss_fn`` for every array.

    Parameters
    ----------
    loss_fn : callable () -> scalar, computed from the *current contents* of
        ``arrays`` (each entry is perturbed in place, then restored).
    arrays : name -> float64 array (NumPy or CuPy) that loss_fn reads.
    analytic : name -> dL/d(array), same shapes (copied before any perturbation).
    h : the finite-difference step.
    tol : largest acceptable relative error.
    floor : the smallest denominator in the relative error.
    max_entries : check at most this many random entries per array (None: all).
    raise_on_failure : raise GradcheckError naming the worst entry if above tol.
    """
    analytic = {name: to_numpy(g).astype(np.float64, copy=True) for name, g in analytic.items()}
    result = GradcheckResult()
    rng = np.random.default_rng(seed)
    for name, a in arrays.items():
        if a.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 arrays; {name} is {a.dtype}")
        if tuple(analytic[name].shape) != tuple(a.shape):
            raise ValueError(f"{name}: analytic gradient has shape {analytic[name].shape}, "
                             f"array has {a.shape}")
        indices = list(np.ndindex(*a.shape))
        if max_entries is not None and len(indices) > max_entries:
            chosen = rng.choice(len(indices), size=max_entries, replace=False)
            indices = [indices[i] for i in sorted(chosen)]
        worst = 0.0
        for idx in indices:
            old = float(a[idx])
            values = []
            for k in (2, 1, -1, -2):
                a[idx] = old + k * h
                values.append(float(loss_fn()))
            a[idx] = old
            numeric = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
            exact = float(analytic[name][idx])
            err = abs(exact - numeric) / max(abs(exact), abs(numeric), floor)
            worst = max(worst, err)
            if err >= result.max_error:
                result.max_error, result.name, result.index = err, name, idx
                result.analytic, result.numeric = exact, numeric
        result.errors[name] = worst
        result.checked += len(indices)
    if raise_on_failure and not result.max_error < tol:   # "not <" also catches NaN
        raise GradcheckError(f"gradient check failed (tol {tol:g}): {result}")
    return result


def check_model(model, x, eps=None, input_grad: bool = True, labels=None, beta=None,
                **kwargs) -> GradcheckResult:
    """Gradient-check every parameter of a float64 model (and dloss/dx) at (x, eps).

    eps is fixed, so the loss is a deterministic function of the parameters.
    labels: a CVAE's y (B,); beta: a KL weight other than the model's (a warm-up step).
    """
    if model.dtype != np.float64:
        raise TypeError("check_model needs a model built with dtype='float64'")
    x = model._as_input(x).copy()
    if eps is None and hasattr(model, "latent_dim"):
        eps = model.rng.normal((x.shape[0], model.latent_dim), dtype=np.float64)
    data = (x,) if labels is None else (x, labels)             # a CVAE reads (x, y)
    step = {} if beta is None else {"beta": beta}
    model.loss_and_grads(*data, eps, input_grad=input_grad, **step)
    arrays = dict(model.params)
    analytic = {name: g.copy() for name, g in model.grads.items()}
    if input_grad:
        arrays["x"], analytic["x"] = x, model.input_grad.copy()
    return gradcheck(lambda: model.loss(*data, eps, **step)[0], arrays, analytic, **kwargs)
