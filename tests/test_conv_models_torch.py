"""The conv VAE against the same model written with torch ops: loss and every gradient, float64.

The whole-model central-difference checks are in tests/test_conv_models.py and need no PyTorch.
"""

import numpy as np
import pytest

from minivae import to_numpy
from test_conv_models import MODELS

try:
    import torch
except ImportError:
    pytest.skip("torch is not installed: the comparisons with PyTorch need it "
                '(pip install -e ".[bench]")', allow_module_level=True)
F = torch.nn.functional


def torch_conv_vae_loss(model, tp, x, eps):
    """The conv VAE of MODELS["conv-vae-nonsquare"] written with torch ops."""
    acts = [torch.tanh, torch.sigmoid, torch.tanh]
    C, H, W = model.image_shape
    h = x.reshape(-1, H, W, C).permute(0, 3, 1, 2)                     # rows -> (B, C, H, W)
    h = acts[0](F.conv2d(h, tp["conv0.W"], tp["conv0.b"], stride=2, padding=1))
    h = acts[1](F.conv2d(h, tp["conv1.W"], tp["conv1.b"], stride=2, padding=1))
    shape = h.shape[1:]
    h = acts[2](h.flatten(1) @ tp["enc0.W"] + tp["enc0.b"])
    mu, logvar = h @ tp["mu.W"] + tp["mu.b"], h @ tp["logvar.W"] + tp["logvar.b"]
    z = mu + torch.exp(0.5 * logvar) * eps
    d = torch.tanh(z @ tp["dec0.W"] + tp["dec0.b"])                   # decoder mirrors: tanh,
    d = torch.sigmoid(d @ tp["dec1.W"] + tp["dec1.b"]).reshape(-1, *shape)   # sigmoid, tanh
    ops = [m.output_padding for m in model.decoder if hasattr(m, "output_padding")]
    d = torch.tanh(F.conv_transpose2d(d, tp["deconv0.W"], tp["deconv0.b"], stride=2, padding=1,
                                      output_padding=ops[0]))
    out = F.conv_transpose2d(d, tp["out.W"], tp["out.b"], stride=2, padding=1,
                             output_padding=ops[1]).permute(0, 2, 3, 1).reshape(x.shape)
    recon = F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)
    return torch.mean(recon + kl)


def test_conv_vae_matches_torch_autograd():
    model = MODELS["conv-vae-nonsquare"]()
    rng = np.random.default_rng(1)
    x, eps = rng.random((4, model.input_dim)), rng.normal(size=(4, model.latent_dim))
    loss, _ = model.loss_and_grads(x, eps)
    tp = {k: torch.tensor(to_numpy(v), requires_grad=True) for k, v in model.params.items()}
    ref = torch_conv_vae_loss(model, tp, torch.tensor(x), torch.tensor(eps))
    ref.backward()
    assert abs(float(loss) - ref.item()) < 1e-8 * abs(ref.item())
    for k, t in tp.items():
        g = to_numpy(model.grads[k])
        assert np.abs(g - t.grad.numpy()).max() <= 1e-8 * np.abs(t.grad.numpy()).max(), k
