"""Exercise 9: Conv2d by im2col, and its backward by col2im (docs/math.md §11).

minivae's answers: im2col, col2im and Conv2d in minivae/conv.py.
Grade it: python -m minivae.exercises check . 9    (or: python -m pytest . -m ex9)
Once it passes, python -m minivae.train --arch conv --exercises . trains a conv VAE with it.

Shapes: B batch, C input channels, O output channels, H x W an image, k x k
the kernel, s the stride, p the zero padding, Ho x Wo the output, with
Ho = floor((H + 2p - k) / s) + 1 (and Wo the same from W).
W uses PyTorch's layout (O, C, k, k): torch.nn.functional.conv2d gives the same numbers.
"""

import numpy as np


def im2col(x, k, s, p):
    """x (B, C, H, W) -> cols (C k k, Ho Wo B): column (i, j, b) is the patch under output (i, j).

    Row (c, u, v) of cols holds x[b, c, s i + u - p, s j + v - p], or 0 where
    that falls in the padding. Rows run over (c, u, v) with v fastest, columns
    over (i, j, b) with b fastest: cols.reshape(C, k, k, Ho, Wo, B)[c, u, v, i, j, b].
    """
    raise NotImplementedError("exercise 9: im2col")


def col2im(cols, shape, k, s, p):
    """The adjoint of im2col: cols (C k k, Ho Wo B) -> x (B, C, H, W), overlaps summed.

    shape = (B, C, H, W). Every entry of cols goes back to the pixel it was copied
    from; a pixel read by several patches receives the sum, and entries that were
    padding go nowhere. It is the backward of im2col: dx = col2im(dcols).
    """
    raise NotImplementedError("exercise 9: col2im")


def conv2d_forward(x, W, b, stride, padding):
    """y[b, o] = b_o + sum_c W[o, c] (*) x[b, c]: cross-correlation, as in PyTorch.

    x : (B, C, H, W).   W : (O, C, k, k).   b : (O,).
    With cols = im2col(x) (K, L), K = C k k, L = Ho Wo B, the convolution is one
    matrix product: W.reshape(O, K) @ cols, (O, K) @ (K, L) -> (O, L), plus b.
    Returns y : (B, O, Ho, Wo).
    """
    raise NotImplementedError("exercise 9: conv2d_forward")


def conv2d_backward(dy, x, W, stride, padding):
    """y[b, o] = b_o + sum_c W[o, c] (*) x[b, c]: cross-correlation, as in PyTorch; backward.

    dy : (B, O, Ho, Wo), dLoss/dy.   x : (B, C, H, W), the forward's input.   W : (O, C, k, k).
    y2 = W2 cols + b with W2 = W.reshape(O, K) and y2 = dy laid out as (O, L), so, as for Dense:
      dW2   = dy2 cols^T                  (O, L) (L, K) -> (O, K)
      db    = dy summed over every output pixel          (O,)
      dcols = W2^T dy2                    (K, O) (O, L) -> (K, L), then dx = col2im(dcols)
    Returns (dx, dW, db): (B, C, H, W), (O, C, k, k), (O,).
    """
    raise NotImplementedError("exercise 9: conv2d_backward")
