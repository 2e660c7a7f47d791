"""Exercise 9: im2col, col2im and Conv2d, against minivae's conv.py (docs/math.md §11).

Three settings, each on a non-square image (so swapped H and W show):
k 3 s 1 p 1 (same size), k 4 s 2 p 1 (the MNIST conv model's, halving), and
k 2 s 2 p 0. The property test is col2im's definition: it is the adjoint of
im2col, <im2col(x), c> = <x, col2im(c)> for every x and c.
Shapes: B batch, C, O channels in and out, H x W the image, K = C k k, L = Ho Wo B.
"""

from __future__ import annotations

import numpy as np

from ..compare import Wrong, close, gradient_agrees, returned, unpack
from ..registry import call, check, normal, rng
from .layers import DTYPES

B, C, O, H, W = 2, 2, 3, 5, 6
SETTINGS = ((3, 1, 1), (4, 2, 1), (2, 2, 0))          # (k, s, p)
ENTRIES = 30    # entries per array a gradient check draws (of up to 120): 4 forwards each


def out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def conv_inputs(k, dtype=np.float64, seed=19):
    r = rng(seed)
    return normal(r, (B, C, H, W), dtype), normal(r, (O, C, k, k), dtype), normal(r, (O,), dtype)


def cols_shape(k, s, p):
    return (C * k * k, out_size(H, k, s, p) * out_size(W, k, s, p) * B)


def y_shape(k, s, p):
    return (B, O, out_size(H, k, s, p), out_size(W, k, s, p))


def backward_of(f, dy, x, Wt, s, p, dtype=np.float64):
    out = unpack(call(f, "conv2d_backward", dy, x, Wt, s, p), ("dx", "dW", "db"), "conv2d_backward")
    shapes = {"dx": x.shape, "dW": Wt.shape, "db": (O,)}
    return [returned(a, n, shapes[n], dtype, "conv2d_backward") for a, n in zip(out, shapes)]


@check(9, "shapes", "cols (C k k, Ho Wo B), col2im (B, C, H, W), y (B, O, Ho, Wo), dx, dW, db")
def conv_shapes(f, ref):
    for dtype in DTYPES:
        for k, s, p in SETTINGS:
            x, Wt, b = conv_inputs(k, dtype)
            where = f" (k {k}, s {s}, p {p})"
            cols = returned(call(f, "im2col", x, k, s, p), "cols" + where, cols_shape(k, s, p),
                            dtype, "im2col")
            returned(call(f, "col2im", cols, x.shape, k, s, p), "x" + where, x.shape, dtype,
                     "col2im")
            y = returned(call(f, "conv2d_forward", x, Wt, b, s, p), "y" + where, y_shape(k, s, p),
                         dtype, "conv2d_forward")
            backward_of(f, np.ones_like(y), x, Wt, s, p, dtype)


@check(9, "values", "im2col, col2im, the forward and the backward equal minivae's, in 3 settings")
def conv_values(f, ref):
    for k, s, p in SETTINGS:
        x, Wt, b = conv_inputs(k)
        where = f" (k {k}, s {s}, p {p})"
        cols = returned(call(f, "im2col", x, k, s, p), "cols", cols_shape(k, s, p), np.float64,
                        "im2col")
        close(cols, ref.im2col(x, k, s, p), "cols", "im2col", note=where)
        c = normal(rng(20), cols_shape(k, s, p))
        back = returned(call(f, "col2im", c, x.shape, k, s, p), "x", x.shape, np.float64, "col2im")
        close(back, ref.col2im(c, x.shape, k, s, p), "x", "col2im", note=where)
        y = returned(call(f, "conv2d_forward", x, Wt, b, s, p), "y", y_shape(k, s, p), np.float64,
                     "conv2d_forward")
        close(y, ref.conv2d_forward(x, Wt, b, s, p), "y", "conv2d_forward", note=where)
        dy = normal(rng(21), y_shape(k, s, p))
        for got, want, name in zip(backward_of(f, dy, x, Wt, s, p),
                                   ref.conv2d_backward(dy, x, Wt, s, p), ("dx", "dW", "db")):
            close(got, want, name, "conv2d_backward", scales={"B": B}, note=where)


@check(9, "property", "col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)>")
def conv_adjoint(f, ref):
    for k, s, p in SETTINGS:
        x = normal(rng(22), (B, C, H, W))
        c = normal(rng(23), cols_shape(k, s, p))
        cols = returned(call(f, "im2col", x, k, s, p), "cols", c.shape, np.float64, "im2col")
        back = returned(call(f, "col2im", c, x.shape, k, s, p), "x", x.shape, np.float64, "col2im")
        left, right = float((cols * c).sum()), float((x * back).sum())
        if abs(left - right) > 1e-9 * max(1.0, abs(left)):
            raise Wrong(f"col2im is not im2col's adjoint (k {k}, s {s}, p {p}): <im2col(x), c> = "
                        f"{left:.10g} but <x, col2im(c)> = {right:.10g}; col2im must add every "
                        "entry of cols back onto the pixel im2col copied it from (overlaps summed, "
                        "padding dropped)")


def conv_gradient(f, forward, whose):
    for k, s, p in SETTINGS[:2]:
        x, Wt, b = conv_inputs(k, seed=24)
        G = normal(rng(25), y_shape(k, s, p))
        returned(forward.conv2d_forward(x, Wt, b, s, p), "y", G.shape, np.float64, "conv2d_forward")
        dx, dW, db = backward_of(f, G, x, Wt, s, p)
        fwd = forward.conv2d_forward
        gradient_agrees(lambda: (G * fwd(x.copy(), Wt.copy(), b.copy(), s, p)).sum(),
                        {"x": x, "W": Wt, "b": b}, {"x": dx, "W": dW, "b": db}, whose,
                        f"conv2d_backward (k {k}, s {s}, p {p})", max_entries=ENTRIES)


@check(9, "grad-own", "dx, dW, db against central differences of your conv2d_forward")
def conv_grad_own(f, ref):
    conv_gradient(f, f, "your")


@check(9, "grad-minivae", "dx, dW, db against central differences of minivae's Conv2d.forward")
def conv_grad_minivae(f, ref):
    conv_gradient(f, ref, "minivae's")
