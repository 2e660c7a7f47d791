"""cupyx on the CPU: pinned host memory, and CuPy's guard against waits.

``allow_synchronize(False)`` is CuPy's own: inside it, anything that waits for
the GPU raises ``DeviceSynchronized``. The same ``with`` block therefore checks
a training step on a real GPU and on the stand-in.
"""

import numpy as np

from . import _names as names
from ._functions import not_modelled
from ._ledger import LEDGER, DeviceSynchronized  # noqa: F401 (cupyx.DeviceSynchronized)


def allow_synchronize(allow):
    return LEDGER.allow_synchronize(allow)


def empty_pinned(shape, dtype=float, order="C"):
    return np.empty(shape, dtype=dtype, order=order)


def zeros_pinned(shape, dtype=float, order="C"):
    return np.zeros(shape, dtype=dtype, order=order)


def empty_like_pinned(a, dtype=None, order="K", subok=None, shape=None):
    return np.empty(a.shape if shape is None else shape, dtype=dtype or a.dtype)


def zeros_like_pinned(a, dtype=None, order="K", subok=None, shape=None):
    return np.zeros(a.shape if shape is None else shape, dtype=dtype or a.dtype)


errstate, geterr, seterr = np.errstate, np.geterr, np.seterr

for _name in names.CUPYX - set(globals()):
    globals()[_name] = not_modelled(_name, "cupyx")
del _name
