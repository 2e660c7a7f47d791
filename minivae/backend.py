"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

This is the only module in minivae that imports CuPy. Everything else asks
for the array module ``xp`` and writes ``xp.exp``, ``xp.matmul``... so the
same lines run on either device (the idea is DeZero's ``get_array_module``).

    xp = get_xp("cpu")          # numpy
    xp = get_xp("cuda")         # cupy (raises a clear error without a GPU)
    xp = get_array_module(a)    # whichever module owns the array a
    a_host = to_numpy(a)        # a NumPy copy, wherever a lives
    rng = Generator(xp, seed=0) # seeded noise, drawn directly in float32
"""

from __future__ import annotations

import numpy as np

try:  # CuPy is an optional extra: `pip install minivae[gpu]`.
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy built for a missing CUDA
    _cupy = None

DEVICES = ("cpu", "cuda", "auto")
DTYPES = ("float32", "float64")


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def resolve_device(device: str) -> str:
    """Turn "cpu" | "cuda" | "auto" into "cpu" or "cuda", or raise."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise RuntimeError(
            "device='cuda' needs CuPy and an NVIDIA GPU; none was found. "
            "Install the extra (pip install 'minivae[gpu]', or the cupy-cudaXXx "
            "wheel matching your CUDA) or use device='cpu'."
        )
    return device


def get_xp(device: str):
    """The array module for a device name: numpy for "cpu", cupy for "cuda"."""
    return _cupy if resolve_device(device) == "cuda" else np


def get_array_module(a):
    """The array module (numpy or cupy) that owns array ``a``."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy
    return np


def device_of(a) -> str:
    """"cuda" if ``a`` lives on the GPU, else "cpu"."""
    return "cuda" if get_array_module(a) is not np else "cpu"


def to_numpy(a) -> np.ndarray:
    """A NumPy array with the values of ``a`` (copies from the GPU if needed)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
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
        self.xp = xp
        self.seed = seed
        self._rng = self._make(seed)

    def _make(self, seed):
        if self.xp is np:
            return np.random.default_rng(seed)
        return self.xp.random.RandomState(seed)

    def normal(self, shape, dtype=np.float32):
        """Standard-normal noise of ``shape`` and ``dtype``, on the device."""
        return self._rng.standard_normal(shape, dtype=dtype)

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

    # Checkpoints store the generator so that a resumed run draws the same noise.
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
            self._rng = self._make(state.get("seed"))
