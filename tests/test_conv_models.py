"""Conv and per-layer-activation models: whole-model gradient checks, layers, saving, errors.

No PyTorch needed; tests/test_conv_models_torch.py compares the conv VAE with PyTorch's autograd.
"""

import numpy as np
import pytest

from minivae import VAE, Autoencoder, check_model, load_model

MODELS = {
    "conv-vae-nonsquare": lambda: VAE(arch="conv", image_shape=(2, 9, 7), channels=(3, 4),
                                      hidden_dims=(6,), latent_dim=3, activation="tanh,sigmoid,tanh",
                                      dtype="float64", seed=0),
    "conv-vae-k3s1": lambda: VAE(arch="conv", image_shape=(1, 6, 6), channels=(2,), kernel_size=3,
                                 stride=1, padding=1, hidden_dims=(), latent_dim=2,
                                 likelihood="gaussian", gaussian_std=0.5, activation="tanh",
                                 dtype="float64", seed=1),
    "conv-ae-feature-map-pm1": lambda: Autoencoder(arch="conv", image_shape=(3, 8, 6),
                                                   channels=(3, 4), hidden_dims=(), latent_dim=None,
                                                   likelihood="mse", pixel_range="symmetric",
                                                   activation="tanh", dtype="float64", seed=2),
    "dense-ae-code-activation": lambda: Autoencoder(input_dim=12, hidden_dims=(5, 4), latent_dim=3,
                                                    activation="tanh,tanh,sigmoid",
                                                    decoder_activation="tanh,sigmoid,tanh",
                                                    likelihood="gaussian", pixel_range="symmetric",
                                                    dtype="float64", seed=3),
}


@pytest.mark.parametrize("name", MODELS)
def test_whole_model_gradients(name):
    model = MODELS[name]()
    x = np.random.default_rng(0).random((3, model.input_dim))
    # h = 1e-3: smooth activations, and the loss (~100 nats) makes h = 1e-4's rounding ~1e-10
    result = check_model(model, x, h=1e-3)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


def test_lab_presets_have_the_lab_parameter_counts():
    conv = Autoencoder(arch="conv", image_shape=(3, 64, 64), channels=(12, 24, 48), hidden_dims=(),
                       latent_dim=None, likelihood="mse", pixel_range="symmetric")
    fcn = Autoencoder(input_dim=12288, hidden_dims=(1024, 256), latent_dim=64,
                      activation="relu,relu,relu", decoder_activation="relu", likelihood="mse",
                      pixel_range="symmetric")
    assert (conv.num_params, fcn.num_params) == (47_355, 25_737_792)
    assert type(conv.decoder[-1]).__name__ == "Tanh" and type(fcn.decoder[-1]).__name__ == "Tanh"


def test_keras_model_layers():
    model = Autoencoder(hidden_dims=(144, 72), latent_dim=48, activation="relu,relu,tanh",
                        decoder_activation="tanh,tanh,sigmoid", likelihood="mse")
    names = [type(layer).__name__ for layer in model.decoder]
    assert names == ["Dense", "Tanh", "Dense", "Tanh", "Dense", "Sigmoid"]
    assert [type(layer).__name__ for layer in model.code_head.layers] == ["Dense", "Tanh"]
    z = model.encode(np.random.default_rng(0).random((5, 784)))
    assert z.shape == (5, 48) and np.abs(z).max() < 1                  # tanh on the code


def test_pm1_model_takes_and_returns_unit_range_images():
    model = MODELS["conv-ae-feature-map-pm1"]()
    x = np.random.default_rng(0).random((4, model.input_dim))
    r = model.reconstruct(x)
    assert r.shape == x.shape and 0 <= r.min() and r.max() <= 1
    out = model._forward(x)                                            # tanh output, (-1, 1)
    sse = ((out - (2 * x - 1)) ** 2).sum(axis=1)
    assert np.allclose(model.loss(x, reduce=False)[0], sse)


def test_conv_model_saves_and_loads(tmp_path):
    model = MODELS["conv-ae-feature-map-pm1"]()
    path = tmp_path / "m.npz"
    model.save(path)
    again = load_model(path)
    x = np.random.default_rng(0).random((2, model.input_dim))
    assert again.config() == model.config() and np.allclose(again.reconstruct(x), model.reconstruct(x))


@pytest.mark.parametrize("kwargs, match", [
    (dict(arch="conv", latent_dim=None), "only for a conv Autoencoder"),
    (dict(likelihood="bernoulli", pixel_range="symmetric"), "needs the 'mse' or 'gaussian'"),
    (dict(decoder_activation="relu,tanh"), "takes no output activation"),
    (dict(hidden_dims=(8, 4), activation="relu,tanh,relu,relu"), "one per layer"),
    (dict(hidden_dims=(8,), activation="relu,tanh"), "only an Autoencoder's code"),
    (dict(arch="conv", image_shape=(1, 28, 28), input_dim=100), "does not match image_shape"),
    (dict(arch="conv", input_dim=30), "not a square grey image"),
    (dict(image_shape=(1, 28, 28)), "is for arch='conv'"),
])
def test_bad_architectures_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAE(**{"input_dim": 16 if "arch" not in kwargs else None, **kwargs})


def test_a_feature_map_code_takes_no_hidden_layers():
    import minivae
    with pytest.raises(ValueError, match=r"give hidden_dims=\(\)"):
        minivae.Autoencoder(arch="conv", latent_dim=None)          # default hidden_dims (400,)
    assert minivae.Autoencoder(arch="conv", latent_dim=None, hidden_dims=()).latent_dim == 3136
