"""Loops compiled for the CPU with Numba: Adam's update, and the conv layers' im2col and col2im.

``adam_kernel(p, g, m, v, a, e, 1 - beta1, 1 - beta2, weight_decay, tiny)`` runs
the update of ``fast.FastOps.adam_update`` on 1-D arrays, in place, with the
constants of ``ops.adam_constants`` in the arrays' dtype (``fast.NumbaOps``
calls it).

NumPy runs one operator at a time: ``p -= lr * m / (np.sqrt(v) + eps)`` and
the moment updates before it are twelve passes over the (P,) vectors, each
reading and writing whole arrays (minivae/fast/forms.py's FastOps keeps them in
cache-sized chunks, but they stay twelve). The loop below does the same
arithmetic element by element: p, g, m and v are read once, m, v and p
written once, and every intermediate lives in a register: on the default
model (652,824 parameters), about a fifth of the time of the twelve passes
(benchmarks/README.md, "What the fast forms save").

The arithmetic is FastOps's, operation for operation and in the same order,
so the two give the same bits (tests/test_ops.py checks it):

    m += (1 - beta1) (g - m)          FastOps: subtract, multiply, add
    v += (1 - beta2) (g^2 - v)        square, subtract, multiply, add
    m, v below tiny: 0                abs, less, copyto, each (every 16th step)
    p -= (m / (sqrt(v) + e)) a        sqrt, add, divide, multiply, subtract

The third line is where both differ from the plain form (ops.Ops), and from
each other between FastOps's 16th steps: an m or v below ``tiny``, the dtype's
smallest normal number (1.2e-38 in float32), becomes 0 (here at every step,
where the check costs nothing). A weight whose gradient stays 0 (one feeding a dead ReLU) has
its m shrink by beta1 each step, down into the subnormal numbers, where each
multiplication takes a CPU a hundred times longer, and where it stays: once
(1 - beta1) m rounds to 0, m - (1 - beta1) m is m again. After a few epochs of
the conv VAE, half its m was subnormal and the update took 28 ms a step
instead of 2.7. Such an m or v moves p by less than 1e-30 a (m / e), nothing
float32 or float64 can show beside p.

``im2col_kernel`` and ``col2im_kernel`` are conv.py's im2col and col2im,
each as one pass over its output (``fast.forms.CompiledConv2d`` and
``CompiledConvTranspose2d`` call them). conv.im2col pads the image (one
copy), then copies the windows out (another); here each column is written
once, from the image or as zeros where it reads the padding. conv.col2im
adds the k^2 taps one at a time onto zeros, k^2 + 1 passes over the image;
here each pixel sums its own taps (a gather) and is written once. A pixel's
taps are added in conv.col2im's order, (u, v) row by row, starting from 0,
so the two give the same bits; im2col only copies. Both run over runs of B
numbers, the batch being the last, contiguous axis (conv.py: "Memory layout").

Two options of ``numba.njit`` matter. ``error_model="numpy"``: a division
by zero gives inf, as in NumPy, instead of raising ZeroDivisionError; the
check that raising needs would keep LLVM from running the loop 16 floats
at a time (AVX-512). ``fastmath`` stays off: no reordering, no fused
multiply-add, so each line rounds exactly as NumPy's operators do.
``cache=True`` keeps the compiled loops on disk (in __pycache__, or Numba's
user cache), so only the first run on a machine compiles them; every run
still spends about 0.8 s loading Numba and the cached loops.

Numba is the optional "numba" extra (``pip install minivae[numba]``);
``minivae.fast.forms`` imports this module at the first use of a loop, and
only when Numba is installed.

Shapes: P parameters; in im2col and col2im, conv.py's (C x H x W an image,
k x k the kernel, s the stride, p the padding, Ho x Wo the output, B batch).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(error_model="numpy", cache=True)
def adam_kernel(p, g, m, v, a, e, one_m_b1, one_m_b2, wd, tiny):   # pragma: no cover
    """One Adam step on 1-D arrays (P,), in place on p, m and v; g is read only."""
    for i in range(p.size):
        gi = g[i] + wd * p[i] if wd != 0 else g[i]       # g + weight_decay p (L2), as torch
        mi = m[i] + one_m_b1 * (gi - m[i])               # m = b1 m + (1 - b1) g
        vi = v[i] + one_m_b2 * (gi * gi - v[i])          # v = b2 v + (1 - b2) g^2
        if abs(mi) < tiny:                               # subnormal (or 0): 0, see above
            mi = mi - mi                                 # (0 in the arrays' dtype)
        if vi < tiny:
            vi = vi - vi
        m[i] = mi
        v[i] = vi
        p[i] -= (mi / (np.sqrt(vi) + e)) * a             # bias corrections folded into a, e


@numba.njit(error_model="numpy", cache=True)
def im2col_kernel(x, cols, k, s, p):                          # pragma: no cover (compiled)
    """conv.im2col: x (C, H, W, B) -> cols (C, k, k, Ho, Wo, B), both C-contiguous.

    Entry (c, u, v, io, jo, b) is x[c, s io + u - p, s jo + v - p, b], or 0
    where that lies in the padding.
    """
    C, H, W, B = x.shape
    Ho, Wo = cols.shape[3], cols.shape[4]
    for c in range(C):
        for u in range(k):
            for v in range(k):
                for io in range(Ho):
                    h = s * io + u - p                       # the pixel row this tap reads
                    for jo in range(Wo):
                        w = s * jo + v - p
                        out = cols[c, u, v, io, jo]          # (B,), a view
                        if 0 <= h < H and 0 <= w < W:
                            pixel = x[c, h, w]               # (B,)
                            for b in range(B):
                                out[b] = pixel[b]
                        else:                                # the padding
                            for b in range(B):
                                out[b] = 0


@numba.njit(error_model="numpy", cache=True)
def col2im_kernel(cols, x, k, s, p):                          # pragma: no cover (compiled)
    """conv.col2im: cols (C, k, k, Ho, Wo, B) -> x (C, H, W, B), both C-contiguous.

    Pixel (c, h, w) sums the entries copied from it: tap (u, v) of output
    (io, jo) read pixel (s io + u - p, s jo + v - p), so for each tap
    io = (h + p - u) / s, where that divides exactly and lands inside the
    output. Every pixel is written, those no tap read with 0.
    """
    C, H, W, B = x.shape
    Ho, Wo = cols.shape[3], cols.shape[4]
    for c in range(C):
        for h in range(H):
            for w in range(W):
                out = x[c, h, w]                             # (B,), a view
                for b in range(B):
                    out[b] = 0
                for u in range(k):
                    hs = h + p - u                           # s io, for the output row io
                    io = hs // s
                    if hs < 0 or hs % s != 0 or io >= Ho:
                        continue
                    for v in range(k):
                        ws = w + p - v                       # s jo, for the output column jo
                        jo = ws // s
                        if ws < 0 or ws % s != 0 or jo >= Wo:
                            continue
                        tap = cols[c, u, v, io, jo]          # (B,)
                        for b in range(B):
                            out[b] += tap[b]
