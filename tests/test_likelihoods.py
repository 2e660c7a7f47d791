"""Each term of the loss (likelihoods and the KL): its gradient, and what a gradient check cannot see."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from minivae import MSE, Bernoulli, Gaussian, gradcheck
from minivae.ops import Ops
from conftest import rand

B, D, Z = 3, 6, 4
floats = st.floats(-30, 30, allow_nan=False, width=64)


LIKELIHOODS = [Bernoulli, lambda xp: Gaussian(xp, std=1.0), lambda xp: Gaussian(xp, std=0.3), MSE]
NAMES = ["bernoulli", "gaussian-1", "gaussian-0.3", "mse"]


def gaussian_kl(mu, logvar):
    return Ops(np).gaussian_kl(mu, logvar)


@pytest.mark.parametrize("make", LIKELIHOODS, ids=NAMES)
def test_nll_gradient_wrt_out_and_x(xp, make):
    lik = make(xp)
    out, x = rand(xp, (B, D), 1, 0.05, 0.95), rand(xp, (B, D), 2)
    if lik.name == "bernoulli":
        out = rand(xp, (B, D), 1, -3, 3)                      # logits
    scale = 0.25
    nll, grad = lik.nll_and_grad(out, x, scale)
    assert nll.shape == (B,) and grad.shape == (B, D)
    np.testing.assert_array_equal(np.asarray(nll.tolist()), np.asarray(lik.nll(out, x).tolist()))
    gradcheck(lambda: scale * xp.sum(lik.nll(out, x)), {"out": out}, {"out": grad})
    gradcheck(lambda: xp.sum(lik.nll(out, x)), {"x": x}, {"x": lik.grad_x(out, x)})


def test_kl_gradient_is_the_plain_backward_at_dz_0(xp):
    # reparameterize_backward with dz = 0 leaves c * dKL: the KL's own gradient.
    ops = Ops(xp)
    mu, logvar = rand(xp, (B, Z), 1, -2, 2), rand(xp, (B, Z), 2, -2, 2)
    zero = xp.zeros_like(mu)
    dmu, dlogvar = ops.reparameterize_backward(zero, zero, zero, mu, logvar, 1.0)
    gradcheck(lambda: xp.sum(ops.gaussian_kl(mu, logvar)),
              {"mu": mu, "logvar": logvar}, {"mu": dmu, "logvar": dlogvar})


def test_mse_is_the_summed_squared_error_and_the_gaussian_less_its_constant():
    rng = np.random.default_rng(0)
    mean, x = rng.random((2, 3)), rng.random((2, 3))
    sse = ((x - mean) ** 2).sum(1)
    np.testing.assert_allclose(MSE().nll(mean, x), sse, rtol=1e-14)
    # std^2 = 1/2: Gaussian NLL = SSE + (D/2) log(pi), the same gradient.
    g = Gaussian(std=math.sqrt(0.5))
    np.testing.assert_allclose(g.nll(mean, x) - 1.5 * math.log(math.pi), sse, rtol=1e-12)
    np.testing.assert_allclose(g.nll_and_grad(mean, x)[1], MSE().nll_and_grad(mean, x)[1], rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, (2, 5), elements=floats), arrays(np.float64, (2, 5), elements=floats))
def test_kl_is_nonnegative(mu, logvar):
    assert np.all(gaussian_kl(mu, logvar) >= 0)


def test_kl_is_exactly_zero_at_the_prior():
    z = np.zeros((3, 7))
    assert np.all(gaussian_kl(z, z) == 0.0)


def test_kl_matches_a_monte_carlo_estimate():
    # KL = E_q[log q(z) - log p(z)]; with 400k draws the estimate's standard error is ~0.002.
    rng = np.random.default_rng(0)
    mu, logvar = np.array([[0.7, -1.2]]), np.array([[0.5, -0.8]])
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((400_000, 2))
    log_q = -0.5 * (((z - mu) ** 2) / np.exp(logvar) + logvar + math.log(2 * math.pi)).sum(1)
    log_p = -0.5 * (z**2 + math.log(2 * math.pi)).sum(1)
    diff = log_q - log_p
    se = diff.std() / math.sqrt(len(diff))
    assert abs(diff.mean() - gaussian_kl(mu, logvar)[0]) < 5 * se


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, (2, 4), elements=st.floats(-1e4, 1e4, allow_nan=False)),
       arrays(np.float64, (2, 4), elements=st.floats(0, 1)))
def test_bernoulli_nll_is_finite_for_huge_logits(logits, x):
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow to 0 is fine
        value, grad = Bernoulli().nll_and_grad(logits, x)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))


def test_bernoulli_nll_at_extreme_logits():
    logits = np.array([[1e4, -1e4, 1e4, -1e4]])
    x = np.array([[1.0, 0.0, 0.0, 1.0]])
    # Right and confident costs 0 nats; wrong and confident costs |logit| nats.
    np.testing.assert_allclose(Bernoulli().nll(logits, x), [2e4])


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, (3, 5), elements=st.floats(-15, 15)),
       arrays(np.float64, (3, 5), elements=st.floats(0, 1)))
def test_bernoulli_nll_equals_bce_on_probabilities(logits, x):
    p = 1 / (1 + np.exp(-logits))
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(1)
    np.testing.assert_allclose(Bernoulli().nll(logits, x), bce, rtol=1e-9, atol=1e-9)


def test_gaussian_nll_is_the_normal_log_density_and_half_the_sse():
    rng = np.random.default_rng(0)
    mean, x, std = rng.random((2, 3)), rng.random((2, 3)), 0.4
    log_density = (-0.5 * ((x - mean) / std) ** 2 - math.log(std * math.sqrt(2 * math.pi))).sum(1)
    np.testing.assert_allclose(Gaussian(std=std).nll(mean, x), -log_density, rtol=1e-12)
    # With std = 1 the NLL is SSE / 2 plus a constant (D/2) log(2 pi).
    sse = ((x - mean) ** 2).sum(1)
    np.testing.assert_allclose(Gaussian(std=1.0).nll(mean, x) - 1.5 * math.log(2 * math.pi), sse / 2)


def test_a_gaussian_std_whose_square_rounds_to_zero_is_refused():
    with pytest.raises(ValueError, match="too small: its square rounds to 0"):
        Gaussian(np, std=1e-200)
    x = np.full((1, 4), 0.5)
    assert np.isfinite(Gaussian(np, std=1e-150).nll(x, x)).all()   # std^2 = 1e-300 still works


def test_a_dense_model_needs_a_hidden_layer():
    import minivae
    for cls in (minivae.VAE, minivae.Autoencoder):
        with pytest.raises(ValueError, match="at least one hidden layer"):
            cls(input_dim=8, hidden_dims=(), latent_dim=2)
