"""The GPU's switches: TF32 for float32 matrix products, and reads that do not wait.

    enable_tf32()          let cuBLAS round float32 GEMM inputs to TF32
    HostCopy(a)            read a device value without waiting for the GPU

Neither changes what is computed on the CPU: enable_tf32 only sets a variable
there, and a HostCopy of a NumPy array is ready at once.
"""

from __future__ import annotations

import ctypes
import importlib
import os

import numpy as np

from ..backend import cuda_available, cupy_module, empty_pinned

def enable_tf32(on: bool = True) -> None:
    """Let cuBLAS use TF32 tensor cores for float32 matrix products (or stop it).

    TF32 keeps float32's exponent range but rounds each GEMM input to 10
    mantissa bits (about 3 significant digits, against float32's 7); the
    products still accumulate in float32. On GPUs of compute capability 8.0
    and later (A100, H100...) float32 GEMMs then run on the tensor cores,
    several times faster; older GPUs ignore it (CuPy warns). Only float32
    GEMMs change: elementwise kernels, reductions and float64 do not (but a
    Dense layer on the GPU computes x W + b and its db inside its GEMMs,
    fast/cuda_kernels.BiasRowDense, so its bias is rounded with W).

    CuPy reads the environment variable CUPY_TF32 at its first float32 GEMM
    and keeps the answer. This sets the variable and, if CuPy is loaded,
    makes it read the variable again at the next GEMM.
    """
    os.environ["CUPY_TF32"] = "1" if on else "0"
    if cupy_module() is not None:
        try:  # CuPy's cached choice (a private module): back to "not decided yet"
            linalg = _cupy_linalg()
            linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TBD)
        except (ImportError, AttributeError):  # another CuPy layout: the variable alone,
            pass                                # which counts if no GEMM has run yet


def tf32_enabled() -> bool:
    """Whether float32 GEMMs on the GPU use TF32 now (False without a GPU)."""
    if not cuda_available():
        return False
    try:
        linalg = _cupy_linalg()
        return linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_TF32
    except (ImportError, AttributeError):
        return os.environ.get("CUPY_TF32", "0") not in ("", "0")


def _cupy_linalg():
    """cupy._core._routines_linalg, where CuPy keeps its GEMMs' compute type (private)."""
    return importlib.import_module(cupy_module().__name__ + "._core._routines_linalg")


class HostCopy:
    """A copy of an array on its way to the host, to read without waiting for the GPU.

    ``float(a)`` or ``to_numpy(a)`` on a GPU array waits until the GPU has
    finished all the work queued before it: inside a training loop, that
    stalls the loop (the host stops queuing work) every time. ``HostCopy(a)``
    queues the copy into page-locked host memory and returns at once;
    ``ready()`` asks, without waiting, whether it has arrived, and ``value``
    is then the NumPy array. On the CPU the copy is ready at once.

        reading = HostCopy(per_step[:n].mean())   # a 0-d device array
        ...                                       # more steps
        if reading.ready():
            print(float(reading.value))
    """

    def __init__(self, a):
        self._done, self._shape = None, np.shape(a)
        cp = cupy_module()
        if cp is None or not isinstance(a, cp.ndarray):
            self._host = np.array(a)                         # a copy, like the GPU's
            return
        self._source = a.ravel()                             # 1-D contiguous, alive until copied
        self._host = empty_pinned(self._source.shape, a.dtype)
        # Queued on the current stream, behind the work that computes a:
        host_ptr = ctypes.c_void_p(self._host.ctypes.data)
        self._source.data.copy_to_host_async(host_ptr, self._source.nbytes,
                                             cp.cuda.get_current_stream())
        self._done = cp.cuda.Event(disable_timing=True)
        self._done.record()                                  # reached once the copy is done

    def ready(self) -> bool:
        """True once the value is on the host (never waits)."""
        return self._done is None or self._done.done

    @property
    def value(self) -> np.ndarray:
        """The NumPy array (waits for the GPU if it is not ready yet)."""
        if not self.ready():
            self._done.synchronize()
        return self._host.reshape(self._shape)
