"""A CPU stand-in for CuPy, for the tests: refuses what CuPy refuses, counts what it queues.

minivae's GPU path (device="cuda") is CuPy code, and most of what can go wrong
with it shows without a GPU: a NumPy call on a device array, a host array
mixed into device arithmetic, a generator method CuPy lacks, a kernel body
that computes the wrong thing, a step that waits for the GPU or launches too
many kernels. This package is imported as ``cupy`` would be, and
``minivae.backend.use_cupy(cupy_standin, cupy_standin._cupyx)`` makes minivae use it; the
tests do so for every ``cuda``-marked test on a machine without a GPU
(tests/conftest.py). Nothing in minivae imports it.

    ndarray              a NumPy array NumPy cannot reach: __array__ raises     _array.py
    ufuncs, functions    NumPy's, with CuPy's refusals, waits and launches      _functions.py
    a.sum(), a.astype()  cupy.ndarray's methods, no others                      _methods.py
    ElementwiseKernel    runs its own CUDA C++ body, translated to NumPy        _kernels.py
    random.RandomState   CuPy's methods on NumPy's PCG64                        random.py
    cuda                 Device (9.0), Stream, Event, pools, memGetInfo, OOM    cuda.py
    cupyx                empty_pinned, allow_synchronize                        _cupyx.py
    LEDGER               every launch, wait and copy, with its line             _ledger.py

The public names are CuPy 14.2's and no others (_names.py), so code that
works here does not lean on a name CuPy lacks; a name CuPy has and the
stand-in does not run raises NotImplementedError when called. The tests reach
the rest through the private modules: ``from cupy_standin._ledger import LEDGER``.

What it cannot show: a GPU's numerics (its own tanh, exp, FMA contraction,
TF32, cuBLAS's summation order), cuRAND's numbers, NVRTC compiling the kernels
(tests/fast/test_kernels_compile.py does that), the memory pool, concurrency
and anything timed.
"""

import numpy as _numpy

from . import _core, _cupyx, cuda, random  # noqa: F401 (cupy._core, cupy.cuda, cupy.random)
from . import _names
from ._array import ndarray  # noqa: F401
from ._functions import dot, matmul, ufunc  # noqa: F401
from ._functions import function as _function, not_modelled as _not_modelled
from ._kernels import ElementwiseKernel, RawKernel  # noqa: F401

__version__ = _names.CUPY_VERSION + "+cpu-standin"

_ufuncs = {name: ufunc(name, getattr(_numpy, name)) for name in _names.UFUNCS
           if isinstance(getattr(_numpy, name, None), _numpy.ufunc)}
globals().update(_ufuncs)
for _name in _names.UFUNCS - set(_ufuncs):          # NumPy's functions, CuPy's ufuncs (i0, sinc)
    globals()[_name] = (_function(_name, getattr(_numpy, _name)) if hasattr(_numpy, _name)
                        else _not_modelled(_name))

_SPECIAL = {"matmul", "dot", "asnumpy", "get_array_module", "is_available",
            "get_default_memory_pool", "get_default_pinned_memory_pool"}
for _name in _names.FUNCTIONS - _SPECIAL:
    _f = getattr(_numpy, _name, None)
    globals()[_name] = _function(_name, _f) if callable(_f) else _not_modelled(_name)

for _name in _names.CLASSES - {"ndarray", "ufunc", "ElementwiseKernel", "RawKernel"}:
    _f = getattr(_numpy, _name, None)
    globals()[_name] = _f if isinstance(_f, type) else _not_modelled(_name)

for _name in _names.CONSTANTS - {"c_", "r_", "mgrid", "ogrid"}:   # those four build NumPy arrays
    globals()[_name] = getattr(_numpy, _name, None) or _not_modelled(_name)


class _Linalg:
    """cupy.linalg: NumPy's linalg functions that CuPy has, each counted as one call."""

    LinAlgError = _numpy.linalg.LinAlgError


linalg = _Linalg()
for _name in _names.LINALG - {"LinAlgError"}:
    _f = getattr(_numpy.linalg, _name, None)
    setattr(linalg, _name, _function(_name, _f) if callable(_f)
            else _not_modelled(_name, "cupy.linalg"))
linalg.matmul = matmul


class _Lib:
    """cupy.lib: stride_tricks' views (as_strided, sliding_window_view), no launch."""


lib = _Lib()
lib.stride_tricks = _Lib()
for _name in ("as_strided", "sliding_window_view"):
    setattr(lib.stride_tricks, _name, _function(_name, getattr(_numpy.lib.stride_tricks, _name)))
for _name in _names.MODULES - set(globals()):       # fft, polynomial, testing...
    globals()[_name] = _not_modelled(_name)
del _name, _f


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A NumPy copy of ``a``: waits for the GPU (not with blocking=False)."""
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out, blocking=blocking)
    return _numpy.asarray(a, order=order)


def get_array_module(*args):
    import sys
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _numpy


def is_available():
    return True


_POOL, _PINNED_POOL = cuda.MemoryPool(), cuda.PinnedMemoryPool()


def get_default_memory_pool():
    return _POOL


def get_default_pinned_memory_pool():
    return _PINNED_POOL
