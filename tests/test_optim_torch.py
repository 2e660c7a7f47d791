"""Adam against torch.optim.Adam, weight decay included, six steps, float64."""

import numpy as np
import pytest

from minivae import Adam

try:
    import torch
except ImportError:
    pytest.skip("torch is not installed: the comparisons with PyTorch need it "
                '(pip install -e ".[bench]")', allow_module_level=True)


def test_adam_matches_torch():
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal(10)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.Adam([tp], lr=1e-2, weight_decay=0.05)
    params = {"w": p0.copy()}
    opt = Adam(params, lr=1e-2, weight_decay=0.05)
    for _ in range(6):
        g = rng.standard_normal(10)
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step({"w": g})
    np.testing.assert_allclose(params["w"], tp.detach().numpy(), rtol=1e-12)
