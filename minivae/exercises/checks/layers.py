"""Exercises 1 and 2: Dense, ReLU, sigmoid and tanh (docs/math.md §2).

A backward is checked with the loss L = sum(G * forward(x)) for a random G:
then dL/dy = G, and backward(G, ...) must equal the central differences of L.
Shapes: B batch, I, O a Dense layer's sizes, H an activation's width.
"""

from __future__ import annotations

import numpy as np

from ..compare import close, gradient_agrees, returned, unpack
from ..registry import call, check, normal, rng

B, I, O, H = 4, 5, 3, 6
DTYPES = (np.float32, np.float64)


def dense_inputs(dtype=np.float64, seed=1):
    r = rng(seed)
    return (normal(r, (B, I), dtype), normal(r, (I, O), dtype), normal(r, (O,), dtype),
            normal(r, (B, O), dtype))                                     # x, W, b, dy


def dense_backward_of(f, dy, x, W, dtype=np.float64):
    out = unpack(call(f, "dense_backward", dy, x, W), ("dx", "dW", "db"), "dense_backward")
    shapes = {"dx": (B, I), "dW": (I, O), "db": (O,)}
    return [returned(a, n, shapes[n], dtype, "dense_backward") for a, n in zip(out, shapes)]


@check(1, "shapes", "y (B, O); dx (B, I), dW (I, O), db (O,); float32 in, float32 out")
def dense_shapes(f, ref):
    for dtype in DTYPES:
        x, W, b, dy = dense_inputs(dtype)
        returned(call(f, "dense_forward", x, W, b), "y", (B, O), dtype, "dense_forward")
        dense_backward_of(f, dy, x, W, dtype)


@check(1, "values", "y, dx, dW, db equal minivae's Dense on random inputs")
def dense_values(f, ref):
    x, W, b, dy = dense_inputs()
    y = returned(call(f, "dense_forward", x, W, b), "y", (B, O), np.float64, "dense_forward")
    close(y, ref.dense_forward(x, W, b), "y", "dense_forward")
    for got, want, name in zip(dense_backward_of(f, dy, x, W), ref.dense_backward(dy, x, W),
                               ("dx", "dW", "db")):
        close(got, want, name, "dense_backward", scales={"B": B})


def dense_gradient(f, forward, whose):
    x, W, b, G = dense_inputs(seed=2)
    returned(forward.dense_forward(x, W, b), "y", (B, O), np.float64, "dense_forward")
    dx, dW, db = dense_backward_of(f, G, x, W)
    gradient_agrees(lambda: (G * forward.dense_forward(x.copy(), W.copy(), b.copy())).sum(),
                    {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db}, whose, "dense_backward")


@check(1, "grad-own", "dx, dW, db against central differences of your dense_forward")
def dense_grad_own(f, ref):
    dense_gradient(f, f, "your")


@check(1, "grad-minivae", "dx, dW, db against central differences of minivae's Dense.forward")
def dense_grad_minivae(f, ref):
    dense_gradient(f, ref, "minivae's")


# -- exercise 2 ------------------------------------------------------------------
# (forward, backward, what the backward receives besides dy: the input x or the output y)
ACTIVATIONS = (("relu_forward", "relu_backward", "x"), ("sigmoid_forward", "sigmoid_backward", "y"),
               ("tanh_forward", "tanh_backward", "y"))


def activation_inputs(dtype=np.float64, seed=3):
    r = rng(seed)
    x = normal(r, (B, H), np.float64, 2.0)
    x += np.sign(x) * 0.05        # nothing within 0.05 of ReLU's kink: differences stay exact
    return x.astype(dtype), normal(r, (B, H), dtype)                     # x, dy


def kept(f, forward, x, given):
    """What the backward receives: x itself, or the forward's output y (checked)."""
    if given == "x":
        return x
    return returned(call(f, forward, x), "y", x.shape, x.dtype, forward)


@check(2, "shapes", "every forward and backward returns (B, H), float32 in, float32 out")
def activation_shapes(f, ref):
    for dtype in DTYPES:
        x, dy = activation_inputs(dtype)
        for forward, backward, given in ACTIVATIONS:
            returned(call(f, forward, x), "y", (B, H), dtype, forward)
            returned(call(f, backward, dy, kept(f, forward, x, given)), "dx", (B, H), dtype,
                     backward)


@check(2, "values", "forward and backward equal minivae's ReLU, Sigmoid, Tanh")
def activation_values(f, ref):
    x, dy = activation_inputs()
    s, t = ref.sigmoid_forward(x), ref.tanh_forward(x)
    again = {   # the backward fed sigmoid(y) or tanh(y): the activation applied twice
        "sigmoid_backward": ("sigmoid applied to y again: the backward receives y = sigmoid(x), "
                             "so dx = dy y (1 - y)",
                             ref.sigmoid_backward(dy, ref.sigmoid_forward(s))),
        "tanh_backward": ("tanh applied to y again: the backward receives y = tanh(x), so "
                          "dx = dy (1 - y^2)", ref.tanh_backward(dy, ref.tanh_forward(t)))}
    for forward, backward, given in ACTIVATIONS:
        y = returned(call(f, forward, x), "y", (B, H), np.float64, forward)
        close(y, getattr(ref, forward)(x), "y", forward)
        arg = x if given == "x" else getattr(ref, forward)(x)
        dx = returned(call(f, backward, dy, arg), "dx", (B, H), np.float64, backward)
        words, wrong = again.get(backward, (None, None))
        close(dx, getattr(ref, backward)(dy, arg), "dx", backward,
              variants={words: wrong} if words else None)


@check(2, "stability", "sigmoid and tanh at x = +-50 and +-1000: finite and exact")
def activation_extremes(f, ref):
    x = np.array([[-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0]])
    for forward in ("sigmoid_forward", "tanh_forward"):
        with np.errstate(all="ignore"):
            got = call(f, forward, x)
        close(returned(got, "y", x.shape, np.float64, forward), getattr(ref, forward)(x), "y",
              forward + " at x = [-1000, -50, -1, 0, 1, 50, 1000]")


def activation_gradient(f, forward_ns, whose):
    x, G = activation_inputs(seed=4)
    for forward, backward, given in ACTIVATIONS:
        y = returned(getattr(forward_ns, forward)(x), "y", (B, H), np.float64, forward)
        arg = x if given == "x" else y
        dx = returned(call(f, backward, G, arg), "dx", (B, H), np.float64, backward)
        fwd = getattr(forward_ns, forward)
        gradient_agrees(lambda: (G * fwd(x.copy())).sum(), {"x": x}, {"x": dx}, whose, backward)


@check(2, "grad-own", "each backward against central differences of your forward")
def activation_grad_own(f, ref):
    activation_gradient(f, f, "your")


@check(2, "grad-minivae", "each backward against central differences of minivae's forward")
def activation_grad_minivae(f, ref):
    activation_gradient(f, ref, "minivae's")
