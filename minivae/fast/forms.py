"""The speed-ups, standing apart: faster forms of minivae/ops.py, chosen once per model.

Nothing here changes the maths. Each fast form has the signature of the
plain form in ``ops.Ops`` (or the layer) it replaces, tests/test_ops.py
(tests/fast/test_compiled_conv.py) checks that the two agree, and
benchmarks/README.md records what each one saves (measured with
benchmarks/speed/profile_step.py, compare_versions.py for the conv layers).
A form stays only where it pays for itself: more than 3% of a training step.

    choose_ops(xp, fast=True)   the Ops a model or optimizer is built with:
        NumPy, fast    NumbaOps when Numba is installed (the "numba" extra): Adam's
                       update compiled into one pass, and the conv layers' im2col
                       and col2im into one pass each (fast/cpu_kernels.py);
                       without it FastOps: Adam's update in place (below)
        CuPy,  fast    cuda_kernels.CudaOps: fused GPU kernels
        fast=False     ops.Ops: the plain forms, on either device

On the CPU only Adam's update and the conv layers' two passes have fast
forms: a model's own forms (reparameterization, the KL), its Dense and ReLU
layers are the plain ones whichever set it gets (a compiled ReLU, its mask and
product in one pass, saved under 1% of the conv VAE's step: not kept).
"""

from __future__ import annotations

import functools
import importlib.util
import types
import warnings

import numpy as np

from ..conv import Conv2d, ConvTranspose2d, output_size
from ..ops import Ops, adam_constants

# Adam runs over the flat vector in chunks of this many elements: the passes
# of the update then reread a chunk (p, g, m, v and one scratch array, 1.3 MB
# in float32) from the L2 cache instead of rereading the whole 2.6 MB vectors
# from L3 or memory each time (chunks of 32k to 128k all time within 6% of 64k
# on the machine of benchmarks/CHANGELOG.md, 2026-11-21; 16k is 23% slower).
ADAM_CHUNK = 65536

# FastOps sets Adam's subnormal moments to 0 at every step that is a multiple of
# this (FastOps's docstring): one that got stuck stays at most 15 steps.
SUBNORMAL_EVERY = 16

FLOATS = (np.float32, np.float64)   # the dtypes the compiled loops take


def choose_ops(xp, fast: bool = True) -> Ops:
    """The set of elementwise functions for arrays of module ``xp``."""
    if not fast:
        return Ops(xp)
    if xp is np:
        return NumbaOps(xp) if numba_installed() else FastOps(xp)
    from .cuda_kernels import CudaOps   # imports CuPy: only for CuPy arrays
    return CudaOps(xp)


def numba_installed() -> bool:
    """True when Numba can be imported (``pip install minivae[numba]``)."""
    return importlib.util.find_spec("numba") is not None


class FastOps(Ops):
    """NumPy in place: Adam's update as ~12 in-place passes over cache-sized chunks.

    The plain form (``Ops.adam_update``) makes a new (P,) temporary for almost
    every operator; here each pass writes into one scratch chunk. Measured on
    the default model: benchmarks/README.md, "What the fast forms save".

    One difference from the plain form: every SUBNORMAL_EVERY-th step, an m or
    v below the dtype's smallest normal number becomes 0, as the compiled loop
    does at every step (fast/cpu_kernels.py says why: a CPU multiplies such
    subnormal numbers a hundred times slower, and the m of a weight whose
    gradient stays 0 gets stuck among them). It moves p by less than 1e-30 of a
    step. Here it takes six more passes over each chunk (zero_subnormals, for m
    and v), 3.5 to 11% of the default model's step were it made at every step,
    hence only at every 16th: about 1% (benchmarks/README.md).
    """

    name = "fast"
    description = "plain forms; Adam in place, in cache-sized chunks (NumPy)"

    def adam_update(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0,
                    chunk=ADAM_CHUNK):
        # The same step as Ops.adam_update with the bias corrections folded into
        # a and e (ops.adam_constants): p -= a m / (sqrt(v) + e), docs/math.md §7.
        a, e = adam_constants(lr, beta1, beta2, eps, step)
        if not all(arr.flags.c_contiguous for arr in (p, g, m, v)):
            return super().adam_update(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                       step=step, weight_decay=weight_decay)
        p, g, m, v = (arr.reshape(-1) for arr in (p, g, m, v))   # views, (P,)
        tmp = np.empty((min(chunk, p.size),), dtype=p.dtype)      # scratch, (chunk,)
        flush = step % SUBNORMAL_EVERY == 0                       # m, v checked this step
        low = np.empty(tmp.shape, dtype=bool) if flush else None   # scratch, (chunk,)
        for lo in range(0, p.size, chunk):
            s = slice(lo, min(lo + chunk, p.size))
            gs = g[s] + weight_decay * p[s] if weight_decay else g[s]   # the caller's g: unchanged
            t = tmp[:s.stop - lo]
            np.subtract(gs, m[s], out=t)
            t *= 1 - beta1
            m[s] += t                                  # m += (1 - beta1) (g - m)
            np.square(gs, out=t)
            t -= v[s]
            t *= 1 - beta2
            v[s] += t                                  # v += (1 - beta2) (g^2 - v)
            if flush:                                  # m, v subnormal: 0 (see above)
                zero_subnormals(m[s], t, low[:s.stop - lo])
                zero_subnormals(v[s], t, low[:s.stop - lo])
            np.sqrt(v[s], out=t)
            t += e
            np.divide(m[s], t, out=t)
            t *= a
            p[s] -= t                                  # p -= a m / (sqrt(v) + e)


def zero_subnormals(a, scratch=None, mask=None) -> None:
    """Set each element of ``a`` (a float NumPy array) smaller in size than its dtype's
    smallest normal number to 0, in place; ``scratch`` and ``mask``: arrays of a's shape
    to work in (float and bool), or None for new ones. Why: FastOps's docstring."""
    low = np.less(np.abs(a, out=scratch), np.finfo(a.dtype).tiny, out=mask)   # bool, a's shape
    np.copyto(a, 0, where=low)


class CompiledConv:
    """A conv layer of conv.py with its im2col and col2im each one compiled pass
    (fast/cpu_kernels.py): the columns written once, with no padded copy of the
    image before them; each pixel of col2im's image written once, with its taps
    summed, instead of k^2 passes adding onto zeros. The same numbers as
    conv.py's, bit for bit. Arrays neither float32 nor float64, or a Numba that
    does not load, get conv.py's forms.
    """

    def im2col(self, x):
        kernels = numba_kernels(x.dtype) if x.dtype in FLOATS else None
        if kernels is None:
            return super().im2col(x)
        B, C, H, W = x.shape
        k, s, p = self.k, self.stride, self.padding
        Ho, Wo = output_size(H, k, s, p), output_size(W, k, s, p)
        cols = np.empty((C, k, k, Ho, Wo, B), dtype=x.dtype)
        # x as (C, H, W, B): free for a conv layer's output (conv.py's "Memory layout"),
        # one copy for images unflattened from (B, D) rows, as conv.im2col's padding makes.
        kernels.im2col(np.ascontiguousarray(x.transpose(1, 2, 3, 0)), cols, k, s, p)
        return cols.reshape(C * k * k, Ho * Wo * B)                 # (K, L), a view

    def col2im(self, cols, shape):
        kernels = numba_kernels(cols.dtype) if cols.dtype in FLOATS else None
        if kernels is None:
            return super().col2im(cols, shape)
        B, C, H, W = shape
        k, s, p = self.k, self.stride, self.padding
        Ho, Wo = output_size(H, k, s, p), output_size(W, k, s, p)
        x = np.empty((C, H, W, B), dtype=cols.dtype)                # every pixel is written
        kernels.col2im(np.ascontiguousarray(cols).reshape(C, k, k, Ho, Wo, B), x, k, s, p)
        return x.transpose(3, 0, 1, 2)                              # (B, C, H, W), as conv's


class CompiledConv2d(CompiledConv, Conv2d):
    """conv.Conv2d with im2col (forward) and col2im (dx) compiled."""


class CompiledConvTranspose2d(CompiledConv, ConvTranspose2d):
    """conv.ConvTranspose2d with col2im (forward) and im2col (backward) compiled."""


class NumbaOps(FastOps):
    """FastOps with Adam's update as one compiled loop (fast/cpu_kernels.py), and a
    model's conv layers in the forms above (``layer_forms``, built by layers.Spec.build).

    The Adam loop does FastOps's operations in the same order, so the two give
    the same bits (but that the loop sets a subnormal m or v to 0 at every
    step, FastOps at every 16th: cpu_kernels.py); it reads and writes each
    vector once instead of twelve times. Numba is imported at the first update
    or the first pass of a conv layer, not when a model is built: sampling or
    evaluating a dense model never loads it. Arrays the loop cannot take (not
    contiguous, mixed dtypes, neither float32 nor float64), or a Numba that
    does not load, get FastOps's update.
    """

    name = "numba"
    description = "plain forms; Adam, conv layers' im2col and col2im: compiled loops (Numba)"
    layer_forms = {Conv2d: CompiledConv2d, ConvTranspose2d: CompiledConvTranspose2d}

    def describe(self, model) -> str:
        """A dense model has no conv layer: only its Adam update is compiled."""
        if getattr(model, "arch", "dense") == "conv":
            return self.description
        return "plain forms; Adam: compiled loop (Numba)"

    def adam_update(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
        arrays = (p, g, m, v)
        fits = (p.dtype in FLOATS
                and all(x.flags.c_contiguous and x.dtype == p.dtype for x in arrays))
        kernels = numba_kernels(p.dtype) if fits else None
        if kernels is None:
            return super().adam_update(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                       step=step, weight_decay=weight_decay)
        a, e = adam_constants(lr, beta1, beta2, eps, step)       # docs/math.md §7
        # Every constant in the arrays' dtype, as NumPy's operators take a Python float
        # (the optimizer's settings are Python floats; a NumPy float64 lr would make
        # FastOps compute in float64, and the two forms would then differ).
        cast = p.dtype.type
        kernels.adam(*(arr.reshape(-1) for arr in arrays),       # views, (P,)
                     cast(a), cast(e), cast(1 - beta1), cast(1 - beta2), cast(weight_decay),
                     np.finfo(p.dtype).tiny)                    # m, v below it: 0 (cpu_kernels)


@functools.cache
def numba_kernels(dtype=np.float64):
    """cpu_kernels's loops (.adam, .im2col, .col2im), each compiled for ``dtype`` once; None
    (said once) if Numba does not load or cannot compile them.

    The first calls run here, where a failure can still be caught, not at a
    step; whatever fails then fails before any array of a model is touched,
    and Adam and the conv layers run in NumPy's form: a broken optional extra
    must never stop a run. So every exception counts, not only ImportError: a
    Numba built for another NumPy raises AttributeError (``module 'numpy' has
    no attribute 'long'``), a damaged install SystemError, one without a
    writable cache RuntimeError ("no locator available"), an unsupported CPU
    or LLVM a compile error.
    """
    dtype = np.dtype(dtype)
    try:
        from .cpu_kernels import adam_kernel, col2im_kernel, im2col_kernel   # imports Numba
        # A first call of each loop, on the smallest arrays it takes, compiles it for dtype
        # (or loads it from Numba's cache).
        one, image, cols = (np.zeros((1,) * n, dtype) for n in (1, 4, 6))   # image, cols: 4-D, 6-D
        adam_kernel(one, one.copy(), one.copy(), one.copy(), *[dtype.type(0)] * 6)
        im2col_kernel(image, cols, 1, 1, 0)
        col2im_kernel(cols, image, 1, 1, 0)
    except Exception as e:                      # noqa: BLE001 (see above: any failure falls back)
        warnings.warn(f"Numba is installed but does not load ({type(e).__name__}: {e}); Adam "
                      "and the conv layers' im2col and col2im run in NumPy's form. Reinstall it "
                      "(pip install --force-reinstall numba) or uninstall it.",
                      RuntimeWarning, stacklevel=3)
        return None
    return types.SimpleNamespace(adam=adam_kernel, im2col=im2col_kernel, col2im=col2im_kernel)
