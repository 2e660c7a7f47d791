"""Exercises 3 and 4: the Bernoulli and Gaussian NLLs and their gradients (docs/math.md §5, §6).

The gradient a likelihood returns is scale * d nll / d out, so it is checked
against central differences of L = scale * sum_b nll_b. Shapes: B batch, D pixels.
"""

from __future__ import annotations

import math

import numpy as np

from ..compare import Wrong, close, gradient_agrees, returned, unpack
from ..registry import call, check, normal, rng
from .layers import DTYPES

B, D = 4, 7
SCALES = {"B": B, "D": D}


def nll_and_grad(f, name, out, x, *args, dtype=np.float64):
    nll, grad = unpack(call(f, name, out, x, *args), ("nll", "grad"), name)
    if name == "bernoulli_nll_and_grad":
        not_finite(f, nll, grad, out, x)
    return (returned(nll, "nll", (out.shape[0],), dtype, name),
            returned(grad, "grad", out.shape, dtype, name))


def bernoulli_inputs(dtype=np.float64, seed=5, spread=3.0):
    r = rng(seed)
    logits = normal(r, (B, D), np.float64, spread)
    logits[0, :3] = (20.0, -20.0, 25.0)      # saturated pixels: clipping shows there
    return logits.astype(dtype), r.uniform(0, 1, (B, D)).astype(dtype)   # logits, x


@check(3, "shapes", "nll (B,) and grad (B, D); float32 in, float32 out")
def bernoulli_shapes(f, ref):
    for dtype in DTYPES:
        logits, x = bernoulli_inputs(dtype)
        nll_and_grad(f, "bernoulli_nll_and_grad", logits, x, 1.0 / B, dtype=dtype)


@check(3, "values", "nll and grad equal minivae's Bernoulli on grey-level x, scale 1 and 1/B")
def bernoulli_values(f, ref):
    logits, x = bernoulli_inputs(spread=2.0)
    logits[0, :3] = (0.5, -0.5, 1.0)
    for scale in (1.0, 1.0 / B):
        nll, grad = nll_and_grad(f, "bernoulli_nll_and_grad", logits, x, scale)
        want_nll, want_grad = ref.bernoulli_nll_and_grad(logits, x, scale)
        close(nll, want_nll, "nll", "bernoulli_nll_and_grad", scales=SCALES)
        close(grad, want_grad, "grad", "bernoulli_nll_and_grad", scales=SCALES,
              note=f" (scale {scale:g})")


@check(3, "stability", "logits of +-30, +-100, +-1000 with x = 0, 1/2, 1: finite and exact")
def bernoulli_extremes(f, ref):
    logits = np.array([[30.0, -30.0, 100.0, -100.0, 1000.0, -1000.0]] * 3)   # (3, 6)
    x = np.repeat([[0.0], [0.5], [1.0]], 6, axis=1)                          # (3, 6)
    with np.errstate(all="ignore"):
        out = call(f, "bernoulli_nll_and_grad", logits, x, 1.0)
    nll, grad = unpack(out, ("nll", "grad"), "bernoulli_nll_and_grad")
    not_finite(f, nll, grad, logits, x)
    nll = returned(nll, "nll", (3,), np.float64, "bernoulli_nll_and_grad")
    want = ref.bernoulli_nll_and_grad(logits, x, 1.0)[0]
    if not np.allclose(nll, want, rtol=1e-6):
        low = "below" if (nll < want).any() else "above"
        raise Wrong(f"bernoulli_nll_and_grad: at logits of +-30 to +-1000 the nll of the three "
                    f"images is {np.round(nll, 2).tolist()}, minivae's "
                    f"{np.round(want, 2).tolist()} ({low} the exact value): it looks like "
                    "log(sigmoid(l)) with clipping; compute it from the logits, softplus(l) - x l, "
                    "with softplus(l) = max(l, 0) + log(1 + e^-|l|)")
    returned(grad, "grad", logits.shape, np.float64, "bernoulli_nll_and_grad")


def not_finite(f, nll, grad, logits, x):
    """Wrong from overflow() when nll or grad, of the right shape, holds inf or nan."""
    for value, name, shape in ((nll, "nll", logits.shape[:1]), (grad, "grad", logits.shape)):
        if isinstance(value, np.ndarray) and value.shape == shape and \
                np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            overflow(f, value, name, logits, x)


def overflow(f, value, name, logits, x):
    """Wrong naming the logit where bernoulli_nll_and_grad is not finite, and the stable form."""
    where = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
    b, d = where[0], (where[1] if len(where) > 1 else None)
    alone = ""
    if d is None:            # nll sums a row: find the first logit not finite on its own
        for j in range(logits.shape[1]):
            try:
                with np.errstate(all="ignore"):
                    one = call(f, "bernoulli_nll_and_grad", logits[b:b + 1, j:j + 1],
                               x[b:b + 1, j:j + 1], 1.0)[0]
                one = np.asarray(one, dtype=np.float64)
            except Exception:
                break
            if not np.isfinite(one).all():
                d, alone = j, f" gives {one.flat[0]} alone"
                break
    kind = "float32 " if logits.dtype == np.float32 else ""
    if d is None:
        at = f", for {kind}logits from {logits[b].min():g} to {logits[b].max():g}"
        why = "e^l overflows for a large l"
    else:
        logit = float(logits[b, d])
        at = f"{':' if alone else ', at'} the {kind}logit {logit:g} (x = {float(x[b, d]):.3g})" \
            + alone
        why = ("e^l overflows there, or 1 - sigmoid(l) rounds to 0 and its log is -inf" if logit > 0
               else "e^-l overflows there, or sigmoid(l) rounds to 0 and its log is -inf")
    raise Wrong(f"bernoulli_nll_and_grad returned {value[where]} in {name}{list(where)}{at}: "
                f"{why}; compute softplus(l) - x l from the logits, softplus(l) = max(l, 0) + "
                "log(1 + e^-|l|) (np.logaddexp(0, l))")


def likelihood_gradient(f, forward, name, out, x, *args, whose, called):
    scale = 1.0 / B
    grad = nll_and_grad(f, name, out, x, *args, scale)[1]
    fwd = getattr(forward, name)
    nll_and_grad(forward, name, out, x, *args, scale)                # the forward, checked once
    gradient_agrees(lambda: scale * fwd(out.copy(), x, *args, scale)[0].sum(), {called: out},
                    {called: grad}, whose, name)


@check(3, "grad-own", "grad against central differences of your nll, saturated logits included")
def bernoulli_grad_own(f, ref):
    likelihood_gradient(f, f, "bernoulli_nll_and_grad", *bernoulli_inputs(seed=6), whose="your",
                        called="logits")


@check(3, "grad-minivae", "grad against central differences of minivae's Bernoulli nll")
def bernoulli_grad_minivae(f, ref):
    likelihood_gradient(f, ref, "bernoulli_nll_and_grad", *bernoulli_inputs(seed=6),
                        whose="minivae's", called="logits")


# -- exercise 4 ------------------------------------------------------------------

def gaussian_inputs(dtype=np.float64, seed=7):
    r = rng(seed)
    return r.uniform(0, 1, (B, D)).astype(dtype), r.uniform(0, 1, (B, D)).astype(dtype)  # mean, x


@check(4, "shapes", "nll (B,) and grad (B, D); float32 in, float32 out")
def gaussian_shapes(f, ref):
    for dtype in DTYPES:
        mean, x = gaussian_inputs(dtype)
        nll_and_grad(f, "gaussian_nll_and_grad", mean, x, 0.5, 1.0 / B, dtype=dtype)


@check(4, "values", "nll and grad equal minivae's Gaussian for std 1 and 0.3, scale 1 and 1/B")
def gaussian_values(f, ref):
    mean, x = gaussian_inputs()
    for std in (1.0, 0.3):
        for scale in (1.0, 1.0 / B):
            nll, grad = nll_and_grad(f, "gaussian_nll_and_grad", mean, x, std, scale)
            want_nll, want_grad = ref.gaussian_nll_and_grad(mean, x, std, scale)
            sse = ((x - mean) ** 2).sum(axis=1)                              # (B,)
            const = 0.5 * D * math.log(2 * math.pi * std**2)
            wrong = {"the constant (D/2) log(2 pi std^2) left out": want_nll - const,
                     "std where std^2 belongs": sse / (2 * std) + const}
            close(nll, want_nll, "nll", "gaussian_nll_and_grad", scales=SCALES,
                  variants=wrong, note=f" (std {std:g})")
            close(grad, want_grad, "grad", "gaussian_nll_and_grad", scales=SCALES,
                  variants={"std where std^2 belongs": scale * (mean - x) / std},
                  note=f" (std {std:g}, scale {scale:g})")


@check(4, "grad-own", "grad against central differences of your nll")
def gaussian_grad_own(f, ref):
    likelihood_gradient(f, f, "gaussian_nll_and_grad", *gaussian_inputs(seed=8), 0.5,
                        whose="your", called="mean")


@check(4, "grad-minivae", "grad against central differences of minivae's Gaussian nll")
def gaussian_grad_minivae(f, ref):
    likelihood_gradient(f, ref, "gaussian_nll_and_grad", *gaussian_inputs(seed=8), 0.5,
                        whose="minivae's", called="mean")
