"""Every kind of model computes on the GPU what it computes on the CPU, and saves the same bits.

Each test builds a model on the CPU and the same model on "cuda" (CuPy on a
GPU, or the CPU stand-in for CuPy without one: tests/conftest.py), gives both
the same weights, data and noise, and compares the loss, its parts and every
gradient in float64 (relative error < 1e-10): the k-sample objectives with
(K, B, Z) eps through the fused kernels, the conv VAE and autoencoder, the
CVAE. Then a GPU model saved and loaded back, on the GPU and on the CPU,
holds the same bits.

On the stand-in the GPU side runs NumPy too, so these prove that the GPU code
path computes the same maths (no NumPy call on a device array, no host array
in device arithmetic, kernel bodies right); on a GPU they also measure its
float64 numerics against NumPy's.
"""

import numpy as np
import pytest

from minivae import CVAE, IWAE, VAE, Autoencoder, load_model
from minivae.backend import get_array_module, get_xp, to_numpy

F64 = dict(dtype="float64", seed=0)
DENSE = dict(input_dim=12, hidden_dims=(9,), latent_dim=3, activation="tanh", **F64)
CONV = dict(arch="conv", image_shape=(1, 8, 8), channels=(3, 4), kernel_size=4, stride=2,
            padding=1, hidden_dims=(6,), latent_dim=2, **F64)
MODELS = {   # each takes device= and may take dtype=
    "iwae-k4": lambda **kw: IWAE(k=4, objective="iwae", **{**DENSE, **kw}),
    "elbo-k4": lambda **kw: IWAE(k=4, objective="elbo", **{**DENSE, **kw}),
    "iwae-k4-gaussian": lambda **kw: IWAE(k=4, likelihood="gaussian", gaussian_std=0.5,
                                          **{**DENSE, **kw}),
    "conv-vae": lambda **kw: VAE(**{**CONV, **kw}),
    "conv-autoencoder": lambda **kw: Autoencoder(**{**CONV, **kw}),
    "conv-autoencoder-feature-map": lambda **kw: Autoencoder(
        **{**CONV, "hidden_dims": (), "latent_dim": None, **kw}),
    "cvae": lambda **kw: CVAE(num_classes=4, **{**DENSE, **kw}),
}


def pair(kind):
    """(cpu model, cuda model) with the CPU model's weights on both."""
    cpu, gpu = MODELS[kind](device="cpu"), MODELS[kind](device="cuda")
    for name, value in cpu.params.items():
        gpu.params[name][...] = gpu.xp.asarray(value)
    return cpu, gpu


def inputs(model, B=5, seed=1):
    """(x, eps, extra args) on the CPU: x (B, D), eps (K, B, Z) or (B, Z), a CVAE's labels."""
    rng = np.random.default_rng(seed)
    x = (rng.random((B, model.input_dim)) > 0.5).astype(np.float64)
    k = getattr(model, "k", None)
    eps = rng.standard_normal(((k,) if k else ()) + (B, model.latent_dim))
    extra = (rng.integers(0, model.num_classes, B),) if model.kind == "cvae" else ()
    return x, eps, extra


def assert_close(got, want, what):
    got = to_numpy(got)
    scale = max(np.abs(want).max(), 1e-300)
    assert np.abs(got - want).max() <= 1e-10 * scale, f"{what}: GPU and CPU differ"


@pytest.mark.cuda
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_the_gpu_step_equals_the_cpu_step(kind):
    cpu, gpu = pair(kind)
    x, eps, extra = inputs(cpu)
    xp = gpu.xp
    loss, parts = cpu.loss_and_grads(x, *extra, eps)
    gloss, gparts = gpu.loss_and_grads(xp.asarray(x), *map(xp.asarray, extra), xp.asarray(eps))
    assert get_array_module(gloss) is xp and gloss.shape == ()
    assert_close(gloss, np.asarray(loss), "loss")
    for name in parts:
        assert_close(gparts[name], np.asarray(parts[name]), name)
    for name in cpu.grads:
        assert_close(gpu.grads[name], cpu.grads[name], f"d loss / d {name}")


@pytest.mark.cuda
@pytest.mark.parametrize("kind", ["iwae-k4", "elbo-k4", "conv-vae"])
def test_the_gpu_loss_without_gradients_equals_the_cpu_loss(kind):
    cpu, gpu = pair(kind)
    x, eps, _ = inputs(cpu)
    loss, parts = cpu.loss(x, eps, reduce=False)                      # (B,)
    gloss, gparts = gpu.loss(gpu.xp.asarray(x), gpu.xp.asarray(eps), reduce=False)
    assert_close(gloss, loss, "per-example loss")
    for name in parts:
        assert_close(gparts[name], parts[name], name)


@pytest.mark.cuda
@pytest.mark.parametrize("kind", ["iwae-k4", "conv-vae", "conv-autoencoder", "cvae"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_gpu_model_saved_loads_bit_for_bit_on_the_gpu_and_on_the_cpu(tmp_path, kind, dtype):
    model = MODELS[kind](device="cuda", dtype=dtype)
    x, eps, extra = inputs(model)
    xp = model.xp
    model.loss_and_grads(xp.asarray(x), *map(xp.asarray, extra), xp.asarray(eps))
    path = tmp_path / "model.npz"
    model.save(path)
    on_gpu, on_cpu = load_model(path, device="cuda"), load_model(path, device="cpu")
    assert type(on_gpu) is type(model) is type(on_cpu)
    assert get_array_module(on_gpu.params.flat) is xp and get_array_module(on_cpu.params.flat) is np
    want = to_numpy(model.params.flat)
    assert want.dtype == dtype
    for loaded in (on_gpu, on_cpu):
        got = to_numpy(loaded.params.flat)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
        assert loaded.config() == model.config()


@pytest.mark.cuda
def test_reconstruct_and_sample_return_device_arrays():
    _, gpu = pair("conv-vae")
    xp = get_xp("cuda")
    x = xp.asarray(inputs(gpu)[0])
    for out in (gpu.reconstruct(x), gpu.sample(3), gpu.decode(xp.zeros((2, 2)))):
        assert get_array_module(out) is xp and out.shape[1] == gpu.input_dim
