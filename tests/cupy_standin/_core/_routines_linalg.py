"""cupy._core._routines_linalg's compute-type switch, as CuPy 14.2 keeps it.

CuPy reads CUPY_TF32 at the first float32 GEMM (get_compute_type) and keeps the
answer; set_compute_type(dtype, COMPUTE_TYPE_TBD) makes it read the variable
again. The stand-in's products are exact float32 whatever is chosen: what TF32
does to the numbers only a GPU shows.
"""

import os

import numpy as np

from ..cuda import COMPUTE_CAPABILITY

(COMPUTE_TYPE_TBD, COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_PEDANTIC, COMPUTE_TYPE_FP16,
 COMPUTE_TYPE_FP32, COMPUTE_TYPE_FP64, COMPUTE_TYPE_BF16, COMPUTE_TYPE_TF32) = range(8)
_types = {"e": COMPUTE_TYPE_TBD, "f": COMPUTE_TYPE_TBD, "d": COMPUTE_TYPE_TBD}


def _key(dtype):
    char = np.dtype(dtype).char
    return {"F": "f", "D": "d"}.get(char, char)


def set_compute_type(dtype, compute_type):
    if compute_type in (COMPUTE_TYPE_BF16, COMPUTE_TYPE_TF32) and int(COMPUTE_CAPABILITY) < 80:
        compute_type = COMPUTE_TYPE_DEFAULT
    _types[_key(dtype)] = compute_type


def get_compute_type(dtype):
    if _types[_key(dtype)] == COMPUTE_TYPE_TBD:
        tf32 = _key(dtype) == "f" and int(os.getenv("CUPY_TF32", "0")) > 0
        set_compute_type(dtype, COMPUTE_TYPE_TF32 if tf32 else COMPUTE_TYPE_DEFAULT)
    return _types[_key(dtype)]
