"""The k-sample objectives against PyTorch autograd: loss and every gradient, float64, < 1e-8."""

import math

import numpy as np
import pytest

from minivae import IWAE

try:
    import torch
except ImportError:
    pytest.skip("torch is not installed: the comparisons with PyTorch need it "
                '(pip install -e ".[bench]")', allow_module_level=True)
from test_torch_reference import assert_matches_torch  # noqa: E402  (after the skip)
F = torch.nn.functional


def torch_objective(model, tp, x, eps):
    """-mean_b L_K (iwae) or the k-sample ELBO, written with torch ops on the same weights."""
    def dense(h, name):
        return h @ tp[f"{name}.W"] + tp[f"{name}.b"]

    h = x
    for i in range(len(model.hidden_dims)):
        h = torch.tanh(dense(h, f"enc{i}"))
    mu, logvar = dense(h, "mu"), dense(h, "logvar")
    z = mu + torch.exp(0.5 * logvar) * eps                        # (K, B, Z)
    out = z
    for i in range(len(model.decoder_hidden_dims)):
        out = torch.tanh(dense(out, f"dec{i}"))
    out = dense(out, "out")                                       # (K, B, D)
    xk = x.expand(eps.shape[0], *x.shape)
    if model.likelihood.name == "bernoulli":
        log_px = -F.binary_cross_entropy_with_logits(out, xk, reduction="none").sum(-1)
    elif model.likelihood.name == "mse":
        log_px = -((xk - torch.sigmoid(out)) ** 2).sum(-1)
    else:
        s = model.gaussian_std
        log_px = -(0.5 * ((xk - torch.sigmoid(out)) / s) ** 2 + math.log(s)
                   + 0.5 * math.log(2 * math.pi)).sum(-1)
    if model.objective == "elbo":
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)
        return torch.mean(-log_px.mean(0) + model.beta * kl)
    # log N(z; 0, I) - log N(z; mu, sigma^2), written out in full, constants included
    log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_qz = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    log_w = log_px + log_pz - log_qz                              # (K, B)
    return -torch.mean(torch.logsumexp(log_w, 0) - math.log(eps.shape[0]))


@pytest.mark.parametrize("objective,k,likelihood", [
    ("iwae", 1, "bernoulli"), ("iwae", 5, "bernoulli"), ("iwae", 50, "bernoulli"),
    ("iwae", 5, "gaussian"), ("iwae", 3, "mse"), ("elbo", 5, "bernoulli"), ("elbo", 4, "gaussian"),
])
def test_matches_torch_autograd(objective, k, likelihood):
    model = IWAE(input_dim=30, hidden_dims=(20, 12), latent_dim=4, likelihood=likelihood,
                gaussian_std=0.5, activation="tanh", dtype="float64", seed=0, k=k,
                objective=objective, beta=1.0 if objective == "iwae" else 2.0)
    rng = np.random.default_rng(0)
    x = rng.random((16, 30))
    if likelihood == "bernoulli":
        x = (x > 0.5) * 1.0
    eps = rng.standard_normal((k, 16, 4))
    assert_matches_torch(model, x, eps, torch_objective)
