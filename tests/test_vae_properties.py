"""What a gradient check cannot see: the sampler's distribution, which eps
backward uses, Adam's first step, float32 against float64, and the API's edges."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minivae import VAE, Adam, Autoencoder, to_numpy
from conftest import rand

D, Z = 12, 3


def first_dense(model):
    return model.decoder[0]   # its cached input is z


@settings(max_examples=15, deadline=None)
@given(mu=st.lists(st.floats(-3, 3), min_size=Z, max_size=Z),
       logvar=st.lists(st.floats(-4, 3), min_size=Z, max_size=Z),
       seed=st.integers(0, 2**31 - 1))
def test_sampler_draws_mean_mu_and_variance_exp_logvar(mu, logvar, seed):
    """z = mu + exp(logvar/2) eps must have mean mu and variance exp(logvar).

    Zeroing the heads' weights makes mu and logvar equal their biases for
    every input. Over N draws the sample mean has standard error sigma/sqrt(N)
    and the sample variance sigma^2 sqrt(2/(N-1)); we allow 5 of each. (The
    bug z = mu + exp(logvar) eps would give variance exp(2 logvar): caught
    whenever logvar is not ~0.)
    """
    model = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, dtype="float64", seed=seed)
    for head, values in (("mu", mu), ("logvar", logvar)):
        model.params[f"{head}.W"][...] = 0
        model.params[f"{head}.b"][...] = np.array(values)
    N = 20_000
    model.loss(np.random.default_rng(seed).random((N, D)))   # eps drawn by the model
    z = first_dense(model).x                                  # (N, Z)
    sigma2 = np.exp(logvar)
    assert np.all(np.abs(z.mean(0) - mu) < 5 * np.sqrt(sigma2 / N))
    assert np.all(np.abs(z.var(0, ddof=1) - sigma2) < 5 * sigma2 * math.sqrt(2 / (N - 1)))


def test_backward_uses_the_eps_of_its_own_forward(device, xp):
    """With eps=None, the gradients are those of the eps the forward drew, not a stale one."""
    model = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, dtype="float64", device=device, seed=1)
    x = rand(xp, (6, D))
    model.loss_and_grads(x)                    # draws eps_1
    model.loss_and_grads(x)                    # draws eps_2: backward must use eps_2
    drawn = {k: g.copy() for k, g in model.grads.items()}
    # A twin with the same seed draws the same eps_1, eps_2; give it eps_2 explicitly.
    twin = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, dtype="float64", device=device, seed=1)
    twin.rng.normal((6, Z), dtype=np.float64)  # skip eps_1
    eps_2 = twin.rng.normal((6, Z), dtype=np.float64)
    twin.loss_and_grads(x, eps_2)
    for name in drawn:
        np.testing.assert_array_equal(to_numpy(drawn[name]), to_numpy(twin.grads[name]), err_msg=name)


def test_the_eps_passed_in_is_the_eps_used(device, xp):
    model = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, dtype="float64", device=device, seed=1)
    x, eps = rand(xp, (6, D)), rand(xp, (6, Z), seed=5, low=-2, high=2)
    model.loss_and_grads(x, eps)
    first = {k: g.copy() for k, g in model.grads.items()}
    model.loss_and_grads(x)                    # a different, drawn eps...
    model.loss_and_grads(x, eps)               # ...then the given one again: same gradients
    for name in first:
        np.testing.assert_array_equal(to_numpy(first[name]), to_numpy(model.grads[name]), err_msg=name)
    mu, logvar = model.encode(x)
    model.loss(x, eps)
    np.testing.assert_allclose(to_numpy(first_dense(model).x), to_numpy(mu + xp.exp(0.5 * logvar) * eps))


def test_adam_first_step_moves_each_parameter_by_about_lr(device, xp):
    model = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, device=device, seed=2)
    before = {k: to_numpy(p).copy() for k, p in model.params.items()}
    model.loss_and_grads(rand(xp, (16, D)))
    grads = {k: to_numpy(g).copy() for k, g in model.grads.items()}
    Adam(model.params, lr=1e-3).step(model.grads)
    for name, p in model.params.items():
        step = np.abs(to_numpy(p) - before[name])
        g = np.abs(grads[name])
        # step 1: lr * g / (|g| + eps): ~lr where |g| >> eps = 1e-8 (float32 rounding of p ~1e-7 aside).
        big = g > 1e-5
        np.testing.assert_allclose(step[big], 1e-3, rtol=1e-3, err_msg=name)
        assert np.all(step <= 1e-3 * (1 + 1e-3))


def test_float32_and_float64_give_the_same_loss(device, xp):
    m64 = VAE(input_dim=784, hidden_dims=(400,), latent_dim=20, dtype="float64", device=device, seed=0)
    m32 = VAE(input_dim=784, hidden_dims=(400,), latent_dim=20, dtype="float32", device=device, seed=0)
    for name in m64.params:
        m32.params[name][...] = m64.params[name].astype(np.float32)
        m64.params[name][...] = m32.params[name]     # both hold the float32-representable weights
    x, eps = rand(xp, (64, 784)), rand(xp, (64, 20), seed=1, low=-2, high=2)
    l64, p64 = m64.loss(x, eps)
    l32, p32 = m32.loss(x.astype(np.float32), eps.astype(np.float32))
    # A sum of ~1e3 float32 terms of ~1 each: relative rounding ~1e-7 * sqrt(1e3) per term; 1e-5 is generous.
    assert abs(float(l32) - float(l64)) <= 1e-5 * abs(float(l64))
    for k in ("recon", "kl"):
        assert abs(float(p32[k]) - float(p64[k])) <= 1e-5 * abs(float(p64[k])) + 1e-5


def test_public_api_shapes(device, xp):
    model = VAE(input_dim=D, hidden_dims=(8, 6), latent_dim=Z, device=device)
    x = rand(xp, (5, D)).astype(np.float32)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, Z)
    assert model.decode(mu).shape == (5, D)
    assert model.reconstruct(x).shape == (5, D)
    s = to_numpy(model.sample(7))
    assert s.shape == (7, D) and np.all((s >= 0) & (s <= 1))
    loss, parts = model.loss_and_grads(x)
    assert loss.shape == () and math.isfinite(float(loss))
    assert float(loss) == pytest.approx(float(parts["recon"]) + float(parts["kl"]), rel=1e-6)
    names = list(model.params)
    assert names == ["enc0.W", "enc0.b", "enc1.W", "enc1.b", "mu.W", "mu.b", "logvar.W", "logvar.b",
                     "dec0.W", "dec0.b", "dec1.W", "dec1.b", "out.W", "out.b"]
    assert list(model.grads) == names
    assert model.params["enc0.W"].shape == (D, 8) and model.params["out.b"].shape == (D,)


def test_images_are_flattened_and_bad_shapes_are_clear_errors():
    model = VAE(input_dim=16, hidden_dims=(8,), latent_dim=2)
    model.loss(np.random.rand(3, 4, 4))                       # (B, 4, 4) -> (B, 16)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 16\); got \(3, 15\)"):
        model.loss(np.random.rand(3, 15))
    with pytest.raises(ValueError, match=r"eps must have shape \(B, 2\)"):
        model.loss(np.random.rand(3, 16), eps=np.zeros((3, 5)))


def test_no_rows_or_no_samples_are_named_not_divided_by():
    model = VAE(input_dim=16, hidden_dims=(8,), latent_dim=2)
    for method in (model.loss_and_grads, model.loss):
        with pytest.raises(ValueError, match=r"x holds no rows \(shape \(0, 16\)\)"):
            method(np.zeros((0, 16)))
    for n in (0, -1):
        with pytest.raises(ValueError, match=f"n must be a positive integer, got {n}"):
            model.sample(n)


def test_pixels_of_0_to_255_are_named_and_0_or_1_integers_train():
    """MNIST loads as uint8 0..255; the model reads [0, 1]: a forgotten / 255 gave a loss of
    -1423 without a word. Integer 0/1 pixels (binarized images) are data like any other."""
    model = VAE(input_dim=16, hidden_dims=(8,), latent_dim=2, dtype="float64", seed=0)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 4, 4)).astype(np.uint8)
    for method in (model.loss_and_grads, model.loss, model.reconstruct, model.encode):
        with pytest.raises(ValueError, match=r"x holds integers up to \d+, and the model reads "
                                             r"pixels in \[0, 1\]: divide them by 255"):
            method(pixels)
    binary = (pixels > 127).astype(np.int64)
    eps = np.zeros((3, 2))
    assert float(model.loss(binary, eps)[0]) == float(model.loss(binary.astype(float), eps)[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"likelihood": "poisson"}, "likelihood must be one of"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"latent_dim": 0}, "latent_dim must be a positive integer"),
    ({"hidden_dims": (400, -1)}, "hidden_dims entry must be a positive integer"),
    ({"hidden_dims": "400"}, r"hidden_dims must be a list or tuple .* got '400'"),  # not 4, 0, 0
    ({"hidden_dims": 400}, r"hidden_dims must be a list or tuple .*e\.g\. \(400,\); got 400"),
    ({"decoder_hidden_dims": "64"}, "decoder_hidden_dims must be a list or tuple"),
    ({"beta": float("nan")}, "beta must be"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"device": "tpu"}, "device must be one of"),
])
def test_bad_constructor_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VAE(**kwargs)


def test_seed_makes_models_reproducible():
    a, b = VAE(seed=5), VAE(seed=5)
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert not np.array_equal(a.params.flat, VAE(seed=6).params.flat)


def test_autoencoder_has_no_kl():
    model = Autoencoder(input_dim=D, hidden_dims=(8,), latent_dim=Z)
    loss, parts = model.loss_and_grads(np.random.rand(4, D))
    assert float(parts["kl"]) == 0.0 and float(loss) == float(parts["recon"])
    assert model.encode(np.random.rand(4, D)).shape == (4, Z)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_per_example_loss_averages_to_the_batch_loss(device, xp, likelihood):
    """loss(reduce=False) gives each example's terms; their means are loss() and loss_and_grads()."""
    model = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, likelihood=likelihood, beta=2.5,
                dtype="float64", device=device, seed=4)
    x, eps = rand(xp, (6, D)), rand(xp, (6, Z), seed=5, low=-2, high=2)
    per, parts = model.loss(x, eps, reduce=False)
    per, recon, kl = (to_numpy(a) for a in (per, parts["recon"], parts["kl"]))
    assert per.shape == recon.shape == kl.shape == (6,)
    np.testing.assert_allclose(per, recon + 2.5 * kl, rtol=1e-12)
    # Each row alone gives the same numbers: nothing is mixed across the batch.
    row = model.loss(x[2:3], eps[2:3], reduce=False)[0]
    assert float(row[0]) == pytest.approx(per[2], rel=1e-12)
    for mean in (model.loss(x, eps), model.loss_and_grads(x, eps)):
        assert float(mean[0]) == pytest.approx(per.mean(), rel=1e-12)
        assert float(mean[1]["recon"]) == pytest.approx(recon.mean(), rel=1e-12)
        assert float(mean[1]["kl"]) == pytest.approx(kl.mean(), rel=1e-12)


def test_autoencoder_per_example_loss_is_its_reconstruction_term():
    model = Autoencoder(input_dim=D, hidden_dims=(8,), latent_dim=Z, dtype="float64")
    x = np.random.default_rng(0).random((5, D))
    per, parts = model.loss(x, reduce=False)
    assert per.shape == (5,) and not parts["kl"].any()
    np.testing.assert_array_equal(per, parts["recon"])
    assert float(model.loss(x)[0]) == pytest.approx(per.mean(), rel=1e-12)
    np.testing.assert_allclose(per, -model.log_px_given_z(model.encode(x), x), rtol=1e-12)


def test_log_px_given_z_is_the_likelihood_written_out():
    """Bernoulli: sum_d x log p + (1 - x) log(1 - p); Gaussian: sum_d log N(x; m, s^2)."""
    rng = np.random.default_rng(1)
    x, z = rng.random((4, D)), rng.standard_normal((4, Z))
    bern = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, dtype="float64", seed=2)
    p = bern.decode(z)                                     # (4, D) pixel probabilities
    expected = (x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)
    np.testing.assert_allclose(bern.log_px_given_z(z, x), expected, rtol=1e-10)
    s = 0.3
    gauss = VAE(input_dim=D, hidden_dims=(8,), latent_dim=Z, likelihood="gaussian",
                gaussian_std=s, dtype="float64", seed=2)
    m = gauss.decode(z)                                    # (4, D) means
    expected = (-0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)).sum(axis=1)
    np.testing.assert_allclose(gauss.log_px_given_z(z, x), expected, rtol=1e-10)
    with pytest.raises(ValueError, match=r"z must have shape \(B, 3\)"):
        bern.log_px_given_z(np.zeros((4, 5)), x)
