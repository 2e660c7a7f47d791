"""Conv2d and ConvTranspose2d against PyTorch's F.conv2d / F.conv_transpose2d: forward, dx, dW, db.

The central-difference checks of the same layers are in tests/test_conv.py and need no PyTorch.
"""

import numpy as np
import pytest

from minivae import to_numpy
from minivae.conv import Conv2d, ConvTranspose2d
from test_conv import COMBOS, IDS

try:
    import torch
except ImportError:
    pytest.skip("torch is not installed: the comparisons with PyTorch need it "
                '(pip install -e ".[bench]")', allow_module_level=True)
F = torch.nn.functional


def relative(a, b):
    a, b = to_numpy(a), b.detach().numpy()
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


@pytest.mark.parametrize("transpose", [False, True], ids=["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("combo", COMBOS, ids=IDS)
def test_forward_and_gradients_match_torch(combo, transpose):
    C, O, k, s, p, H, W = combo
    op = (s - 1, min(1, s - 1))
    layer = (ConvTranspose2d(C, O, k, stride=s, padding=p, output_padding=op, dtype="float64",
                             seed=2) if transpose else
             Conv2d(C, O, k, stride=s, padding=p, dtype="float64", seed=2))
    x = np.random.default_rng(3).normal(size=(3, C, H, W))
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, layer.W.copy(), layer.b.copy()))
    yt = (F.conv_transpose2d(xt, Wt, bt, stride=s, padding=p, output_padding=op) if transpose
          else F.conv2d(xt, Wt, bt, stride=s, padding=p))
    dy = np.random.default_rng(4).normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    y = layer.forward(x)
    dx = layer.backward(dy)
    assert y.shape == tuple(yt.shape)
    for ours, theirs in ((y, yt), (dx, xt.grad), (layer.dW, Wt.grad), (layer.db, bt.grad)):
        assert relative(ours, theirs) < 1e-8


def test_taps_that_only_ever_read_padding():
    # H = 1, kernel 3, padding 2, stride 3: tap u = 0 reads row -2 for the only output row
    conv = Conv2d(2, 3, 3, stride=3, padding=2, dtype="float64", seed=5)
    x = np.random.default_rng(0).normal(size=(2, 2, 1, 4))
    xt, Wt = torch.tensor(x, requires_grad=True), torch.tensor(conv.W.copy(), requires_grad=True)
    yt = F.conv2d(xt, Wt, torch.tensor(conv.b.copy()), stride=3, padding=2)
    yt.backward(torch.ones_like(yt))
    y = conv.forward(x)
    dx = conv.backward(np.ones(y.shape))
    assert relative(y, yt) < 1e-12 and relative(dx, xt.grad) < 1e-12 and relative(conv.dW, Wt.grad) < 1e-12
