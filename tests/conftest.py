"""Shared fixtures: the array backends every numeric test runs on.

Tests that take the ``device`` fixture run once on NumPy ("cpu") and once on
CuPy ("cuda"). Every test that needs a GPU carries the ``cuda`` marker (the
"cuda" device run has it already), so ``pytest -m cuda`` runs exactly those;
without a usable GPU they are skipped, with the reason shown. Every test
starts with TF32 off, whatever CUPY_TF32 says in the environment.
``MINIVAE_DATA_DIR`` points tests at real MNIST (CI sets it to the shared
copy); tests that need it skip visibly without it.
"""

import os
import sys

import numpy as np
import pytest

from minivae import backend
from minivae.backend import cuda_available, cuda_problem, get_xp

# benchmarks/ is importable from the tests (cuda_floors holds the GPU's raw kernels)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))

NO_GPU = "needs CuPy and an NVIDIA GPU"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(items):
    """Skip every test marked ``cuda`` when CuPy cannot run on a GPU here, saying why."""
    if cuda_available():
        return
    skip = pytest.mark.skip(reason=f"{NO_GPU}: {cuda_problem()}")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def tf32_off(monkeypatch):
    """Every test starts with TF32 off and CUPY_TF32 unset (restored after it).

    CUPY_TF32=1 in the environment would otherwise round every float32 GEMM
    on the GPU to 10-bit mantissas and fail the float32 comparisons; the
    tests of TF32 turn it on themselves. enable_tf32(False) also resets the
    choice CuPy keeps after its first GEMM.
    """
    monkeypatch.delenv("CUPY_TF32", raising=False)
    backend.enable_tf32(False)
    monkeypatch.delenv("CUPY_TF32", raising=False)
    yield
    backend.enable_tf32(False)


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
        pytest.skip("real MNIST not available: set MINIVAE_DATA_DIR to a directory with the IDX files")
    return path


def rand(xp, shape, seed=0, low=0.0, high=1.0):
    """Float64 uniform test data on the device of ``xp``."""
    return xp.asarray(np.random.default_rng(seed).uniform(low, high, shape))


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
    """Print the worst whole-model gradient-check error, if those checks ran."""
    import sys
    worst = getattr(sys.modules.get("test_vae_gradients"), "WORST", None)
    if worst:
        name = max(worst, key=worst.get)
        terminalreporter.write_line(f"worst whole-model gradient-check relative error: "
                                    f"{worst[name]:.2e} ({name}; {len(worst)} models checked)")
