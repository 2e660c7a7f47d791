"""The speed-ups, standing apart: faster forms of minivae/ops.py, chosen once per model.

Nothing here changes the maths. Each fast form has the signature of the
plain form in ``ops.Ops`` it replaces, tests/test_ops.py checks that the
two agree, and benchmarks/README.md records what each one saves (measured
with benchmarks/speed/profile_step.py). A form stays only where it pays for
itself: more than 3% of a training step.

    choose_ops(xp, fast=True)   the Ops a model or optimizer is built with:
        NumPy, fast    NumbaOps when Numba is installed (the "numba" extra): Adam's
                       update compiled into one pass (fast/cpu_kernels.py);
                       without it FastOps: Adam's update in place (below)
        CuPy,  fast    cuda_kernels.CudaOps: fused GPU kernels
        fast=False     ops.Ops: the plain forms, on either device

On the CPU only Adam's update has a fast form: a model's own forms
(reparameterization, the KL) are the plain ones whichever set it gets.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings

import numpy as np

from ..ops import Ops, adam_constants

# Adam runs over the flat vector in chunks of this many elements: the passes
# of the update then reread a chunk (p, g, m, v and one scratch array, 1.3 MB
# in float32) from the L2 cache instead of rereading the whole 2.6 MB vectors
# from L3 or memory each time (chunks of 32k to 128k all time within 6% of 64k
# on the machine of benchmarks/CHANGELOG.md, 2026-11-21; 16k is 23% slower).
ADAM_CHUNK = 65536


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
            np.sqrt(v[s], out=t)
            t += e
            np.divide(m[s], t, out=t)
            t *= a
            p[s] -= t                                  # p -= a m / (sqrt(v) + e)


class NumbaOps(FastOps):
    """FastOps with Adam's update as one compiled loop (fast/cpu_kernels.py).

    The loop does FastOps's operations in the same order, so the two give
    the same bits; it reads and writes each vector once instead of twelve
    times. Numba is imported at the first update, not when a model is
    built: sampling or evaluating a model never loads it. Arrays the loop
    cannot take (not contiguous, mixed dtypes, neither float32 nor float64),
    or a Numba that does not load, get FastOps's update.
    """

    name = "numba"
    description = "plain forms; Adam: compiled loop (Numba)"

    def adam_update(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
        arrays = (p, g, m, v)
        fits = (p.dtype in (np.float32, np.float64)
                and all(x.flags.c_contiguous and x.dtype == p.dtype for x in arrays))
        kernel = numba_adam_kernel(p.dtype) if fits else None
        if kernel is None:
            return super().adam_update(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                       step=step, weight_decay=weight_decay)
        a, e = adam_constants(lr, beta1, beta2, eps, step)       # docs/math.md §7
        # Every constant in the arrays' dtype, as NumPy's operators take a Python float
        # (the optimizer's settings are Python floats; a NumPy float64 lr would make
        # FastOps compute in float64, and the two forms would then differ).
        cast = p.dtype.type
        kernel(*(arr.reshape(-1) for arr in arrays),             # views, (P,)
               cast(a), cast(e), cast(1 - beta1), cast(1 - beta2), cast(weight_decay))


@functools.cache
def numba_adam_kernel(dtype=np.float64):
    """cpu_kernels.adam_kernel, imported and compiled for ``dtype`` once; None (said once)
    if Numba does not load or cannot compile it.

    Whatever fails here fails before any parameter is touched, and Adam then
    runs in NumPy's form: a broken optional extra must never stop a run. So
    every exception counts, not only ImportError: a Numba built for another
    NumPy raises AttributeError (``module 'numpy' has no attribute 'long'``),
    a damaged install SystemError, one without a writable cache RuntimeError
    ("no locator available"), an unsupported CPU or LLVM a compile error.
    """
    dtype = np.dtype(dtype)
    try:
        from .cpu_kernels import adam_kernel   # imports Numba
        # A first call on (1,) arrays compiles the loop for dtype (or loads it from
        # Numba's cache) now, where a failure can still be caught, not at a step.
        one = np.zeros(1, dtype)
        adam_kernel(one, one.copy(), one.copy(), one.copy(), *[dtype.type(0)] * 5)
    except Exception as e:                      # noqa: BLE001 (see above: any failure falls back)
        warnings.warn(f"Numba is installed but does not load ({type(e).__name__}: {e}); Adam "
                      "runs in NumPy's form. Reinstall it (pip install --force-reinstall numba) "
                      "or uninstall it.", RuntimeWarning, stacklevel=3)
        return None
    return adam_kernel
