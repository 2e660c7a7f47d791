"""The stand-in's ufuncs and functions: NumPy's, with CuPy's refusals and CuPy's costs.

Each function of the cupy namespace (names.FUNCTIONS) is NumPy's function of
the same name, run on the unwrapped arrays, with:

- the arguments CuPy refuses refused: a numpy.ndarray anywhere among the
  arguments raises ``TypeError: Unsupported type <class 'numpy.ndarray'>``,
  except in the functions that copy host data to the device (cupy.asarray,
  cupy.array...), where it is an upload, and those that write files;
- what CuPy would queue on the GPU counted in LEDGER: one launch per call
  (a kernel, a cuBLAS or cuRAND call), none for a view (reshape, transpose,
  broadcast_to... when NumPy's result shares the input's memory), a few for
  the calls CuPy makes of several kernels (VIEWS, LAUNCHES below), and a wait
  for those whose output size CuPy must read back (nonzero, unique...: WAITS);
- results wrapped: a NumPy scalar result becomes a 0-d device array, as CuPy
  returns one.

The counts model CuPy's calls, not the GPU: cuBLAS may run two kernels for one
GEMM, and CuPy compiles a kernel at its first use. On a device, Nsight Systems
or torch.profiler (benchmarks/speed/cuda_floors.py) counts what really runs.
"""

from __future__ import annotations

import numpy as np

from ._array import garbage, kernel_arg, ndarray, unsupported, wrap
from ._ledger import LEDGER

# Functions that return a view of their input where NumPy does, and copy otherwise.
VIEWS = frozenset("""
    reshape ravel transpose swapaxes moveaxis rollaxis squeeze expand_dims atleast_1d
    atleast_2d atleast_3d broadcast_to broadcast_arrays diagonal split array_split hsplit
    vsplit dsplit flip fliplr flipud real imag permute_dims matrix_transpose rot90
    asarray asanyarray ascontiguousarray asfortranarray require as_strided sliding_window_view
""".split())
# Functions that queue nothing: metadata, dtypes, printing options, empty allocations.
FREE = frozenset("""
    shape ndim size result_type can_cast promote_types min_scalar_type isscalar iscomplexobj
    isrealobj isfortran may_share_memory shares_memory broadcast_shapes iterable typename
    isdtype issubdtype common_type mintypecode get_printoptions set_printoptions printoptions
    base_repr binary_repr format_float_positional format_float_scientific show_config
    empty empty_like
""".split())
# Functions that take host data and put it on the device (an upload each).
UPLOADS = frozenset("""
    array asarray asanyarray ascontiguousarray asfortranarray asarray_chkfinite require
    frombuffer fromfile fromiter fromstring load loadtxt genfromtxt copyto
""".split())
# Functions that copy device arrays to the host to write or print them (a wait each).
READS = frozenset("save savez savez_compressed savetxt array2string array_repr array_str".split())
# Functions whose output size CuPy reads back from the GPU before it can allocate the output.
WAITS = frozenset("""
    nonzero flatnonzero argwhere unique unique_all unique_counts unique_inverse unique_values
    extract compress setdiff1d intersect1d union1d setxor1d trim_zeros bincount
""".split())
# Calls that CuPy makes of several kernels (its own source: _routines_statistics.pyx...).
LAUNCHES = {"var": 4, "std": 5, "nanvar": 5, "nanstd": 6, "median": 2, "percentile": 2,
            "quantile": 2, "average": 2, "cov": 4, "corrcoef": 6, "pad": 2, "histogram": 2,
            "allclose": 3, "array_equal": 2, "isclose": 2}
# Functions that CuPy runs as one ufunc or elementwise kernel: their array arguments must be
# device arrays or scalars, as a ufunc's (no lists, no host arrays).
STRICT = frozenset("where clip around round isclose allclose".split())
# CuPy returns a 0-d device array where NumPy returns a Python bool.
DEVICE_BOOL = frozenset("allclose array_equal array_equiv".split())


def unwrap(x, *, host="refuse", what=""):
    """Stand-in arrays to NumPy arrays, through lists, tuples and dicts; host arrays as told:
    "refuse" them (CuPy's TypeError), "take" them, or "read" (each device array is a wait)."""
    if isinstance(x, ndarray):
        if host == "read":
            LEDGER.record("wait", what)
        return x._a
    if isinstance(x, np.ndarray):
        if host == "refuse":
            raise unsupported(x)
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(v, host=host, what=what) for v in x)
    if isinstance(x, dict):
        return {k: unwrap(v, host=host, what=what) for k, v in x.items()}
    return x


def _shares(result, inputs):
    outs = result if isinstance(result, (tuple, list)) else (result,)
    return all(isinstance(o, np.ndarray) and any(np.may_share_memory(o, i) for i in inputs)
               for o in outs)


def function(name, np_func):
    """cupy.<name>: NumPy's np_func with CuPy's refusals, waits and launches."""
    host = ("take" if name in UPLOADS or name in FREE else "read" if name in READS
            else "refuse")
    data_at = 1 if name == "copyto" else 0          # copyto(dst, src): src may be host data

    def f(*args, **kwargs):
        originals = [a for a in args if isinstance(a, ndarray)]
        devices = [a._a for a in originals]
        if name in UPLOADS and len(args) > data_at and not isinstance(args[data_at], ndarray):
            LEDGER.record("upload", name)
            devices = []
        if name in STRICT:
            for a in args:
                a is None or kernel_arg(a)           # refuses lists and host arrays, as a ufunc
        args, kwargs = unwrap(args, host=host, what=name), unwrap(kwargs, host=host, what=name)
        if name in WAITS:
            LEDGER.record("wait", f"{name} (its output size)")
        result = np_func(*args, **kwargs)
        if name in ("empty", "empty_like"):
            garbage(result)                          # what a GPU's fresh memory may hold
        if name in VIEWS:
            if devices and not _shares(result, devices):
                LEDGER.record("launch", f"{name} (a copy)")
        elif name not in FREE and name not in READS and (devices or name not in UPLOADS):
            for _ in range(LAUNCHES.get(name, 1)):
                LEDGER.record("launch", name)
        if name in DEVICE_BOOL:
            result = np.bool_(result)
        for a in originals:                          # cupy.asarray(a) is a itself
            if result is a._a:
                return a
        return result if name in READS else wrap(result)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"cupy.{name} on the CPU stand-in (NumPy's {name}, counted)."
    return f


def matmul(a, b, out=None, **kwargs):
    """cupy.matmul: one cuBLAS call, plus a copy of each operand cuBLAS cannot read as it is."""
    for x in (a, b):
        if not isinstance(x, ndarray):
            raise unsupported(x)
        if x.ndim >= 2 and not (x.flags.c_contiguous or x.flags.f_contiguous):
            LEDGER.record("launch", "matmul (a copy of a strided operand)")
    if a.dtype != b.dtype:
        LEDGER.record("launch", "matmul (a cast to the common dtype)")
    LEDGER.record("launch", "matmul")
    result = np.matmul(a._a, b._a, out=None if out is None else out._a, **kwargs)
    return out if out is not None else wrap(result)


def dot(a, b, out=None):
    return matmul(a, b, out=out) if a.ndim >= 1 and b.ndim >= 1 else wrap(
        np.dot(kernel_arg(a), kernel_arg(b)))


class ufunc:
    """cupy.ufunc: one launch per call; host arrays refused as CuPy refuses them."""

    def __init__(self, name, np_ufunc):
        self.name = self.__name__ = name
        self._f = np_ufunc
        self.nin, self.nout, self.nargs = np_ufunc.nin, np_ufunc.nout, np_ufunc.nargs
        self.types = np_ufunc.types

    def __repr__(self):
        return f"<ufunc '{self.name}'>"

    def _run(self, method, args, kwargs, what):
        args = [kernel_arg(a) for a in args]
        out = kwargs.pop("out", None)
        if isinstance(out, tuple):
            out = out[0] if len(out) == 1 else out
        if out is not None:
            kwargs["out"] = tuple(kernel_arg(o) for o in out) if isinstance(out, tuple) \
                else kernel_arg(out)
            if isinstance(kwargs["out"], (int, float)):
                raise TypeError("out must be a cupy.ndarray")
        result = getattr(self._f, method)(*args, **kwargs) if method else self._f(*args, **kwargs)
        written = kwargs["out"] if out is not None and not isinstance(out, tuple) else result
        if isinstance(written, tuple) or np.size(written):
            LEDGER.record("launch", what)               # CuPy launches nothing for no element
        if out is not None and not isinstance(out, tuple):
            return out
        return wrap(result)

    def __call__(self, *args, **kwargs):
        return self._run(None, args, kwargs, self.name)

    def reduce(self, *args, **kwargs):
        return self._run("reduce", args, kwargs, f"{self.name}.reduce")

    def accumulate(self, *args, **kwargs):
        return self._run("accumulate", args, kwargs, f"{self.name}.accumulate")

    def reduceat(self, *args, **kwargs):
        return self._run("reduceat", args, kwargs, f"{self.name}.reduceat")

    def outer(self, *args, **kwargs):
        return self._run("outer", args, kwargs, f"{self.name}.outer")

    def at(self, a, indices, b=None):
        LEDGER.record("launch", f"{self.name}.at")
        idx = unwrap(indices, host="upload", what=f"{self.name}.at indices")
        args = (kernel_arg(a), idx) + (() if b is None else (kernel_arg(b),))
        self._f.at(*args)


def not_modelled(name, where="cupy"):
    """A name CuPy has and the stand-in does not run: calling it says so."""
    def f(*args, **kwargs):
        raise NotImplementedError(f"{where}.{name} is not modelled by the CPU stand-in for "
                                  "CuPy (tests/cupy_standin): add it there")
    f.__name__ = name
    return f
