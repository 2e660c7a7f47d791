"""The methods of the stand-in's ndarray: those of cupy.ndarray (names.NDARRAY), no others.

``a.sum(axis=1)`` runs NumPy's method on the wrapped array and counts what CuPy
would queue: one launch for a reduction, a sort, a copy or a fill; none for a
view (reshape, transpose, squeeze... when NumPy's result shares a's memory);
several where CuPy runs several kernels (var, std). A method that NumPy has
and CuPy does not (a.tofile is CuPy's, a.resize is not) is an AttributeError,
as on CuPy.
"""

from __future__ import annotations

import numpy as np

from . import _names as names
from ._array import ndarray, unsupported, wrap
from ._functions import LAUNCHES, _shares, matmul, not_modelled, unwrap
from ._ledger import LEDGER

VIEW_METHODS = frozenset("reshape ravel squeeze swapaxes transpose view diagonal".split())
ONE_LAUNCH = frozenset("""
    all any argmax argmin argpartition argsort clip conj conjugate copy cumprod cumsum
    flatten max mean min partition prod ptp round searchsorted sort sum trace choose
""".split())
HOST_INDICES = frozenset("take put repeat".split())   # CuPy uploads host indices (cupy.array)
WAIT_METHODS = frozenset({"nonzero", "compress"})     # their output size is read back


def method(a: ndarray, name: str):
    """The bound method ``a.<name>`` as CuPy has it."""
    if name not in names.NDARRAY:
        raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}' (the stand-in "
                             f"offers what CuPy {names.CUPY_VERSION} offers)")
    if name == "dot":
        return lambda b, out=None: matmul(a, b, out=out)
    if name == "astype":
        return lambda dtype, order="K", casting=None, subok=None, copy=True: _astype(
            a, dtype, order, copy)
    if name == "fill":
        return lambda value: _fill(a, value)
    if name in ("var", "std") or name in VIEW_METHODS | ONE_LAUNCH | HOST_INDICES | WAIT_METHODS:
        return _counted(a, name)
    if name in ("scatter_add", "scatter_max", "scatter_min"):
        ufunc = {"scatter_add": np.add, "scatter_max": np.maximum, "scatter_min": np.minimum}[name]
        return lambda slices, value: (LEDGER.record("launch", name),
                                      ufunc.at(a._a, unwrap(slices, host="take"),
                                               unwrap(value)))[1]
    return not_modelled(name, "cupy.ndarray")


def _counted(a, name):
    def run(*args, **kwargs):
        host = "take" if name in HOST_INDICES else "refuse"
        args, kwargs = unwrap(args, host=host), unwrap(kwargs, host=host)
        if host == "take" and any(isinstance(x, (np.ndarray, list)) for x in args[:1]):
            LEDGER.record("upload", f"{name} indices")
        if name in WAIT_METHODS or name == "repeat" and isinstance(args[0], np.ndarray):
            LEDGER.record("wait", f"{name} (its output size)")
        result = getattr(a._a, name)(*args, **kwargs)
        if name in VIEW_METHODS:
            if not _shares(result, [a._a]):
                LEDGER.record("launch", f"{name} (a copy)")
        else:
            for _ in range(LAUNCHES.get(name, 1)):
                LEDGER.record("launch", name)
        if name == "sort" or name == "put":
            return None
        if "out" in kwargs and kwargs["out"] is not None:
            return _find_out(result, kwargs["out"])
        return wrap(result)

    run.__name__ = name
    return run


def _find_out(result, out):
    o = ndarray.__new__(ndarray)
    o._a = out
    return o


def _astype(a, dtype, order, copy):
    if not copy and np.dtype(dtype) == a.dtype:
        return a
    LEDGER.record("launch", "astype")
    return wrap(a._a.astype(dtype, order=order))


def _fill(a, value):
    if isinstance(value, np.ndarray):
        raise unsupported(value)
    LEDGER.record("launch", "fill")
    a._a.fill(value._a if isinstance(value, ndarray) else value)
