"""Every CUDA kernel of minivae compiles for sm_90 (H100, H200), on a machine without a GPU.

CI has no GPU, but NVRTC, CUDA's runtime compiler, is a pip wheel that runs on
the CPU: only loading the compiled module needs a driver. So this file builds
the CUDA C++ that CuPy would hand NVRTC for each kernel, and compiles it with
CuPy's own compiler options:

    ElementwiseKernel   minivae/fast/cuda_kernels.py's SPECS and the
                        backend's PROBE_KERNEL, through CuPy's own code
                        generator, once with T = float and once with T = double
                        (every input an array: CuPy declares a scalar input as
                        a const T parameter instead of a const T& element, the
                        same type for the body; a raw one a 2-D CArray, as
                        col2im's cols)
    RawKernel           benchmarks/speed/cuda_floors.py's RAW_SOURCES, as written

A kernel body that would fail on the GPU fails here; the last tests check
that a broken body does. Needs cupy-cuda13x and nvidia-cuda-nvrtc (.ci/run
installs the pinned versions); without them the whole file skips, saying so.
The code generator is a private part of CuPy: a CuPy that has changed it
makes these tests fail, not pass.
"""

import os
import re

import numpy as np
import pytest

from minivae import backend

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCH = "90"
INSTALL = "pip install cupy-cuda13x nvidia-cuda-nvrtc (the pins are in .ci/run)"


def _nvrtc_problem():
    try:
        import cupy  # noqa: F401
        from cupy.cuda import nvrtc
        nvrtc.getVersion()                     # loads libnvrtc
    except Exception as e:                     # ImportError, or a missing libnvrtc
        return f"{type(e).__name__}: {e}"
    return None


if _nvrtc_problem():
    pytest.skip(f"needs CuPy and NVRTC to compile the kernels ({_nvrtc_problem()}); {INSTALL}",
                allow_module_level=True)

import cupy  # noqa: E402
from cupy._core import _carray, _kernel, core  # noqa: E402
from cupy.cuda import nvrtc  # noqa: E402

from minivae.fast import cuda_kernels  # noqa: E402

import cuda_floors  # noqa: E402  (benchmarks/speed/, on sys.path through conftest)

ARG_NDARRAY, ARG_INDEXER = 1, 2               # CuPy's _ArgKind values (cupy/_core/_kernel.pxd)
ELEMENTWISE = {f"cuda_kernels.{name}": (*spec, f"minivae_{name}")
               for name, spec in cuda_kernels.SPECS.items()}
ELEMENTWISE["backend.PROBE_KERNEL"] = backend.PROBE_KERNEL


class CompileError(Exception):
    """NVRTC rejected a kernel; the message holds its log."""


def elementwise_source(in_params, out_params, body, name, dtype):
    """The CUDA C++ CuPy compiles for this ElementwiseKernel on 1-D contiguous arrays."""
    kernel = cupy.ElementwiseKernel(in_params, out_params, body, name)

    def dtypes(params):                        # T -> dtype; fixed types (bool active) stay
        return tuple(np.dtype(dtype) if p.dtype is None else p.dtype for p in params)

    in_types, out_types, type_map = kernel._decide_params_type(
        dtypes(kernel.in_params), dtypes(kernel.out_params))
    args = tuple(_kernel._ArgInfo(ARG_NDARRAY, cupy.ndarray, np.dtype(t), 2 if p.raw else 1,
                                  True, True)             # a raw array keeps its shape: (K, L)
                 for p, t in zip(kernel.in_params + kernel.out_params, in_types + out_types))
    indexer = _kernel._ArgInfo(ARG_INDEXER, _carray.Indexer, None, 1, True, True)
    code = _kernel._get_elementwise_kernel_code(args + (indexer,), type_map, kernel.params,
                                                kernel.operation, kernel.name, kernel.preamble)
    headers = "".join(f"#include <{h}>\n" for h in core._cupy_header_list)   # as CuPy prepends
    return headers + code


def nvrtc_compile(source, name):
    """The cubin NVRTC makes of ``source`` for sm_90, with CuPy's options; CompileError if none."""
    options = core.assemble_cupy_compiler_options(()) + (
        f"-arch=sm_{ARCH}", "--device-as-default-execution-space")        # as CuPy's NVRTC path
    program = nvrtc.createProgram(source, f"{name}.cu", (), ())
    try:
        try:
            nvrtc.compileProgram(program, options)
        except nvrtc.NVRTCError as e:
            raise CompileError(f"{name}: {e}\n{nvrtc.getProgramLog(program)}") from None
        return nvrtc.getCUBIN(program)
    finally:
        nvrtc.destroyProgram(program)


# -- every kernel compiles ----------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("label", sorted(ELEMENTWISE))
def test_elementwise_kernel_compiles_for_sm90(label, dtype):
    in_params, out_params, body, name = ELEMENTWISE[label]
    source = elementwise_source(in_params, out_params, body, name, dtype)
    c_type = {"float32": "float", "float64": "double"}[dtype]
    assert f"typedef {c_type} T;" in source                 # CuPy's generator did fill in T
    assert f'extern "C" __global__ void {name}(' in source
    assert body in source
    cubin = nvrtc_compile(source, name)
    assert cubin[:4] == b"\x7fELF" and name.encode() in cubin   # a cubin holding the kernel


@pytest.mark.parametrize("name", sorted(cuda_floors.RAW_SOURCES))
def test_raw_kernel_compiles_for_sm90(name):
    cubin = nvrtc_compile(cuda_floors.RAW_SOURCES[name], name)
    assert cubin[:4] == b"\x7fELF" and name.encode() in cubin


def test_every_kernel_in_the_repository_is_compiled_here():
    """A kernel defined anywhere else would escape these tests: there is none."""
    allowed = {os.path.join("minivae", "fast", "cuda_kernels.py"),      # SPECS
               os.path.join("minivae", "backend", "__init__.py"),       # PROBE_KERNEL
               os.path.join("benchmarks", "speed", "cuda_floors.py")}   # RAW_SOURCES
    found = set()
    for folder in ("minivae", "benchmarks", "examples", "tests"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in files:
                path = os.path.join(dirpath, f)
                if f.endswith(".py") and re.search(r"\b(Elementwise|Raw)Kernel\(",
                                                   open(path, encoding="utf-8").read()):
                    found.add(os.path.relpath(path, ROOT))
    standin = os.path.join("tests", "cupy_standin", "")   # the CPU stand-in for CuPy and its
    found = {p for p in found if not p.startswith(standin)}   # own tests: never on a GPU
    assert found - {os.path.join("tests", "fast", "test_kernels_compile.py")} <= allowed, \
        "a kernel outside the files this test compiles: add its source here"
    assert set(ELEMENTWISE) >= {"cuda_kernels.adam", "cuda_kernels.bernoulli"}


# -- a broken kernel fails ------------------------------------------------------

@pytest.mark.parametrize("body, error", [
    ("y = x + undeclared_name;", "undeclared_name"),    # a typo
    ("x = (T)1; y = x;", "modifiable lvalue"),          # writing to an input (const in CuPy)
    ("y = x +* (T)1;", "operand"),                      # a stray operator
])
def test_a_broken_elementwise_body_fails_to_compile(body, error):
    source = elementwise_source("T x", "T y", body, "minivae_broken", "float32")
    with pytest.raises(CompileError, match=error):
        nvrtc_compile(source, "minivae_broken")


def test_a_broken_raw_kernel_fails_to_compile():
    broken = cuda_floors.BUSY_SOURCE.replace("clock64()", "clock_64()")
    with pytest.raises(CompileError, match="clock_64"):
        nvrtc_compile(broken, "minivae_busy")
