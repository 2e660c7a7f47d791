"""Adam's update compiled for the CPU with Numba: one pass over the parameters.

``adam_kernel(p, g, m, v, a, e, 1 - beta1, 1 - beta2, weight_decay)`` runs
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
    p -= (m / (sqrt(v) + e)) a        sqrt, add, divide, multiply, subtract

Two options of ``numba.njit`` matter. ``error_model="numpy"``: a division
by zero gives inf, as in NumPy, instead of raising ZeroDivisionError; the
check that raising needs would keep LLVM from running the loop 16 floats
at a time (AVX-512). ``fastmath`` stays off: no reordering, no fused
multiply-add, so each line rounds exactly as NumPy's operators do.
``cache=True`` keeps the compiled loop on disk (in __pycache__, or Numba's
user cache), so only the first run on a machine compiles it; every run
still spends about 0.8 s loading Numba and the cached loop.

Numba is the optional "numba" extra (``pip install minivae[numba]``);
``minivae.fast.forms.NumbaOps`` imports this module at its first update, and
only when Numba is installed.

Shapes: P parameters.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(error_model="numpy", cache=True)
def adam_kernel(p, g, m, v, a, e, one_m_b1, one_m_b2, wd):   # pragma: no cover (compiled)
    """One Adam step on 1-D arrays (P,), in place on p, m and v; g is read only."""
    for i in range(p.size):
        gi = g[i] + wd * p[i] if wd != 0 else g[i]       # g + weight_decay p (L2), as torch
        mi = m[i] + one_m_b1 * (gi - m[i])               # m = b1 m + (1 - b1) g
        vi = v[i] + one_m_b2 * (gi * gi - v[i])          # v = b2 v + (1 - b2) g^2
        m[i] = mi
        v[i] = vi
        p[i] -= (mi / (np.sqrt(vi) + e)) * a             # bias corrections folded into a, e
