"""Exercise 8: Adam's update, against minivae's (docs/math.md §7).

Adam works in place, so these checks read the arrays after the call: p, m
and v must have changed, g must not. Three steps are compared with minivae's,
and the first step with what Adam promises: with its bias corrections, step 1
moves every parameter by about lr (the update is lr g / |g| when |g| >> eps).
"""

from __future__ import annotations

import numpy as np

from ..compare import Wrong, close
from ..registry import check, normal, rng
from .layers import DTYPES

P = 10
SETTINGS = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)


def adam_inputs(dtype=np.float64, seed=17):
    r = rng(seed)
    return [normal(r, (P,), dtype) for _ in range(3)]          # p, and the gradients of 2 steps


def steps(fn, p, grads, weight_decay=0.0, n=3):
    """p, m, v after n steps of ``fn`` (gradients reused in turn), each (P,)."""
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t in range(1, n + 1):
        g, before = grads[(t - 1) % len(grads)].copy(), p.copy()
        fn(p, g, m, v, step=t, weight_decay=weight_decay, **SETTINGS)
        if np.array_equal(p, before):
            raise Wrong(f"adam_update left p unchanged at step {t}: update it in place (p -= ...), "
                        "as the optimizer keeps that very array")
    return p, m, v


def by_hand(p, grads, correct_m=True, correct_v=True, n=3):
    """Adam written out again, with one of its common mistakes switched on: only for the hints."""
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    b1, b2, lr, eps = SETTINGS["beta1"], SETTINGS["beta2"], SETTINGS["lr"], SETTINGS["eps"]
    for t in range(1, n + 1):
        g = grads[(t - 1) % len(grads)]
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t) if correct_m else m
        v_hat = v / (1 - b2**t) if correct_v else v
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@check(8, "shapes", "p, m, v updated in place, in their dtype (float32 too); g left as it was")
def adam_in_place(f, ref):
    for dtype in DTYPES:
        p, g, _ = adam_inputs(dtype)
        m, v, p0, g0 = np.zeros_like(p), np.zeros_like(p), p.copy(), g.copy()
        f.adam_update(p, g, m, v, step=1, **SETTINGS)
        for name, a in (("p", p), ("m", m), ("v", v)):
            if a.dtype != dtype:
                raise Wrong(f"adam_update changed the dtype of {name}")
        if not np.array_equal(g, g0):
            raise Wrong("adam_update changed g: the gradient is read only (the model fills it)")
        unchanged = [name for name, a, a0 in (("p", p, p0), ("m", m, 0 * m), ("v", v, 0 * v))
                     if np.array_equal(a, a0)]
        if unchanged:
            raise Wrong(f"after adam_update, {', '.join(unchanged)} still hold what they held "
                        "before: update the arrays given in place (p -= ..., m *= beta1, "
                        "m += ...), since a new array bound to the name is never seen by the "
                        "caller")


@check(8, "values", "p, m, v after 3 steps equal minivae's, weight decay 0 and 0.1")
def adam_values(f, ref):
    p0, *grads = adam_inputs()
    hints = {"a missing bias correction (m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t))":
             by_hand(p0, grads, False, False),
             "the bias correction of v missing": by_hand(p0, grads, True, False),
             "the bias correction of m missing": by_hand(p0, grads, False, True)}
    for wd in (0.0, 0.1):
        got, want = steps(f.adam_update, p0, grads, wd), steps(ref.adam_update, p0, grads, wd)
        for a, b, name in zip(got, want, ("p", "m", "v")):
            close(a, b, name, "adam_update", variants=hints if (name == "p" and not wd) else None,
                  note=f" after 3 steps (weight_decay {wd:g})")


@check(8, "property", "step 1 moves every parameter by lr (bias-corrected: m_hat = g, v_hat = g^2)")
def adam_first_step(f, ref):
    p0, g, _ = adam_inputs(seed=18)
    p = steps(f.adam_update, p0, [g], n=1)[0]
    moved = np.abs(p - p0)
    lr = SETTINGS["lr"]
    if not np.allclose(moved, lr, rtol=1e-5):
        i = int(np.argmax(np.abs(moved - lr)))
        uncorrected = lr * (1 - SETTINGS["beta1"]) / np.sqrt(1 - SETTINGS["beta2"])   # 3.16 lr
        hint = ("; it looks like a missing bias correction (then step 1 moves by lr (1 - beta1) "
                "/ sqrt(1 - beta2) = 3.16 lr)" if np.isclose(moved[i], uncorrected, rtol=1e-3)
                else "")
        raise Wrong(f"adam_update's first step moved p[{i}] by {moved[i]:.6g}, not lr = {lr:g}: "
                    f"with the bias corrections, m_hat = g and v_hat = g^2 at step 1" + hint)
