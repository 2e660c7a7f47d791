"""Shared fixtures: the array backends every numeric test runs on.

Tests that take the ``device`` fixture run once on NumPy ("cpu") and once on
CuPy ("cuda"). Every test of the GPU path carries the ``cuda`` marker (the
"cuda" device run has it already), so ``pytest -m cuda`` runs exactly those.
Without a usable GPU they run on tests/cupy_standin, a CPU stand-in for CuPy
that refuses what CuPy refuses and counts kernel launches and waits (swapped
in for each such test through ``backend.use_cupy``, and out after it); the
few that need a real GPU carry ``@pytest.mark.gpu_hardware("why")`` too and
are skipped there, saying why. Every test
starts with TF32 off, whatever CUPY_TF32 says in the environment. Real MNIST
is found where the package itself finds it: ``MINIVAE_DATA_DIR``, else the
download cache (so the tests use what one ``python -m minivae.train``
fetched), else ``/usr/share/datasets/mnist``; tests that need it skip
visibly without it. Skips are summed up by reason at the end of the run,
one line each.
"""

import os
import sys
from collections import Counter

import numpy as np
import pytest

from minivae import backend
from minivae.fast import gpu
from minivae.backend import cuda_available, cuda_problem, get_xp

# benchmarks/speed/ is importable from the tests (cuda_floors holds the GPU's raw kernels)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks", "speed"))

NO_GPU = "needs CuPy and an NVIDIA GPU"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
REAL_GPU = cuda_available()       # asked before any stand-in is swapped in


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu_hardware(why): a cuda test that only a real GPU "
                            "can run (timing, TF32's numbers); skipped on the CPU stand-in")


def pytest_collection_modifyitems(items):
    """Without a GPU, skip the ``cuda`` tests that need one, saying why; the rest use the stand-in."""
    if REAL_GPU:
        return
    for item in items:
        hardware = item.get_closest_marker("gpu_hardware")
        if item.get_closest_marker("cuda") and hardware:
            why = hardware.args[0] if hardware.args else "it measures the device itself"
            item.add_marker(pytest.mark.skip(reason=f"needs a real GPU ({why}); here: "
                                                    f"{cuda_problem()}"))


def use_standin():
    """Swap the CPU stand-in for CuPy into minivae's backend; returns what to restore."""
    import cupy_standin
    from cupy_standin._ledger import LEDGER
    LEDGER.clear()
    return backend.use_cupy(cupy_standin, cupy_standin._cupyx)


@pytest.fixture(autouse=True)
def cuda_backend(request):
    """A ``cuda`` test without a GPU runs on the stand-in (tests/cupy_standin), and only it."""
    if REAL_GPU or not request.node.get_closest_marker("cuda"):
        yield
        return
    previous = use_standin()
    try:
        yield
    finally:
        backend.use_cupy(*previous)


@pytest.fixture
def standin():
    """The stand-in, swapped in even where a GPU is present: for the tests that count
    launches and waits (its LEDGER), which a real CuPy does not count."""
    import cupy_standin
    previous = use_standin()
    try:
        yield cupy_standin
    finally:
        backend.use_cupy(*previous)


@pytest.fixture(autouse=True)
def tf32_off(monkeypatch):
    """Every test starts with TF32 off and CUPY_TF32 unset (restored after it).

    CUPY_TF32=1 in the environment would otherwise round every float32 GEMM
    on the GPU to 10-bit mantissas and fail the float32 comparisons; the
    tests of TF32 turn it on themselves. enable_tf32(False) also resets the
    choice CuPy keeps after its first GEMM.
    """
    monkeypatch.delenv("CUPY_TF32", raising=False)
    gpu.enable_tf32(False)
    monkeypatch.delenv("CUPY_TF32", raising=False)
    yield
    gpu.enable_tf32(False)


NO_MNIST = ("real MNIST not found: run `python -m minivae.train` once (it caches MNIST) or set "
            "MINIVAE_DATA_DIR to a directory with the IDX files")


def _locate_real_mnist():
    """Set MINIVAE_DATA_DIR to where the package finds verified MNIST, if it finds it.

    Runs when this file is imported, before any fixture empties the cache for
    a test, and never downloads. Tests (and the commands they start) then all
    read real MNIST through the one variable.
    """
    from minivae.data.datasets import DataError, find_file
    try:
        found = [find_file("mnist", split, kind) for split in ("train", "test")
                 for kind in ("images", "labels")]
    except DataError:   # a damaged file of the user's: the tests that need MNIST say so
        return
    if all(found):
        os.environ["MINIVAE_DATA_DIR"] = str(found[0].parent)


_locate_real_mnist()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty download cache and no network fallback.

    Without this, a dataset cached by an earlier real run in ~/.cache/minivae
    could make a "missing data" test pass for the wrong reason, and a test
    could reach the internet. Tests of the downloader set their own mirrors.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("MINIVAE_OFFLINE", "1")


@pytest.fixture(params=DEVICES)
def device(request):
    """"cpu" or "cuda"."""
    return request.param


@pytest.fixture
def xp(device):
    """numpy or cupy, matching ``device``."""
    return get_xp(device)


@pytest.fixture
def mnist_dir():
    """The directory holding real MNIST, from MINIVAE_DATA_DIR (skips without it)."""
    path = os.environ.get("MINIVAE_DATA_DIR")
    if not path or not os.path.isdir(path):
        pytest.skip(NO_MNIST)
    return path


def rand(xp, shape, seed=0, low=0.0, high=1.0):
    """Float64 uniform test data on the device of ``xp``."""
    return xp.asarray(np.random.default_rng(seed).uniform(low, high, shape))


# Conv layer settings the fast forms are checked in, (k, s, p, output_padding, H, W): the
# conv VAE's; k not a multiple of s, no padding, odd sizes, output_padding; padding 2; a
# stride larger than the kernel (pixels no tap reads); k 1
CONV_SETTINGS = [(4, 2, 1, 0, 8, 8), (3, 2, 0, 1, 7, 9), (5, 3, 2, 2, 11, 6),
                 (2, 3, 1, 1, 7, 5), (1, 1, 0, 0, 3, 4)]


def make_tiny(path, n_train=512, n_test=128, seed=0):
    """Gaussian blobs at random places, 8x8 uint8, labelled by quadrant."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:8, 0:8]

    def blobs(n):
        cx, cy, s = rng.uniform(1, 6, n), rng.uniform(1, 6, n), rng.uniform(0.8, 2, n)
        im = np.exp(-((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2)
                    / (2 * s[:, None, None] ** 2))
        return (im * 255).astype(np.uint8), ((cx > 3.5) + 2 * (cy > 3.5)).astype(np.uint8)

    (xt, yt), (xs, ys) = blobs(n_train), blobs(n_test)
    np.savez(path, x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    return str(path)


def peak_bytes(fn):
    """(the exception fn() raised or None, the peak bytes Python allocated while it ran)."""
    import tracemalloc
    tracemalloc.start()
    try:
        fn()
    except Exception as e:                        # noqa: BLE001: the caller checks its type
        raised = e
    else:
        raised = None
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return raised, peak


def adam_by_hand(p, grads, lr, b1, b2, eps, wd=0.0):
    """Adam's plain formula (Kingma & Ba 2014) applied to the gradients in turn: (p, m, v)."""
    m = v = 0
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v / (1 - b2**t)) + eps)
    return p, m, v


def pytest_terminal_summary(terminalreporter):
    """Sum up the skips by reason, one line each; print the worst gradient-check error."""
    import sys
    reasons = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.write_sep("-", f"{sum(reasons.values())} skipped (pytest -rs lists them)")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count:4d} x {reason}")
    worst = getattr(sys.modules.get("test_vae_gradients"), "WORST", None)
    if worst:
        name = max(worst, key=worst.get)
        terminalreporter.write_line(f"worst whole-model gradient-check relative error: "
                                    f"{worst[name]:.2e} ({name}; {len(worst)} models checked)")
