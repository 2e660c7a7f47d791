"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

This package is the only place in minivae that imports CuPy. Everything else
asks for the array module ``xp`` and writes ``xp.exp``, ``xp.matmul``... so
the same lines run on either device (the idea is DeZero's ``get_array_module``).

    xp = get_xp("cpu")          # numpy
    xp = get_xp("cuda")         # cupy (raises a clear error without a GPU)
    xp = get_array_module(a)    # whichever module owns the array a
    a_host = to_numpy(a)        # a NumPy copy, wherever a lives
    rng = Generator(xp, seed=0) # seeded noise, drawn directly in float32

It holds the array module and nothing else: the speed-ups that use CuPy
(the fused kernels, TF32, reads that do not wait for the GPU) stand apart in
minivae/fast/ and reach CuPy through :func:`cupy_module`.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

# CuPy is an optional extra (`pip install minivae[gpu]`), imported the first time a
# GPU is asked for, not with minivae: loading it takes about half a second, which a
# CPU run should not pay (nor a Ctrl-C during it).
_cupy = None
_cupy_tried = False   # True once the import was tried (or a module was set by use_cupy)
_cupyx = None         # cupyx (pinned host memory), imported at its first use


def _load_cupy():
    """The ``cupy`` module, imported on the first call; None where it does not load."""
    global _cupy, _cupy_tried
    if not _cupy_tried:
        _cupy_tried = True
        try:
            import cupy
            _cupy = cupy
        except Exception:  # ImportError, or a CuPy built for a missing CUDA
            _cupy = None
    return _cupy


def _loaded_cupy():
    """CuPy if it is already imported (by minivae or by the caller): arrays may be CuPy's."""
    return _cupy if _cupy_tried else sys.modules.get("cupy")

DEVICES = ("cpu", "cuda", "auto")
DTYPES = ("float32", "float64")


def cuda_available() -> bool:
    """True when CuPy imports, sees a GPU, and can run its libraries on it.

    Counting devices is not enough: CuPy without CUDA's libraries (a bare
    ``pip install cupy-cuda13x`` brings no NVRTC, cuBLAS or cuRAND) sees the
    GPU and then fails at the first kernel. So the first call tries each
    library once, and the answer is kept for the process;
    ``cuda_problem()`` says what failed.
    """
    return cuda_problem() is None


_PROBE = {"module": None, "problem": None}   # the answer, for the CuPy module it was asked of
PROBE_KERNEL = ("T x", "T y", "y = x + (T)1", "minivae_probe")   # an ElementwiseKernel's spec


def cuda_problem() -> str | None:
    """Why ``device="cuda"`` cannot run here (a sentence), or None when it can."""
    if _load_cupy() is None:
        return "CuPy is not installed"
    if _PROBE["module"] is not _cupy:
        _PROBE.update(module=_cupy, problem=_probe_cuda(_cupy))
    return _PROBE["problem"]


def _probe_cuda(cp) -> str | None:
    """Run one tiny job through each library a training step needs; None if all work."""
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as e:                   # no driver, or one too old for this CuPy
        return f"CuPy found no usable NVIDIA driver ({type(e).__name__}: {e})"
    if count == 0:
        return "CuPy found no NVIDIA GPU"
    try:
        # float64 throughout: a float32 GEMM would fix CuPy's TF32 choice (see enable_tf32)
        add_one = cp.ElementwiseKernel(*PROBE_KERNEL)
        a = add_one(cp.arange(4, dtype=cp.float64)).reshape(2, 2)    # NVRTC: [[1, 2], [3, 4]]
        product = a @ a                                              # cuBLAS: [[7, 10], [15, 22]]
        noise = cp.random.RandomState(0).standard_normal(4, dtype=cp.float32)   # cuRAND
        ok = float(product.sum()) == 54.0 and bool(cp.isfinite(noise).all())
    except Exception as e:                   # e.g. a missing libnvrtc, libcublas or libcurand
        return (f"CuPy sees {count} GPU(s) but cannot run on them ({type(e).__name__}: {e}); "
                "CUDA's libraries are probably missing: install CuPy with them, "
                "pip install 'cupy-cuda13x[ctk]' (or 'cupy-cuda12x[ctk]' for a CUDA 12 driver)")
    return None if ok else "CuPy's test computation on the GPU gave a wrong result"


def resolve_device(device: str) -> str:
    """Turn "cpu" | "cuda" | "auto" into "cpu" or "cuda", or raise."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise RuntimeError(
            "device='cuda' needs CuPy and an NVIDIA GPU it can run on; here: "
            f"{cuda_problem()}. Install the extra (pip install 'minivae[gpu]', or "
            "'cupy-cuda12x[ctk]' for a CUDA 12 driver) or use device='cpu'."
        )
    return device


def get_xp(device: str):
    """The array module for a device name: numpy for "cpu", cupy for "cuda"."""
    return _load_cupy() if resolve_device(device) == "cuda" else np


def get_array_module(a):
    """The array module (numpy or cupy) that owns array ``a``."""
    cp = _loaded_cupy()
    if cp is not None and isinstance(a, cp.ndarray):
        return cp
    return np


def to_numpy(a) -> np.ndarray:
    """A NumPy array with the values of ``a`` (copies from the GPU if needed)."""
    cp = _loaded_cupy()
    if cp is not None and isinstance(a, cp.ndarray):
        return cp.asnumpy(a)
    return np.asarray(a)


def to_device(a, xp):
    """The array ``a`` on the device of module ``xp`` (no copy if already there)."""
    return xp.asarray(a)


def resolve_dtype(dtype) -> np.dtype:
    """np.float32 or np.float64, from a name or a dtype."""
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return np.dtype(name)


def synchronize(xp) -> None:
    """Wait for queued GPU work to finish (no-op on the CPU); use before timing."""
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()


def derived_seed(*keys: int) -> int:
    """One integer seed from several, e.g. (run seed, epoch, stream), well mixed."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


class Generator:
    """A seeded random generator on the model's device.

    On the CPU: NumPy's ``default_rng`` (PCG64). On the GPU: CuPy's
    ``RandomState`` (cuRAND), which offers the same three draws. Both draw
    float32 normals directly (no float64 draw followed by a cast), which
    halves the work for the reparameterization noise eps.
    """

    def __init__(self, xp, seed: int | None = 0):
        self.xp, self.seed = xp, seed
        self._rng = np.random.default_rng(seed) if xp is np else xp.random.RandomState(seed)
        # normal(shape, dtype=np.float32): standard-normal noise of that shape and
        # dtype, on the device. Both libraries name it standard_normal(size, dtype);
        # bound here directly, so drawing eps costs no Python call of ours.
        self.normal = functools.partial(self._rng.standard_normal, dtype=np.float32)

    def uniform(self, shape, low=0.0, high=1.0, dtype=np.float32):
        """Uniform noise in [low, high) of ``shape`` and ``dtype``."""
        if self.xp is np:
            u = self._rng.random(shape, dtype=dtype)
        else:
            u = self._rng.random_sample(shape, dtype=dtype)
        if low != 0.0 or high != 1.0:
            u = u * (high - low) + low
        return u

    def permutation(self, n: int):
        """A random permutation of 0..n-1, on the device."""
        return self._rng.permutation(n)

    # Not used by checkpoints: training reseeds its generators from (seed, epoch),
    # so a resumed run draws the same noise without any saved state.
    def state(self) -> dict:
        """The generator's state as plain Python (JSON-serialisable on the CPU)."""
        if self.xp is np:
            return self._rng.bit_generator.state
        # CuPy's generator state is not exposed; a resumed GPU run reseeds.
        return {"seed": self.seed, "cupy": True}

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :meth:`state`."""
        if self.xp is np and "bit_generator" in state:
            self._rng.bit_generator.state = state
        elif self.xp is not np:
            self.__init__(self.xp, state.get("seed"))     # CuPy's generator: reseeded


def device_memory(xp) -> tuple[int, int] | None:
    """(free, total) bytes of the GPU that arrays of ``xp`` live on; None for NumPy.

    Free counts what CUDA reports free plus what CuPy's memory pool holds unused
    (the pool keeps freed blocks for the next arrays), within the pool's limit
    if one is set (CUPY_GPU_MEMORY_LIMIT). Other processes on the GPU take from
    the same free memory, so it can shrink while a run goes on.
    """
    if xp is np:
        return None
    pool = xp.get_default_memory_pool()
    free, total = xp.cuda.runtime.memGetInfo()
    free += pool.free_bytes()
    if pool.get_limit():                                  # 0: no limit
        free = min(free, pool.get_limit() - pool.used_bytes())
    return free, total


# How CUDA's libraries say the GPU's memory ran out inside them, as the start of the
# RuntimeError CuPy raises for them (not a MemoryError): cuBLAS's workspace, cuRAND's
# state, the CUDA runtime's and driver's own allocations.
ALLOCATION_FAILURES = ("CUBLAS_STATUS_ALLOC_FAILED", "CURAND_STATUS_ALLOCATION_FAILED",
                       "cudaErrorMemoryAllocation", "CUDA_ERROR_OUT_OF_MEMORY")


def out_of_device_memory(e: BaseException) -> bool:
    """True when the GPU's memory ran out, not the machine's: CuPy's OutOfMemoryError (its
    memory pool), or a CUDA library's allocation failure (ALLOCATION_FAILURES)."""
    cp = _loaded_cupy()
    if cp is None:
        return False
    return (isinstance(e, cp.cuda.memory.OutOfMemoryError)
            or isinstance(e, RuntimeError) and str(e).startswith(ALLOCATION_FAILURES))


def cupy_module():
    """The ``cupy`` module, or None where CuPy is not installed or does not load."""
    return _load_cupy()


def use_cupy(module, cupyx=None):
    """Make ``module`` (and ``cupyx``) the CuPy that minivae uses; return the pair replaced.

    For the tests: tests/cupy_standin is a CPU stand-in for CuPy that refuses
    what CuPy refuses and counts kernel launches and waits, and the tests swap
    it in with this (tests/conftest.py); ``use_cupy(*previous)`` puts CuPy back.
    Nothing in minivae calls it. The GPU probe runs again for the new module.
    """
    global _cupy, _cupyx, _cupy_tried
    previous = (_load_cupy(), _cupyx)     # the real CuPy (or None), to be put back
    _cupy, _cupyx, _cupy_tried = module, cupyx, True
    return previous


def empty_pinned(shape, dtype) -> np.ndarray:
    """A NumPy array in page-locked host memory, which the GPU copies into asynchronously."""
    global _cupyx
    if _cupyx is None:
        import cupyx as _cupyx
    return _cupyx.empty_pinned(shape, dtype=dtype)
