"""Backend selection: clear errors, and one seeded generator per model."""

import numpy as np
import pytest

from minivae import VAE
from minivae.backend import Generator, cuda_available, get_xp, resolve_device, resolve_dtype


def test_cpu_is_numpy_and_auto_resolves():
    assert get_xp("cpu") is np
    assert resolve_device("auto") == ("cuda" if cuda_available() else "cpu")


@pytest.mark.skipif(cuda_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="device='cuda' needs CuPy and an NVIDIA GPU"):
        VAE(device="cuda")


def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("int8")


def test_generator_draws_float32_directly_and_is_seeded(xp):
    a, b = Generator(xp, 3), Generator(xp, 3)
    x = a.normal((4, 5), dtype=np.float32)
    assert x.dtype == np.float32 and x.shape == (4, 5)
    np.testing.assert_array_equal(np.asarray(x.tolist()), np.asarray(b.normal((4, 5)).tolist()))


def test_generator_state_round_trips_on_the_cpu():
    import json
    g = Generator(np, 0)
    g.normal((10,))
    state = json.loads(json.dumps(g.state()))
    expected = g.normal((5,))
    h = Generator(np, 99)
    h.set_state(state)
    np.testing.assert_array_equal(h.normal((5,)), expected)


def test_importing_minivae_does_not_load_cupy():
    """CuPy (half a second to load) is imported when a GPU is first asked for, not before."""
    import subprocess
    import sys
    code = ("import sys, numpy as np, minivae; m = minivae.VAE(input_dim=8, hidden_dims=(4,), "
            "latent_dim=2); minivae.Adam(m.params); minivae.to_numpy(np.zeros(2)); "
            "print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
