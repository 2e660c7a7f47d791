"""The stand-in's ndarray: a NumPy array kept out of NumPy's reach, as CuPy's is.

What CuPy 14.2 does (cupy/_core/core.pyx, _kernel.pyx, _routines_indexing.pyx),
and so this class does:

- ``__array__`` raises TypeError: np.asarray(a), np.testing on a, a NumPy array
  built from a list of them all fail. ``.get()``, ``cupy.asnumpy`` copy explicitly.
- NumPy ufuncs called on it (np.exp(a)) run CuPy's ufunc of the same name and
  return a device array; NumPy functions (np.mean(a)) dispatch to CuPy's function
  of the same name, and fail where CuPy has none.
- A host array (numpy.ndarray, even 0-d, or a list) inside a ufunc or an operator is
  refused: ``TypeError: Unsupported type <class 'numpy.ndarray'>``. Python and
  NumPy scalars are taken. Indices and values given to a[...] = ... and take may
  be host arrays: CuPy uploads them (counted as uploads).
- float(a), int(a), bool(a), a.item(), a.get(), repr(a) wait for the GPU.
- No ``__index__`` and no ``__contains__``: range(a) and ``x in a`` fail as on CuPy.
"""

from __future__ import annotations

import numpy as np

from ._ledger import LEDGER

_SCALARS = (bool, int, float, complex, np.generic)

# the message CuPy gives (core.pyx, __array__)
IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")


def unsupported(x):
    return TypeError(f"Unsupported type {type(x)}")


def wrap(a):
    """A stand-in array around the NumPy array (or scalar) ``a``; other values unchanged."""
    if isinstance(a, np.ndarray):
        out = ndarray.__new__(ndarray)
        out._a = a
        return out
    if isinstance(a, np.generic):            # CuPy's reductions return 0-d arrays, not scalars
        return wrap(np.asarray(a))
    if isinstance(a, tuple):
        return tuple(wrap(x) for x in a)
    if isinstance(a, list):
        return [wrap(x) for x in a]
    return a


def kernel_arg(x):
    """The NumPy value of a kernel argument, refused as CuPy's _preprocess_arg refuses it."""
    if isinstance(x, ndarray):
        return x._a
    if type(x) in (bool, int, float, complex) or isinstance(x, np.generic):
        return x
    raise unsupported(x)


def host_ok(x, what):
    """An index or value CuPy converts with cupy.array(): host arrays are uploaded."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, tuple):
        return tuple(host_ok(v, what) for v in x)
    if isinstance(x, (np.ndarray, list)):
        LEDGER.record("upload", what)
        return np.asarray([host_ok(v, what) for v in x] if isinstance(x, list) else x)
    return x


def _index(key):
    """(NumPy index, advanced?, boolean mask?) for a[key]."""
    if not isinstance(key, tuple):
        key = (key,)
    out, advanced, mask = [], False, False
    for k in key:
        if isinstance(k, (ndarray, np.ndarray, list)):
            k = host_ok(k, "index")
            advanced = True
            mask = mask or k.dtype == bool
        elif isinstance(k, (bool, np.bool_)):
            advanced = mask = True
        out.append(k)
    return tuple(out), advanced, mask


def garbage(a: np.ndarray) -> np.ndarray:
    """``a`` filled as memory nobody wrote may hold (cupy.empty, a kernel's own outputs):
    NaN, the largest integer, True. A GPU gives whatever was there before, often zeros,
    so a kernel or caller that reads before writing would pass by luck; here it shows."""
    if a.dtype.kind in "fc":
        a.fill(np.nan)
    elif a.dtype.kind in "iu":
        a.fill(np.iinfo(a.dtype).max)
    elif a.dtype.kind == "b":
        a.fill(True)
    return a


class ndarray:
    """cupy.ndarray on the CPU: the values live in a NumPy array that NumPy cannot reach."""

    __slots__ = ("_a",)
    __array_priority__ = 100          # as CuPy's
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = garbage(np.empty(shape, dtype=dtype, order=order))   # no launch, unwritten

    # -- what CuPy refuses or waits for -------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT)

    def get(self, stream=None, order="C", out=None, blocking=True):
        LEDGER.record("wait" if blocking else "download", "get()")
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray: {type(arr)}")
        LEDGER.record("upload", "set()")
        self._a[...] = arr

    def _host(self, what):
        LEDGER.record("wait", what)
        return self._a

    def item(self):
        return self._host("item()").item()

    def tolist(self):
        return self._host("tolist()").tolist()

    def tobytes(self, order="C"):
        return self._host("tobytes()").tobytes(order)

    def __float__(self):
        return float(self._host("float()"))

    def __int__(self):
        return int(self._host("int()"))

    def __complex__(self):
        return complex(self._host("complex()"))

    def __bool__(self):
        return bool(self._host("bool()"))

    def __repr__(self):
        return repr(self._host("repr()"))

    def __str__(self):
        return str(self._host("str()"))

    def __format__(self, spec):
        return format(self._host("format()"), spec)

    def __reduce__(self):
        from . import array
        return array, (self.get(),)

    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    # -- NumPy's protocols, answered as CuPy answers them ----------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _ufuncs as ufuncs
        mine = ufuncs.get(ufunc.__name__)
        if mine is None:
            return NotImplemented
        if "out" in kwargs:
            out = kwargs["out"]
            if len(out) != 1:
                raise ValueError("The 'out' parameter must have exactly one array value")
            kwargs["out"] = out[0]
            inout = inputs + out
        else:
            inout = inputs
        if not all(type(x) in (bool, int, float, complex) or isinstance(x, (np.generic, ndarray,
                                                                         np.ndarray))
                   for x in inout):
            return NotImplemented
        if ufunc.__name__ in ("greater", "greater_equal", "less", "less_equal", "equal",
                              "not_equal"):     # CuPy's workaround for numpy/numpy#12142
            inputs = tuple(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x
                           for x in inputs)
        target = mine if method == "__call__" else getattr(mine, method, None)
        return NotImplemented if target is None else target(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        import sys
        module = sys.modules[__package__]
        try:
            for part in func.__module__.split(".")[1:]:
                module = getattr(module, part)
            mine = getattr(module, func.__name__)
        except AttributeError:
            return NotImplemented
        if not all(issubclass(t, (ndarray, np.ndarray)) for t in types):
            return NotImplemented
        return mine(*args, **kwargs)

    # -- attributes ----------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: wrap(self._a.T))
    mT = property(lambda self: wrap(np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: wrap(self._a.real))
    imag = property(lambda self: wrap(self._a.imag))
    base = property(lambda self: None if self._a.base is None else wrap(self._a.base))

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def data(self):
        from .cuda import MemoryPointer
        return MemoryPointer(self._a)

    @property
    def device(self):
        from .cuda import Device
        return Device(0)

    # -- element access ------------------------------------------------------------
    def __getitem__(self, key):
        index, advanced, mask = _index(key)
        if mask:
            LEDGER.record("wait", "boolean mask: its count")   # the output's size
        if advanced:
            LEDGER.record("launch", "take (advanced index)")
        return wrap(self._a[index])

    def __setitem__(self, key, value):
        index, _, _ = _index(key)
        if self._a[index].size:                     # CuPy launches nothing for no element
            LEDGER.record("launch", "setitem")
        self._a[index] = host_ok(value, "setitem value")

    # -- operators: each one ufunc, one launch ---------------------------------------
    def _op(name, reflected=False, inplace=False):
        def op(self, other):
            from . import _ufuncs as ufuncs
            if isinstance(other, (list, tuple)) or not (
                    isinstance(other, (ndarray, np.ndarray) + _SCALARS)):
                return NotImplemented
            f = ufuncs[name]
            if inplace:
                return f(self, other, out=self)
            return f(other, self) if reflected else f(self, other)
        op.__name__ = name
        return op

    for _name, _ufunc in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                          ("truediv", "true_divide"), ("floordiv", "floor_divide"),
                          ("mod", "remainder"), ("pow", "power"), ("and", "bitwise_and"),
                          ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                          ("lshift", "left_shift"), ("rshift", "right_shift")]:
        locals()[f"__{_name}__"] = _op(_ufunc)
        locals()[f"__r{_name}__"] = _op(_ufunc, reflected=True)
        locals()[f"__i{_name}__"] = _op(_ufunc, inplace=True)
    def _compare(name):
        def op(self, other):
            from . import _ufuncs as ufuncs
            if isinstance(other, np.ndarray) and other.ndim == 0:
                other = other.item()                    # CuPy's workaround for numpy<1.13
            if other is None and name in ("equal", "not_equal"):
                LEDGER.record("launch", "zeros" if name == "equal" else "ones")
                return wrap(np.full(self._a.shape, name == "not_equal"))
            if not isinstance(other, (ndarray, np.ndarray) + _SCALARS):
                return NotImplemented
            return ufuncs[name](self, other)
        op.__name__ = name
        return op

    for _name, _ufunc in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                          ("ge", "greater_equal"), ("eq", "equal"), ("ne", "not_equal")]:
        locals()[f"__{_name}__"] = _compare(_ufunc)
    del _name, _ufunc

    def __matmul__(self, other):
        from . import matmul
        return matmul(self, other)

    def __rmatmul__(self, other):
        from . import matmul
        return matmul(other, self)

    def __neg__(self):
        from . import _ufuncs as ufuncs
        return ufuncs["negative"](self)

    def __pos__(self):
        from . import _ufuncs as ufuncs
        return ufuncs["positive"](self)

    def __abs__(self):
        from . import _ufuncs as ufuncs
        return ufuncs["absolute"](self)

    def __invert__(self):
        from . import _ufuncs as ufuncs
        return ufuncs["invert"](self)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    # -- methods: those of cupy.ndarray (names.NDARRAY), through NumPy's ---------------
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        from ._methods import method
        return method(self, name)
