"""The conv layers' compiled im2col and col2im (fast/forms.py, fast/cpu_kernels.py) give
conv.py's numbers bit for bit.

Each test runs a compiled form and conv.py's plain form on the same inputs, in
float32 and float64, in the layouts the layers hand each other: a conv layer's
output is the (B, C, H, W) view of channel-major memory (conv.py's "Memory
layout"), an image unflattened from (B, D) rows is batch-first, and a slice of
either is contiguous in no order at all. Needs Numba (the numba extra).
"""

import numpy as np
import pytest

from minivae import VAE
from minivae.conv import Conv2d, ConvTranspose2d, col2im, im2col, output_size
from minivae.exercises.swap import all_layers
from minivae.fast.forms import (CompiledConv2d, CompiledConvTranspose2d, NumbaOps,
                                numba_installed)

from conftest import CONV_SETTINGS

pytestmark = pytest.mark.skipif(not numba_installed(), reason="needs Numba (the numba extra)")

PAIRS = [(Conv2d, CompiledConv2d), (ConvTranspose2d, CompiledConvTranspose2d)]


def images(shape, seed, dtype, layout):
    """(B, C, H, W) uniform in [-1, 1), its memory batch-first, channel-major (a conv layer's
    output) or a strided slice of a larger array (contiguous in no order)."""
    B, C, H, W = shape
    rng = np.random.default_rng(seed)
    if layout == "batch-first":
        return rng.uniform(-1, 1, shape).astype(dtype)
    if layout == "channel-major":
        return rng.uniform(-1, 1, (C, H, W, B)).astype(dtype).transpose(3, 0, 1, 2)
    return rng.uniform(-1, 1, (2 * B, C, H, W + 3)).astype(dtype)[::2, :, :, 1:W + 1]


LAYOUTS = ["batch-first", "channel-major", "strided"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("k, s, p, op, H, W", CONV_SETTINGS)
def test_the_compiled_conv_layers_give_the_plain_ones_bits(dtype, layout, k, s, p, op, H, W):
    """Forward, dx, dW and db of each layer, and the memory order of what it returns."""
    for plain_cls, compiled_cls in PAIRS:
        extra = {"output_padding": op} if plain_cls is ConvTranspose2d else {}
        plain = plain_cls(2, 3, k, stride=s, padding=p, dtype=dtype, **extra)   # seed 0 each
        compiled = compiled_cls(2, 3, k, stride=s, padding=p, dtype=dtype, **extra)
        x = images((5, 2, H, W), k + s, dtype, layout)
        y, y_fast = plain.forward(x), compiled.forward(x)
        np.testing.assert_array_equal(y_fast, y)
        assert y_fast.dtype == dtype and y_fast.strides == y.strides
        dy = images(y.shape, p + 7, dtype, layout)
        dx, dx_fast = plain.backward(dy), compiled.backward(dy)
        np.testing.assert_array_equal(dx_fast, dx)
        assert dx_fast.shape == x.shape and dx_fast.strides == dx.strides
        np.testing.assert_array_equal(compiled.dW, plain.dW)
        np.testing.assert_array_equal(compiled.db, plain.db)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("k, s, p, op, H, W", CONV_SETTINGS)
def test_im2col_and_col2im_alone_give_conv_pys_bits(dtype, k, s, p, op, H, W):
    """The two passes as a layer calls them, on images of 3 channels and odd batch sizes;
    col2im's columns also as the layers never pass them (a transposed view)."""
    layer = CompiledConv2d(3, 4, k, stride=s, padding=p, dtype=dtype)
    for B, layout in zip((1, 4, 7), LAYOUTS):
        x = images((B, 3, H, W), B, dtype, layout)
        np.testing.assert_array_equal(layer.im2col(x), im2col(x, k, s, p))
        K, L = 3 * k * k, output_size(H, k, s, p) * output_size(W, k, s, p) * B
        cols = np.random.default_rng(B).uniform(-1, 1, (K, L)).astype(dtype)
        for c in (cols, np.asfortranarray(cols)):
            got = layer.col2im(c, x.shape)
            np.testing.assert_array_equal(got, col2im(c, x.shape, k, s, p))
            assert got.dtype == dtype


def test_a_conv_model_builds_the_compiled_layers_and_computes_the_plain_ones_numbers():
    """A conv VAE with odd image sizes: the same loss and gradients, bit for bit, as the one
    built with fast=False; the dense layers stay as they are."""
    conv = dict(arch="conv", image_shape=(2, 9, 7), channels=(3, 4), kernel_size=3, stride=2,
                padding=1, latent_dim=2, seed=0, dtype="float64")
    fast, plain = VAE(**conv), VAE(**conv, fast=False)
    assert type(fast.ops) is NumbaOps
    kinds = {type(layer) for layer in all_layers(fast)}
    assert {CompiledConv2d, CompiledConvTranspose2d} <= kinds
    assert not {Conv2d, ConvTranspose2d} & kinds
    assert not {CompiledConv2d, CompiledConvTranspose2d} & {type(la) for la in all_layers(plain)}
    x = np.random.default_rng(0).random((5, 126))
    eps = np.random.default_rng(1).standard_normal((5, 2))
    loss, parts = fast.loss_and_grads(x, eps, input_grad=True)
    want, want_parts = plain.loss_and_grads(x, eps, input_grad=True)
    assert loss == want and parts == want_parts
    np.testing.assert_array_equal(fast.grads.flat, plain.grads.flat)
    np.testing.assert_array_equal(fast.input_grad, plain.input_grad)   # the first conv's dx too
