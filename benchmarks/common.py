"""What the benchmark scripts of every folder share: thread counts, data, the GEMM floor.

Thread counts must be fixed before NumPy is imported (OpenBLAS reads
OPENBLAS_NUM_THREADS when it loads), so each script calls
``threads_from_argv()`` first, and imports NumPy and minivae after it.
"""

import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_from_argv(argv=None, default=None):
    """Read ``--threads N`` from the command line and pin every BLAS pool to N.

    Call it before NumPy (or torch) is imported. Returns N.
    """
    argv = sys.argv[1:] if argv is None else argv
    n = default or os.cpu_count()
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    try:
        n = int(n)
    except ValueError:
        sys.exit(f"--threads must be a positive integer, got {n!r}")
    if n < 1:
        sys.exit(f"--threads must be a positive integer, got {n}")
    # In a process that has already loaded NumPy (a test calling main()), the
    # variables no longer change OpenBLAS (threadpoolctl does, below); they
    # still reach child processes.
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n, user_api="blas")
    if "jax" not in sys.modules:             # JAX reads its thread count when it loads
        if jax_flags(n):
            os.environ["XLA_FLAGS"] = jax_flags(n)
        else:
            os.environ.pop("XLA_FLAGS", None)
    return n


def jax_flags(n):
    """XLA_FLAGS for n CPU threads: one thread turns Eigen's pool off.

    XLA has no flag for another count: for n >= 2 it keeps its default, a
    pool of one thread per core (2 on the machine of benchmarks/README.md).
    """
    return "--xla_cpu_multi_thread_eigen=false" if n == 1 else ""


def one_core_for_one_thread(n):
    """With n = 1, keep this process (and its children) on one core.

    JAX's flags make its matrix products single-threaded, but XLA still
    runs work beside them on a second core (measured: a 1-thread JAX epoch
    took 1.9 s free to use 2 cores, 3.2 s pinned to one). Pinned, every side
    of a 1-thread comparison has one core.
    """
    if n == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})


def load_train_images(data_dir, n_rows=None):
    """MNIST training images as float32 (N, 784) in [0, 1], and where they came from.

    Real MNIST from ``data_dir`` (or $MINIVAE_DATA_DIR); without it, random
    images with MNIST's shape and ink density (about 19% of pixels), which
    time the same as the real ones: no operation's speed depends on the values,
    but for the subnormal floats, which the fast forms keep out of Adam's moments
    (fast/cpu_kernels.py; real MNIST's always-blank pixels would otherwise fill
    them, random pixels do not).
    """
    import numpy as np

    data_dir = data_dir or os.environ.get("MINIVAE_DATA_DIR")
    if data_dir:
        from minivae.data import load_mnist, to_unit_float
        images, _ = load_mnist("train", root=data_dir, download=False)
        x, source = to_unit_float(images), f"MNIST train ({data_dir})"
    else:
        x = np.random.default_rng(0).random((n_rows or 60000, 784), dtype=np.float32)
        x[x > 0.19] = 0                      # about 19% of pixels carry ink,
        x /= 0.19                            # with grey levels in [0, 1)
        source = "synthetic MNIST-shaped data (no --data-dir)"
    if n_rows is not None:
        x = x[:n_rows]
    return np.ascontiguousarray(x, dtype=np.float32), source


def dense_shapes(params):
    """[(name, in, out)] of a model's Dense layers, from its "<name>.W" parameters."""
    return [(k[:-2], *v.shape) for k, v in params.items() if k.endswith(".W")]


class GemmFloor:
    """Exactly the GEMMs of one training step, with NumPy (or CuPy) alone.

    For each Dense layer (I, O) at batch B, as layers.Dense runs them:
        forward   y  = x @ W        (B, I) @ (I, O)
        backward  dW = x.T @ dy     (I, B) @ (B, O)
                  dx = dy @ W.T     (B, O) @ (O, I)   not for the first layer
    The operands are preallocated and the results written with ``out=``:
    what is left is the matrix multiplication itself, the floor under any
    implementation that uses the same BLAS. ``forward_only``: the forward
    products alone, as an evaluation does them.
    """

    def __init__(self, shapes, batch_sizes, xp=None, dtype="float32", first=None,
                 forward_only=False):
        import numpy as np
        xp = np if xp is None else xp
        self.xp = xp
        first = shapes[0][0] if first is None else first
        rng = np.random.default_rng(0)

        def rand(*shape):
            return xp.asarray(rng.random(shape, dtype=np.float32).astype(dtype))

        self.plans = {}
        for B in set(batch_sizes):
            ops = []
            for name, i, o in shapes:
                x, W, dy = rand(B, i), rand(i, o), rand(B, o)
                ops.append((x, W, xp.empty((B, o), dtype)))              # y = x @ W
                if forward_only:                                         # (evaluation)
                    continue
                ops.append((x.T, dy, xp.empty((i, o), dtype)))           # dW = x.T @ dy
                if name != first:
                    ops.append((dy, W.T, xp.empty((B, i), dtype)))       # dx = dy @ W.T
            self.plans[B] = ops
        self.flops = {B: sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in ops)
                      for B, ops in self.plans.items()}

    def step(self, B):
        """The GEMMs of one step at batch size B."""
        matmul = self.xp.matmul
        for a, b, out in self.plans[B]:
            matmul(a, b, out=out)


def epoch_batch_sizes(n, batch_size, steps=None):
    """The batch sizes of one epoch over n rows: full batches, then the remainder."""
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    return sizes[:steps] if steps else sizes


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else 0.5 * (s[mid - 1] + s[mid])


def status_kb(field):
    """A "VmRSS"/"VmHWM" line of /proc/self/status, in KiB (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration, ValueError):
        return None


def reset_peak_rss():
    """Make the peak-RSS mark start again from the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def turn_numba_off():
    """From now on in this process, minivae chooses NumPy's forms, as without the numba extra
    (the benchmarks' ``--no-numba``)."""
    import minivae.fast.forms as fast
    fast.numba_installed = lambda: False


def numpy_forms():
    """Which Adam a CPU model trains with, for a benchmark's header."""
    import minivae.fast.forms as fast
    if not fast.numba_installed():
        return "Adam: NumPy in place (fast.FastOps; Numba not used)"
    from importlib.metadata import version
    return (f"Adam: compiled with Numba {version('numba')} (fast/cpu_kernels.py), "
            f"if it loads (a warning says when it does not)")
