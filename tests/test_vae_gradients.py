"""The whole model's gradients, in float64, against central differences.

Small models (D = 10) keep the loss at a few nats, where four-point central
differences resolve relative errors far below 1e-6 (see gradcheck.py).
"""

import pytest

from minivae import VAE, Autoencoder, check_model
from conftest import rand

D, Z, B = 10, 3, 5
WORST = {}   # name -> worst error; conftest.py prints the worst one in the test summary


def record(name, result):
    WORST[name] = result.max_error
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("hidden", [(7,), (8, 6)])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_vae_gradients(device, xp, likelihood, hidden, activation):
    model = VAE(input_dim=D, hidden_dims=hidden, latent_dim=Z, likelihood=likelihood,
                activation=activation, beta=0.7, dtype="float64", device=device, seed=3)
    eps = rand(xp, (B, Z), seed=9, low=-2, high=2)
    result = check_model(model, rand(xp, (B, D), seed=1), eps)
    assert set(result.errors) == set(model.params) | {"x"}
    record(f"vae-{likelihood}-{hidden}-{activation}", result)


@pytest.mark.parametrize("activation", ["leaky_relu", "sigmoid"])
def test_vae_gradients_other_activations_and_decoder(device, xp, activation):
    model = VAE(input_dim=D, hidden_dims=(6,), decoder_hidden_dims=(5, 4), latent_dim=Z,
                activation=activation, beta=2.5, likelihood="gaussian", gaussian_std=0.5,
                dtype="float64", device=device, seed=6)
    record(f"vae-{activation}", check_model(model, rand(xp, (B, D), seed=2), rand(xp, (B, Z), seed=3)))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_autoencoder_gradients(device, xp, likelihood):
    model = Autoencoder(input_dim=D, hidden_dims=(7, 5), latent_dim=Z, likelihood=likelihood,
                        dtype="float64", device=device, seed=5)
    record(f"ae-{likelihood}", check_model(model, rand(xp, (B, D), seed=4)))


def test_gradcheck_catches_a_wrong_backward(xp, device):
    """The check can fail: a 1% error in one gradient (logvar.W) is caught and named."""
    model = VAE(input_dim=D, hidden_dims=(7,), latent_dim=Z, dtype="float64", device=device, seed=3)
    original = model.loss_and_grads

    def wrong(x, eps=None, input_grad=False):
        loss, parts = original(x, eps, input_grad)
        model.grads["logvar.W"][...] *= 1.01   # a 1% error in one gradient
        return loss, parts

    model.loss_and_grads = wrong
    result = check_model(model, rand(xp, (B, D)), rand(xp, (B, Z)), raise_on_failure=False)
    assert result.name == "logvar.W" and result.max_error > 1e-3
