"""Conv2d, ConvTranspose2d and the reshaping layers: central differences, shapes and errors.

No PyTorch needed; tests/test_conv_torch.py compares the same layers with PyTorch's numbers.
"""

import numpy as np
import pytest

import minivae
from minivae import gradcheck
from minivae.conv import Conv2d, ConvTranspose2d, col2im, im2col
from minivae.architecture import Flatten, InputLayer, Unflatten
from conftest import rand

# (C, O, kernel, stride, padding, H, W): square and not, stride above, at and below the kernel
COMBOS = [(3, 12, 4, 2, 1, 8, 6), (2, 5, 3, 1, 1, 7, 9), (1, 4, 5, 3, 2, 11, 8),
          (3, 2, 1, 1, 0, 5, 4), (2, 3, 2, 3, 0, 7, 8), (2, 2, 3, 2, 2, 4, 5)]
IDS = [f"C{c}O{o}k{k}s{s}p{p}" for c, o, k, s, p, _, _ in COMBOS]


def check(layer, x, xp):
    """Gradient-check sum(layer(x) * R) with respect to x, W and b."""
    R = rand(xp, layer.forward(x).shape, seed=7, low=-1)         # upstream gradient
    layer.forward(x)
    dx = layer.backward(R)
    analytic = {"x": dx.copy(), "W": layer.dW.copy(), "b": layer.db.copy()}
    result = gradcheck(lambda: xp.sum(layer.forward(x) * R), {"x": x, "W": layer.W, "b": layer.b},
                       analytic)
    assert result.max_error < 1e-6 and result.checked == x.size + layer.W.size + layer.b.size


@pytest.mark.parametrize("combo", COMBOS, ids=IDS)
def test_conv2d_gradients(combo, xp):
    C, O, k, s, p, H, W = combo
    check(Conv2d(C, O, k, stride=s, padding=p, dtype="float64", seed=1, xp=xp),
          rand(xp, (2, C, H, W), low=-1), xp)


@pytest.mark.parametrize("combo", COMBOS, ids=IDS)
def test_conv_transpose2d_gradients(combo, xp):
    C, O, k, s, p, H, W = combo
    op = (s - 1, 0)                                              # rows padded, columns not
    check(ConvTranspose2d(C, O, k, stride=s, padding=p, output_padding=op, dtype="float64",
                          seed=1, xp=xp), rand(xp, (2, C, H, W), low=-1), xp)


def test_the_issue_api_and_pytorch_layouts():
    conv = minivae.Conv2d(3, 12, 4, stride=2, padding=1, dtype="float64", seed=0)
    assert conv.W.shape == (12, 3, 4, 4) and conv.b.shape == (12,)
    x = np.random.default_rng(0).normal(size=(5, 3, 16, 10))
    y = conv.forward(x)
    assert y.shape == (5, 12, 8, 5)
    dx = conv.backward(np.ones_like(y))
    assert dx.shape == x.shape and np.abs(conv.dW).sum() > 0 and np.allclose(conv.db, 8 * 5 * 5)
    up = minivae.ConvTranspose2d(48, 24, 4, stride=2, padding=1, dtype="float64", seed=0)
    assert up.W.shape == (48, 24, 4, 4)
    assert up.forward(np.zeros((2, 48, 8, 8))).shape == (2, 24, 16, 16)
    # PyTorch's default initialisation bound 1/sqrt(fan_in), fan_in = W.shape[1] k^2
    assert np.abs(conv.W).max() <= 1 / np.sqrt(3 * 16) and np.abs(up.W).max() <= 1 / np.sqrt(24 * 16)
    assert np.abs(up.W).max() > 0.9 / np.sqrt(24 * 16)


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), c> = <x, col2im(c)> for every x and c: the identity backward relies on
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6))
    cols = im2col(x, 3, 2, 1)
    c = rng.normal(size=cols.shape)
    assert np.isclose((cols * c).sum(), (x * col2im(c, x.shape, 3, 2, 1)).sum(), rtol=1e-12)


def test_parameters_cannot_be_rebound():
    conv = Conv2d(1, 2, 3, dtype="float64")
    with pytest.raises(AttributeError, match="view of the model's flat"):
        conv.dW = np.zeros((2, 1, 3, 3))


def test_conv_layers_of_a_model_are_views_of_its_flat_vectors():
    model = minivae.VAE(arch="conv", image_shape=(1, 8, 8), channels=(2, 3), hidden_dims=(),
                        latent_dim=2, dtype="float64")
    conv = model.encoder[0].layer
    assert isinstance(conv, Conv2d) and np.shares_memory(conv.W, model.params.flat)
    assert np.shares_memory(conv.dW, model.grads.flat)


def test_kernel_larger_than_the_padded_image_is_a_clear_error():
    with pytest.raises(ValueError, match="kernel size 5 is larger than the padded image"):
        Conv2d(1, 1, 5, padding=1).forward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="too small for another"):
        minivae.VAE(arch="conv", image_shape=(1, 6, 6), channels=(4, 4, 4, 4))


def test_wrong_channels_and_output_padding_are_clear_errors():
    with pytest.raises(ValueError, match=r"expects x of shape \(B, 3, H, W\)"):
        Conv2d(3, 1, 3).forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="smaller than the stride"):
        ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)


def test_shapes_that_do_not_round_trip_are_a_clear_error():
    from minivae.architecture import output_padding
    assert output_padding(7, 14, 4, 2, 1) == 0 and output_padding(12, 25, 4, 2, 1) == 1
    with pytest.raises(ValueError, match="do not round-trip"):
        output_padding(7, 17, 4, 2, 1)


def test_reshaping_layers_round_trip_channels_last_rows():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 4, 5, 3)   # (B, H, W, C) images
    rows = x.reshape(2, -1)                                              # as a loader gives them
    images = Unflatten((3, 4, 5), channels_last=True).forward(rows)      # (B, C, H, W)
    assert np.array_equal(images, x.transpose(0, 3, 1, 2))
    flat = Flatten(channels_last=True)
    assert np.array_equal(flat.forward(images), rows)
    assert np.array_equal(flat.backward(rows), images)


def test_input_layer_scales_and_skips_dx():
    conv = Conv2d(1, 2, 3, padding=1, dtype="float64")
    first = InputLayer(conv, (1, 4, 4), scale=2.0, shift=-1.0)
    x = rand(np, (3, 16))
    y = first.forward(x)
    assert np.allclose(y, conv.forward(2 * x.reshape(3, 1, 4, 4) - 1))
    assert first.backward(np.ones_like(y), need_dx=False) is None
    check_input = gradcheck(lambda: (first.forward(x) ** 2).sum(), {"x": x},
                            {"x": first.backward(2 * first.forward(x)).copy()})
    assert check_input.max_error < 1e-6
