"""model.summary() and print(model): the layers in order, their shapes and parameter counts."""

import pytest

import minivae
from minivae.summary import layer_rows


def test_the_keras_lab_model_reads_its_encoder_and_decoder_sizes():
    """The seed lab's Keras VAE (784-2000-256, 2-D latent): 2,083,284 and 2,083,552 parameters."""
    text = str(minivae.VAE(784, (2000, 256), 2))
    assert "encoder 2,083,284 (with its heads), decoder 2,083,552, total 4,166,836" in text


def test_print_shows_every_layer_in_forward_order(capsys):
    model = minivae.VAE()
    model.summary()
    printed = capsys.readouterr().out
    assert printed.strip() == str(model)
    names = ["enc0 (Dense 784->400)", "mu (Dense 400->20)", "logvar (Dense 400->20)",
             "dec0 (Dense 20->400)", "out (Dense 400->784)"]
    positions = [printed.index(n) for n in names]
    assert positions == sorted(positions)
    assert "(B, 784)" in printed and "652,824 parameters" in printed


@pytest.mark.parametrize("model", [
    lambda: minivae.VAE(),
    lambda: minivae.IWAE(k=3, hidden_dims=(64, 32)),
    lambda: minivae.VAE(arch="conv", hidden_dims=(32,), latent_dim=8),
    lambda: minivae.Autoencoder(784, (144, 72), 48, likelihood="mse",
                                activation="relu,relu,tanh", decoder_activation="tanh,tanh,sigmoid"),
    lambda: minivae.Autoencoder(arch="conv", hidden_dims=(), latent_dim=None,
                                pixel_range="symmetric", likelihood="mse"),
])
def test_the_rows_add_up_to_the_model(model):
    model = model()
    rows = layer_rows(model)
    assert sum(n for *_, n in rows) == model.num_params
    assert rows[-1][2] == f"(B, {model.input_dim})"               # the decoder gives rows back
    heads = [r for r in rows if r[0] == "heads"]
    assert heads and all(r[2] == f"(B, {model.latent_dim})" for r in heads)


def test_conv_shapes_follow_the_layers():
    rows = layer_rows(minivae.VAE(arch="conv"))
    shapes = [shape for _, _, shape, _ in rows]
    assert shapes[:3] == ["(B, 1, 28, 28)", "(B, 32, 14, 14)", "(B, 32, 14, 14)"]
    assert "(B, 64, 7, 7)" in shapes


@pytest.mark.cuda
def test_a_gpu_model_reads_as_the_same_model_as_on_the_cpu():
    """On the GPU a model is built from faster forms of its layers (fast/cuda_kernels.py):
    FusedReLU, BiasRowDense, FusedConv2d... Its summary names the layers it computes."""
    for build in (lambda **kw: minivae.VAE(**kw),
                  lambda **kw: minivae.VAE(arch="conv", hidden_dims=(32,), latent_dim=8, **kw)):
        text = str(build(device="cuda")).replace("cuda", "cpu")
        assert "Fused" not in text and "Compiled" not in text
        assert text == str(build())
