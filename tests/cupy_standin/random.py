"""cupy.random on the CPU: RandomState with CuPy's methods and no others.

CuPy's RandomState draws with cuRAND; this one draws with NumPy's PCG64, so
its numbers are not CuPy's: a test may compare a GPU run with a CPU run only
where the noise is given, not drawn. What it keeps is the interface: the
methods of cupy.random.RandomState (names.RANDOM_STATE: standard_normal,
random_sample, permutation... but not NumPy Generator's ``random`` or
``integers``), a dtype argument where CuPy takes one (float32 or float64 only),
and device arrays out. Each draw is one launch (cuRAND), a permutation two
(CuPy draws keys and sorts them).
"""

from __future__ import annotations

import numpy as np

from . import _names as names
from ._array import ndarray, wrap
from ._functions import not_modelled
from ._ledger import LEDGER


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.char not in "fd":
        raise TypeError(f"cupy.random only supports float32 and float64 (got {dtype})")
    return dtype


class RandomState:
    """cupy.random.RandomState(seed) on NumPy's PCG64."""

    def __init__(self, seed=None, method=None):
        self.seed(seed)

    def seed(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def _draw(self, what, a, launches=1):
        for _ in range(launches):
            LEDGER.record("launch", f"random.{what}")
        return wrap(np.asarray(a))

    def standard_normal(self, size=None, dtype=float):
        return self._draw("standard_normal", self._rng.standard_normal(size, _float_dtype(dtype)))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        z = self._rng.standard_normal(size, _float_dtype(dtype))
        return self._draw("normal", z * np.asarray(scale, z.dtype) + np.asarray(loc, z.dtype))

    def random_sample(self, size=None, dtype=float):
        return self._draw("random_sample", self._rng.random(size, _float_dtype(dtype)))

    def rand(self, *size, dtype=float):
        return self.random_sample(size or None, dtype)

    def randn(self, *size, dtype=float):
        return self.standard_normal(size or None, dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        u = self._rng.random(size, _float_dtype(dtype))
        return self._draw("uniform", u * (np.asarray(high - low, u.dtype)) + np.asarray(low, u.dtype))

    def randint(self, low, high=None, size=None, dtype=int):
        low, high = (0, low) if high is None else (low, high)
        return self._draw("randint", self._rng.integers(low, high, size, dtype=dtype))

    def permutation(self, num):
        if isinstance(num, ndarray):
            return self._draw("permutation", self._rng.permutation(num._a), launches=2)
        if not isinstance(num, (int, np.integer)):
            raise TypeError(f"permutation takes an int or a cupy.ndarray, not {type(num)}")
        return self._draw("permutation", self._rng.permutation(num), launches=2)

    def shuffle(self, a):
        if not isinstance(a, ndarray):
            raise TypeError("The array must be cupy.ndarray")
        LEDGER.record("launch", "random.shuffle")
        self._rng.shuffle(a._a)

    def choice(self, a, size=None, replace=True, p=None):
        a = a._a if isinstance(a, ndarray) else a
        p = p._a if isinstance(p, ndarray) else p
        return self._draw("choice", self._rng.choice(a, size, replace, p))


for _name in names.RANDOM_STATE - set(vars(RandomState)):
    setattr(RandomState, _name, not_modelled(_name, "cupy.random.RandomState"))

_STATE = RandomState()


def get_random_state():
    return _STATE


def seed(seed=None):
    _STATE.seed(seed)


def reset_states():
    _STATE.seed(None)


def _module_level(name):
    def draw(*args, **kwargs):
        return getattr(_STATE, name)(*args, **kwargs)
    draw.__name__ = name
    return draw


for _name in names.RANDOM - set(globals()):
    if _name in names.RANDOM_STATE and _name in vars(RandomState):
        globals()[_name] = _module_level(_name)
    elif _name not in ("RandomState",):
        globals()[_name] = not_modelled(_name, "cupy.random")
random = random_sample = _module_level("random_sample")   # noqa: F811 (cupy.random.random)
del _name
