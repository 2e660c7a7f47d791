"""Convolution and transposed convolution, written as one matrix product each.

Shapes: B batch, C input channels, O output channels, H x W an image,
k x k the kernel, s the stride, p the zero padding, Ho x Wo the output,
K = C k k the numbers one output pixel reads, L = Ho Wo B the output
pixels of the batch (stored with the batch last: see below).

    conv = Conv2d(3, 12, 4, stride=2, padding=1, dtype="float64", seed=0)
    y = conv.forward(x)      # x (B, 3, H, W) -> y (B, 12, H/2, W/2)
    dx = conv.backward(dy)   # fills conv.dW (12, 3, 4, 4) and conv.db (12,)

The weights use PyTorch's layouts (Conv2d (O, C, k, k), ConvTranspose2d
(C, O, k, k)), so ``torch.nn.functional.conv2d`` gives the same numbers.

im2col (docs/math.md §11): copy every k x k patch the kernel sees into one
column of a matrix ``cols`` (K, L). The convolution is then one GEMM,
y = W (O, K) @ cols (K, L); its backward is two more (dW = dy cols^T and
dcols = W^T dy), and col2im adds each column of dcols back onto the pixels
it was copied from. A transposed convolution is the same two maps the other
way round: its forward is the convolution's backward (GEMM, then col2im),
its backward the convolution's forward (im2col, then GEMM).

Memory layout: the GEMM's output (O, L) = (O, Ho, Wo, B) is channel-major
with the batch last; each layer hands on the (B, O, Ho, Wo) *view* of it (a
transpose, no copy) and the next im2col reads the view. So a chain of conv
layers never reorders an array except inside im2col/col2im, which copy
anyway, and those copies move runs of B contiguous numbers (with the batch
first they would move runs of Wo, a few numbers, and run several times slower).
"""

from __future__ import annotations

import math

import numpy as np

from .backend import Generator
from .layers import Layer
from .params import ParamStore, view_attribute


def output_size(size: int, k: int, s: int, p: int) -> int:
    """Pixels along one axis after a convolution: floor((size + 2p - k) / s) + 1."""
    if size + 2 * p < k:
        raise ValueError(f"kernel size {k} is larger than the padded image ({size} pixels + "
                         f"2 x {p} padding = {size + 2 * p}); use a smaller kernel, more "
                         "padding, or larger images")
    return (size + 2 * p - k) // s + 1


def _overlap(u: int, size: int, out: int, s: int, p: int):
    """Outputs i in [i0, i1) whose tap u lands inside the image, and the pixels they read.

    Output i with kernel offset u reads pixel h = s i + u - p of the unpadded
    image; outside [0, size) it reads the zero padding. Returns i0, i1 and
    the slice of pixels h0, h0 + s, ..., read by i0 .. i1 - 1.
    """
    i0 = max(0, -((u - p) // s))                     # the first i with s i + u - p >= 0
    i1 = min(out, (size - 1 + p - u) // s + 1)       # one past the last with h <= size - 1
    if i1 <= i0:
        return i0, i0, slice(0, 0)
    return i0, i1, slice(s * i0 + u - p, s * (i1 - 1) + u - p + 1, s)


def im2col(x, k: int, s: int, p: int, xp=np):
    """x (B, C, H, W) -> cols (C k k, Ho Wo B): column (i, j, b) is the patch under output (i, j).

    Row (c, u, v) of cols holds x[b, c, s i + u - p, s j + v - p], or 0 where
    that falls in the padding. The image is padded once; every k x k window of
    it is then a view (``sliding_window_view``: no copy), of which the stride
    keeps every s-th, and one copy lays the windows out as columns. The batch
    is the fastest-varying axis, so the copy moves runs of B contiguous numbers.
    On a GPU that is three kernels (the padding two, the copy one), not k^2.
    """
    B, C, H, W = x.shape
    Ho, Wo = output_size(H, k, s, p), output_size(W, k, s, p)
    xt = x.transpose(1, 2, 3, 0)                                    # (C, H, W, B), a view
    padded = xp.pad(xt, ((0, 0), (p, p), (p, p), (0, 0)))           # (C, H + 2p, W + 2p, B)
    windows = xp.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))
    windows = windows[:, :s * (Ho - 1) + 1:s, :s * (Wo - 1) + 1:s]  # (C, Ho, Wo, B, k, k), a view
    cols = xp.ascontiguousarray(windows.transpose(0, 4, 5, 1, 2, 3))   # (C, k, k, Ho, Wo, B)
    return cols.reshape(C * k * k, Ho * Wo * B)                     # (K, L), a view


def col2im(cols, shape, k: int, s: int, p: int, xp=np):
    """The adjoint of im2col: cols (C k k, Ho Wo B) -> x (B, C, H, W), overlaps summed.

    Every entry of cols goes back to the pixel it was copied from; a pixel
    read by several patches receives the sum, and entries that were padding
    go nowhere (docs/math.md §11).
    """
    B, C, H, W = shape
    Ho, Wo = output_size(H, k, s, p), output_size(W, k, s, p)
    cols = cols.reshape(C, k, k, Ho, Wo, B)
    x = xp.zeros((C, H, W, B), dtype=cols.dtype)                     # (C, H, W, B)
    for u in range(k):
        i0, i1, rows = _overlap(u, H, Ho, s, p)
        for v in range(k):
            j0, j1, columns = _overlap(v, W, Wo, s, p)
            tap = x[:, rows, columns]                               # the pixels it read, a view
            tap += cols[:, u, v, i0:i1, j0:j1]                      # in place: one pass
    return x.transpose(3, 0, 1, 2)                                  # (B, C, H, W), a view


def _channel_major(a):
    """(B, C, H, W) -> (C, H W B): free when ``a`` is the view a conv layer returned."""
    B, C, H, W = a.shape
    return a.transpose(1, 2, 3, 0).reshape(C, H * W * B)


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


class _ConvBase(Layer):
    """What both layers share: settings, parameter views, PyTorch's initialisation."""

    W, b = view_attribute("W", "parameter"), view_attribute("b", "parameter")
    dW, db = view_attribute("dW", "gradient"), view_attribute("db", "gradient")

    @classmethod
    def shapes(cls, name, in_channels, out_channels, kernel_size):
        """{"<name>.W": the PyTorch weight shape, "<name>.b": (out_channels,)}."""
        k = kernel_size
        w = ((out_channels, in_channels, k, k) if issubclass(cls, Conv2d)
             else (in_channels, out_channels, k, k))
        return {f"{name}.W": w, f"{name}.b": (out_channels,)}

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 rng=None, seed=0, dtype="float32", xp=np, store: ParamStore | None = None,
                 name="conv"):
        super().__init__(xp)
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.out_channels = _check_int("out_channels", out_channels, 1)
        self.k = _check_int("kernel_size", kernel_size, 1)
        self.stride = _check_int("stride", stride, 1)
        self.padding = _check_int("padding", padding, 0)
        if store is None:
            store = ParamStore(self.shapes(name, in_channels, out_channels, self.k), xp, dtype)
        self._W, self._b = store.params[f"{name}.W"], store.params[f"{name}.b"]
        self._dW, self._db = store.grads[f"{name}.W"], store.grads[f"{name}.b"]
        self.name = name
        # PyTorch's default: U(-a, a), a = 1/sqrt(fan_in), fan_in = W.shape[1] k^2
        # (C k^2 for Conv2d, O k^2 for ConvTranspose2d, as torch computes it).
        rng = rng if rng is not None else Generator(xp, seed)
        a = 1.0 / math.sqrt(self._W.shape[1] * self.k * self.k)
        self._W[...] = rng.uniform(self._W.shape, -a, a, dtype=self._W.dtype)
        self._b[...] = rng.uniform(self._b.shape, -a, a, dtype=self._b.dtype)

    def im2col(self, x):
        """x (B, C, H, W) -> cols (C k k, Ho Wo B): im2col with this layer's k, s and p
        (fast/ does it in one compiled pass on the CPU)."""
        return im2col(x, self.k, self.stride, self.padding, self.xp)

    def col2im(self, cols, shape):
        """cols (C k k, Ho Wo B) -> x ``shape`` (B, C, H, W): col2im with this layer's k, s
        and p (fast/ does it in one kernel on the GPU, one compiled pass on the CPU)."""
        return col2im(cols, shape, self.k, self.stride, self.padding, self.xp)

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects x of shape (B, {self.in_channels}, "
                             f"H, W); got {tuple(x.shape)}")


class Conv2d(_ConvBase):
    """y[b, o] = b_o + sum_c W[o, c] (*) x[b, c]: cross-correlation, as in PyTorch.

    x (B, C, H, W) -> y (B, O, Ho, Wo), Ho = floor((H + 2p - k) / s) + 1.
    """

    def forward(self, x):
        self._check_input(x)
        B, C, H, W = x.shape
        self.x_shape = x.shape
        self.cols = self.im2col(x)                                           # (K, L), for dW
        W2 = self._W.reshape(self.out_channels, -1)                          # (O, K)
        y = W2 @ self.cols                                      # (O, K) @ (K, L) -> (O, L)
        y += self._b[:, None]
        Ho = output_size(H, self.k, self.stride, self.padding)
        Wo = output_size(W, self.k, self.stride, self.padding)
        return y.reshape(self.out_channels, Ho, Wo, B).transpose(3, 0, 1, 2)   # (B, O, Ho, Wo)

    def backward(self, dy, need_dx: bool = True):
        # y = W2 cols + b (docs/math.md §11), so, as for Dense:
        #   dW2 = dy cols^T      (O, L) (L, K) -> (O, K)
        #   db  = dy summed over every output pixel   (O,)
        #   dcols = W2^T dy      (K, O) (O, L) -> (K, L), then col2im: dx (B, C, H, W)
        dy2 = _channel_major(dy)                                             # (O, L)
        self.xp.matmul(dy2, self.cols.T, out=self._dW.reshape(self.out_channels, -1))
        dy2.sum(axis=1, out=self._db)                                        # (O, L) -> (O,)
        if not need_dx:                                                      # the first layer:
            return None                                                      # skip GEMM + col2im
        dcols = self._W.reshape(self.out_channels, -1).T @ dy2               # (K, L)
        return self.col2im(dcols, self.x_shape)                              # (B, C, H, W)


class ConvTranspose2d(_ConvBase):
    """The adjoint of Conv2d: each input pixel stamps W[c] (C -> O channels) onto the output.

    x (B, C, H, W) -> y (B, O, Ho, Wo), Ho = (H - 1) s - 2p + k + output_padding;
    W (C, O, k, k) as in PyTorch. ``output_padding`` (< stride) adds rows and
    columns at the bottom and right, so that a decoder can reach an odd size.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, **kwargs)
        pair = output_padding if isinstance(output_padding, (tuple, list)) else (output_padding,) * 2
        self.output_padding = tuple(_check_int("output_padding", op, 0) for op in pair)   # rows, cols
        if len(pair) != 2 or max(self.output_padding) >= self.stride:
            raise ValueError(f"output_padding must be one integer or (rows, cols), each smaller "
                             f"than the stride ({self.stride}); got {output_padding!r}")

    def out_size(self, size: int, axis: int = 0) -> int:
        """Pixels along ``axis`` (0 rows, 1 columns): (size - 1) s - 2p + k + output_padding."""
        n = (size - 1) * self.stride - 2 * self.padding + self.k + self.output_padding[axis]
        if n < 1:
            raise ValueError(f"ConvTranspose2d: an input of {size} pixels gives an output of "
                             f"{n}; lower the padding ({self.padding})")
        return n

    def forward(self, x):
        self._check_input(x)
        B, C, H, W = self.x_shape = x.shape
        self.x2 = _channel_major(x)                                          # (C, H W B), for dW
        W2 = self._W.reshape(self.in_channels, -1)                           # (C, O k k)
        cols = W2.T @ self.x2                        # (O k k, C) @ (C, H W B) -> (O k k, H W B)
        self.y_shape = (B, self.out_channels, self.out_size(H, 0), self.out_size(W, 1))
        y = self.col2im(cols, self.y_shape)
        y += self._b[None, :, None, None]
        return y                                                             # (B, O, Ho, Wo)

    def backward(self, dy, need_dx: bool = True):
        # The forward is y = col2im(W2^T x2) + b; col2im's adjoint is im2col, so
        # (docs/math.md §11)
        #   dcols = im2col(dy)   (O k k, H W B)
        #   dW2 = x2 dcols^T     (C, H W B) (H W B, O k k) -> (C, O k k)
        #   db  = dy summed over every output pixel   (O,)
        #   dx2 = W2 dcols       (C, O k k) (O k k, H W B) -> (C, H W B)
        dcols = self.im2col(dy)                                              # (O k k, H W B)
        self.xp.matmul(self.x2, dcols.T, out=self._dW.reshape(self.in_channels, -1))
        _channel_major(dy).sum(axis=1, out=self._db)                         # (O, Ho Wo B) -> (O,)
        if not need_dx:
            return None
        dx2 = self._W.reshape(self.in_channels, -1) @ dcols                  # (C, H W B)
        B, C, H, W = self.x_shape
        return dx2.reshape(C, H, W, B).transpose(3, 0, 1, 2)                 # (B, C, H, W)
