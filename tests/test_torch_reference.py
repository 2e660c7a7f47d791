"""Loss and every gradient against PyTorch autograd, same weights and eps, float64.

Skipped (visibly) where PyTorch is not installed: `pip install -e ".[bench]"`.
"""

import numpy as np
import pytest

from minivae import VAE, Autoencoder, to_numpy

try:
    import torch
except ImportError:
    pytest.skip("torch is not installed: the comparisons with PyTorch need it "
                '(pip install -e ".[bench]")', allow_module_level=True)
F = torch.nn.functional
ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
       "leaky_relu": lambda h: F.leaky_relu(h, 0.01)}


def torch_loss(model, tp, x, eps):
    """The same model written with torch ops; tp: name -> leaf tensor."""
    act = ACT[model.activation]

    def mlp(h, names, last_plain):
        for i, n in enumerate(names):
            h = h @ tp[f"{n}.W"] + tp[f"{n}.b"]
            if not (last_plain and i == len(names) - 1):
                h = act(h)
        return h

    enc = [n for n in dict.fromkeys(k.split(".")[0] for k in tp) if n.startswith("enc")]
    dec = [n for n in dict.fromkeys(k.split(".")[0] for k in tp) if n.startswith("dec")] + ["out"]
    h = mlp(x, enc, last_plain=False)
    if isinstance(model, VAE):
        mu = h @ tp["mu.W"] + tp["mu.b"]
        logvar = h @ tp["logvar.W"] + tp["logvar.b"]
        z = mu + torch.exp(0.5 * logvar) * eps
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)
    else:
        z = h @ tp["code.W"] + tp["code.b"]
        kl = torch.zeros(x.shape[0], dtype=x.dtype)
    out = mlp(z, dec, last_plain=True)
    if model.likelihood.name == "bernoulli":
        recon = F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    elif model.likelihood.name == "mse":
        recon = ((x - torch.sigmoid(out)) ** 2).sum(1)
    else:
        mean, s = torch.sigmoid(out), model.gaussian_std
        recon = (0.5 * ((x - mean) / s) ** 2 + np.log(s) + 0.5 * np.log(2 * np.pi)).sum(1)
    beta = getattr(model, "beta", 1.0)
    return torch.mean(recon + beta * kl)


@pytest.mark.parametrize("make", [
    lambda: VAE(input_dim=30, hidden_dims=(20,), latent_dim=4, dtype="float64", seed=0),
    lambda: VAE(input_dim=30, hidden_dims=(20, 12), latent_dim=4, beta=3.0, activation="tanh",
                likelihood="gaussian", gaussian_std=0.3, dtype="float64", seed=1),
    lambda: VAE(input_dim=30, hidden_dims=(16,), decoder_hidden_dims=(8, 10), latent_dim=3,
                activation="leaky_relu", dtype="float64", seed=2),
    lambda: Autoencoder(input_dim=30, hidden_dims=(20,), latent_dim=4, activation="sigmoid",
                        dtype="float64", seed=3),
], ids=["vae-bernoulli", "vae-gaussian-deep-beta3", "vae-leaky-asym", "ae-sigmoid"])
def test_matches_torch_autograd(make):
    model = make()
    rng = np.random.default_rng(0)
    x = rng.random((16, 30))
    eps = rng.standard_normal((16, model.latent_dim))
    assert_matches_torch(model, x, eps, torch_loss)


def assert_matches_torch(model, x, eps, torch_fn):
    """model.loss_and_grads at (x, eps) against torch_fn(model, params, x, eps)'s autograd."""
    loss, _ = model.loss_and_grads(x, eps, input_grad=True)

    tp = {k: torch.tensor(to_numpy(v), requires_grad=True) for k, v in model.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    tl = torch_fn(model, tp, tx, torch.tensor(eps))
    tl.backward()

    assert abs(float(loss) - tl.item()) <= 1e-12 * abs(tl.item())
    for name, t in list(tp.items()) + [("x", tx)]:
        ours = to_numpy(model.input_grad if name == "x" else model.grads[name])
        ref = t.grad.numpy()
        rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
        assert rel < 1e-8, f"{name}: relative error {rel:.2e}"
