"""The CPU stand-in for CuPy refuses what CuPy 14.2 refuses and counts what it queues.

Each refusal below is CuPy's own (cupy/_core/core.pyx, _kernel.pyx,
_scalar.pyx): if the stand-in let one through, a GPU bug would pass the tests
on a machine without a GPU. The names it offers are checked against the CuPy
installed, when there is one.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import cupy_standin as cp
from cupy_standin import _names as names
from cupy_standin._ledger import LEDGER
from minivae import backend

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def empty_ledger():
    LEDGER.clear()


def here(offset=0):
    """'tests/cupy_standin/test_standin.py:<line of the caller + offset>'."""
    frame = sys._getframe(1)
    return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno + offset}"


# -- the names: CuPy's, no more ---------------------------------------------------

def test_the_names_are_those_of_the_installed_cupy():
    real = pytest.importorskip("cupy", reason="CuPy is not installed: nothing to compare with")
    public = {n for n in dir(real) if not n.startswith("_") and n != "annotations"}
    assert public == (names.UFUNCS | names.FUNCTIONS | names.CLASSES | names.CONSTANTS
                      | names.MODULES), f"CuPy {real.__version__} differs from names.py's 14.2"
    assert {n for n in dir(real.random.RandomState) if not n.startswith("_")} == names.RANDOM_STATE


def test_only_cupys_names_are_offered():
    offered = {n for n in dir(cp) if not n.startswith(("_", "test_"))}   # not this file
    assert offered <= names.UFUNCS | names.FUNCTIONS | names.CLASSES | names.CONSTANTS | names.MODULES
    a = cp.zeros((2, 3), dtype=cp.float32)
    for name in ("sum", "astype", "get", "reshape", "tolist"):
        assert hasattr(a, name)
    for name in ("resize", "tofile_", "itemset", "setflags", "ctypes"):   # NumPy's only
        with pytest.raises(AttributeError, match="'cupy.ndarray' object has no attribute"):
            getattr(a, name)
    rng = cp.random.RandomState(0)
    assert hasattr(rng, "standard_normal") and hasattr(rng, "random_sample")
    assert not hasattr(rng, "random") and not hasattr(rng, "integers")    # NumPy Generator's
    assert "nanpercentile" not in names.FUNCTIONS
    with pytest.raises(TypeError, match="no implementation found for 'numpy.nanpercentile'"):
        np.nanpercentile(a, 50)                     # NumPy dispatches; CuPy has no such function


# -- what CuPy refuses ------------------------------------------------------------

def test_implicit_conversion_to_numpy_is_refused():
    a = cp.arange(3, dtype=cp.float32)
    for convert in (np.asarray, np.array, lambda a: np.testing.assert_allclose(a, 0)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)
    with pytest.raises(TypeError):
        np.stack([np.zeros(3), a])                  # dispatched to cupy.stack, which refuses
    np.testing.assert_array_equal(a.get(), [0, 1, 2])        # explicitly: fine
    np.testing.assert_array_equal(cp.asnumpy(a), [0, 1, 2])


@pytest.mark.parametrize("host", [np.ones(3), np.array(2.0), [1.0, 2.0, 3.0]],
                         ids=["array", "0-d array", "list"])
def test_host_arrays_are_refused_in_arithmetic(host):
    a = cp.ones(3)
    for op in (lambda: a + host, lambda: host * a, lambda: cp.maximum(a, host),
               lambda: np.add(host, a), lambda: cp.where(a > 0, host, a)):
        with pytest.raises(TypeError):
            op()


def test_scalars_are_taken_and_numpy_ufuncs_return_device_arrays():
    a = cp.full(3, 2.0, dtype=cp.float32)
    for out in (a * 2, 2.0 * a, a * np.float32(2), np.float32(2) * a, np.exp(a), np.sqrt(a)):
        assert isinstance(out, cp.ndarray) and out.dtype == np.float32
    assert isinstance(np.mean(a), cp.ndarray) and np.mean(a).shape == ()    # 0-d, not a scalar
    assert isinstance(a > np.asarray(1.0), cp.ndarray)      # CuPy's numpy/numpy#12142 workaround


def test_indices_and_values_from_the_host_are_uploads():
    a = cp.zeros((4, 2))
    with LEDGER.window() as w:
        a[np.array([0, 2])] = np.ones(2)
    assert [e.kind for e in w.entries] == ["upload", "launch", "upload"]
    np.testing.assert_array_equal(a.get()[:, 0], [1, 0, 1, 0])


# -- what it counts ----------------------------------------------------------------

def test_every_wait_is_recorded_with_its_line():
    a = cp.arange(4, dtype=cp.float32)
    LEDGER.clear()
    float(a.sum()); where = here()                       # noqa: E702
    with LEDGER.window() as w:
        bool(a[0] < 1); int(a[1]); a.item if False else a[2].item(); a.get(); repr(a)  # noqa: E702
        a[a > 1]                                         # a boolean mask reads its count back
    assert [e.what for e in LEDGER.entries[:2]] == ["sum", "float()"]
    assert LEDGER.entries[1].where == where
    assert [e.what for e in w.waits] == ["bool()", "int()", "item()", "get()", "repr()",
                                         "boolean mask: its count"]


def test_views_launch_nothing_copies_and_kernels_one_each():
    a = cp.zeros((4, 6), dtype=cp.float32)
    with LEDGER.window() as w:
        a.reshape(6, 4); a.T; a[1:3]; a.ravel(); cp.broadcast_to(a[0], (5, 6))  # noqa: E702
        cp.asarray(a); a.astype(cp.float32, copy=False)                          # noqa: E702
    assert w.entries == []
    with LEDGER.window() as w:
        a.T.reshape(-1); a.T.copy(); a.astype(cp.float64); a + 1; a.sum(axis=0)  # noqa: E702
        a @ a.T; cp.zeros(3)                                                     # noqa: E702
    assert len(w.launches) == 7 and not w.waits, w.table()
    assert w.by_line()[here(-3)] == 5


def test_allow_synchronize_turns_a_wait_into_cupys_error():
    a = cp.ones(3)
    with cp._cupyx.allow_synchronize(False):
        b = a * 2                                        # queued: fine
        with pytest.raises(cp._cupyx.DeviceSynchronized, match="float"):
            float(b.sum())
    assert float(b.sum()) == 6.0                         # allowed again


# -- the random generator --------------------------------------------------------------

def test_random_state_draws_device_arrays_of_the_dtype_asked():
    rng = cp.random.RandomState(0)
    z = rng.standard_normal((2, 3), dtype=np.float32)
    assert isinstance(z, cp.ndarray) and z.dtype == np.float32 and z.shape == (2, 3)
    assert rng.random_sample(4, dtype=np.float32).dtype == np.float32
    assert sorted(rng.permutation(5).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="float32 and float64"):
        rng.standard_normal(3, dtype=np.int32)
    assert cp.random.RandomState(7).standard_normal(3).tolist() == \
        cp.random.RandomState(7).standard_normal(3).tolist()                      # seeded


# -- ElementwiseKernel: its own body, C++'s types --------------------------------------

def test_an_elementwise_kernel_runs_its_body_with_cpp_types():
    double_literal = cp.ElementwiseKernel("T x", "T y", "y = x * 0.1", "bare")
    cast_literal = cp.ElementwiseKernel("T x", "T y", "y = x * (T)0.1", "cast")
    x = cp.asarray(np.linspace(0, 3, 1001, dtype=np.float32))
    want_double = (x.get().astype(np.float64) * 0.1).astype(np.float32)   # C++: float * double
    np.testing.assert_array_equal(double_literal(x).get(), want_double)
    np.testing.assert_array_equal(cast_literal(x).get(), x.get() * np.float32(0.1))
    assert not np.array_equal(double_literal(x).get(), cast_literal(x).get())


def test_an_elementwise_kernel_writes_outputs_it_is_given_and_reads_them():
    step = cp.ElementwiseKernel("T g, T lr", "T p, T m", """
        m += (T)0.5 * (g - m);            // outputs may be read before they are written
        p -= lr * (m > (T)0 ? m : -m);    // a ternary
    """, "step")
    p, m, g = cp.ones(4), cp.zeros(4), cp.asarray(np.array([1.0, -1.0, 2.0, 0.0]))
    assert step(g, 0.1, p, m) == (p, m)
    np.testing.assert_allclose(m.get(), [0.5, -0.5, 1.0, 0.0])
    np.testing.assert_allclose(p.get(), [0.95, 0.95, 0.9, 1.0])


def test_memory_nobody_wrote_holds_garbage_not_zeros():
    """A kernel that reads its own output before writing it, or a caller that reads what
    cupy.empty gave, gets what the memory held: on the stand-in always NaN (or the largest
    integer, or True), never the zeros that would let it pass by luck."""
    forgets = cp.ElementwiseKernel("T x", "T y", "y += x", "forgets_to_start_from_zero")
    assert np.isnan(forgets(cp.ones(3)).get()).all()
    assert np.isnan(cp.empty((2, 2)).get()).all()
    assert np.isnan(cp.empty_like(cp.ones(2)).get()).all()
    assert (cp.empty(3, dtype=np.int32).get() == np.iinfo(np.int32).max).all()
    assert cp.empty(2, dtype=bool).get().all()


def test_an_elementwise_kernel_refuses_what_cupy_refuses():
    k = cp.ElementwiseKernel("T x, T y", "T z", "z = x + y", "add")
    x32, x64 = cp.ones(3, dtype=cp.float32), cp.ones(3, dtype=cp.float64)
    with pytest.raises(TypeError, match="Type is mismatched"):
        k(x32, x64)
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        k(x32, np.ones(3, np.float32))
    assert k(x32, 2.0).dtype == np.float32               # a scalar takes T from the arrays
    gather = cp.ElementwiseKernel("raw T x", "T y", "y = x[i]", "gather")
    with pytest.raises(ValueError, match="Loop size is undecided"):
        gather(x32)                                      # no array that is not raw: no shape
    assert gather(x32, size=2).shape == (2,)
    with pytest.raises(ValueError, match="'size' can be used only if all of the ndarray are 'raw'"):
        gather(x32, cp.empty(3, dtype=cp.float32), size=3)
    with pytest.raises(TypeError, match="Type is mismatched"):
        gather(x32, x64)                                 # a raw array binds T too


# -- ElementwiseKernel: raw arrays, i, loops and ifs (a gather, as fast/cuda_kernels' col2im) --

def test_i_is_the_outputs_c_order_index_and_raw_reads_are_flat():
    transpose = cp.ElementwiseKernel("raw T a, int32 R, int32 C", "T y", """
        const int r = i % R;              // y (C, R): i = j R + r
        const int j = i / R;
        y = a[r * C + j];                 // a (R, C), read flat in C order
    """, "transpose")
    wrong = cp.ElementwiseKernel("raw T a, int32 R, int32 C", "T y", """
        const int r = i % R;
        const int j = i / R;
        y = a[j * R + r];                 // R and C swapped: in bounds, the wrong element
    """, "transpose_wrong")
    a = np.arange(12.0).reshape(3, 4)
    y = cp.empty((4, 3))
    assert transpose(cp.asarray(a), 3, 4, y) is y
    np.testing.assert_array_equal(y.get(), a.T)
    assert not np.array_equal(wrong(cp.asarray(a), 3, 4, cp.empty((4, 3))).get(), a.T)
    index = cp.ElementwiseKernel("T x", "T y", "y = (T)i", "index")
    np.testing.assert_array_equal(index(cp.zeros((2, 3))).get(), np.arange(6.0).reshape(2, 3))


def test_int_locals_divide_as_c_does():
    divide = cp.ElementwiseKernel("T x", "int32 q, int32 r", """
        const int n = (int)x;
        q = n / 3;                        // C truncates toward zero: -7 / 3 = -2
        r = n % 3;                        //   and the remainder takes n's sign: -1
    """, "divide")
    q, r = divide(cp.asarray(np.array([-7.0, 7.0, -1.0])))
    assert q.dtype == np.int32 and q.tolist() == [-2, 2, 0] and r.tolist() == [-1, 1, -1]


def test_a_for_loop_and_ifs_mask_their_updates():
    positive_row_sums = cp.ElementwiseKernel("raw T a, int32 n", "T y, int32 count", """
        T s = (T)0;
        count = 0;
        for (int j = 0; j < n; j++) {
            const T v = a[i * n + j];
            if (v > (T)0) {               // elements where v <= 0 keep s and count
                s += v;
                count++;
                if (v > (T)2) s += (T)100;    // nested: both conditions
            }
        }
        y = s;
    """, "positive_row_sums")
    a = np.random.default_rng(0).uniform(-3, 3, (5, 7))
    y, count = positive_row_sums(cp.asarray(a), 7, cp.empty(5), cp.empty(5, dtype=cp.int32))
    want = np.where(a > 0, a, 0).sum(axis=1) + 100 * (a > 2).sum(axis=1)
    np.testing.assert_allclose(y.get(), want)
    assert count.get().tolist() == (a > 0).sum(axis=1).tolist()


def test_an_index_is_checked_only_where_the_element_reads():
    shift = cp.ElementwiseKernel("raw T a", "T y", """
        y = (T)0;
        if (i >= 1) y = a[i - 1];         // element 0 computes the index -1, and reads nothing
    """, "shift")
    a = cp.asarray(np.array([1.0, 2.0, 3.0]))
    assert shift(a, cp.empty(3)).tolist() == [0.0, 1.0, 2.0]
    unguarded = cp.ElementwiseKernel("raw T a", "T y", "y = a[i - 1]", "unguarded")
    with pytest.raises(IndexError, match="raw a.* of 3 elements read out of bounds by 1 "
                                         "element.*the first 0"):
        unguarded(a, cp.empty(3))


@pytest.mark.parametrize("in_params, body, what", [
    ("T x", "if (x > (T)0) y = x; else y = -x;", "'else'"),
    ("T x", "while (x > (T)0) y = x;", "'while'"),
    ("raw T x", "x[i] = (T)1; y = (T)0;", "writing to raw x"),
    ("T x", "y = x + undeclared;", "'undeclared', which is no parameter"),
    ("raw T x, T c", "y = c > (T)0 ? x[i] : (T)0;", r"raw x inside \?:"),
    ("T x", "for (int j = 0; j < i; j++) y = x;", "condition differs between elements"),
    ("T x", "const T t = x; if (x > (T)0) { const T t = (T)1; } y = t;", "declares 't' again"),
])
def test_what_the_translation_does_not_model_is_named(in_params, body, what):
    with pytest.raises(NotImplementedError, match=what):
        k = cp.ElementwiseKernel(in_params, "T y", body, "unmodelled")
        k(*(cp.ones(2) for _ in in_params.split(",")))


# -- the hook: the stand-in is used only where a test puts it ---------------------------

def test_use_cupy_swaps_the_module_and_puts_it_back():
    before = backend.cupy_module()
    previous = backend.use_cupy(cp, cp._cupyx)
    try:
        assert backend.cuda_available() and backend.get_xp("cuda") is cp
        assert backend.get_array_module(cp.ones(2)) is cp
        assert isinstance(backend.empty_pinned((2,), np.float32), np.ndarray)
    finally:
        backend.use_cupy(*previous)
    assert backend.cupy_module() is before


def test_minivae_and_its_commands_never_load_the_standin():
    code = ("import sys, minivae, minivae.run.train, minivae.run.evaluate, minivae.run.sample, "
            "minivae.fast.gpu; print(sorted(m for m in sys.modules if 'standin' in m))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": REPO})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
