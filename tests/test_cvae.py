"""The conditional VAE (minivae/cvae.py), free bits and the warm-up's beta: gradients and behaviour.

No PyTorch needed; tests/test_cvae_torch.py compares the same models with PyTorch's autograd.
"""

import numpy as np
import pytest

from minivae import CVAE, IWAE, VAE, check_model, load_model

MODELS = {
    "dense-bernoulli": lambda: CVAE(input_dim=12, hidden_dims=(9,), latent_dim=3, num_classes=4,
                                    activation="tanh", dtype="float64", seed=0),
    "dense-gaussian-deep-beta2": lambda: CVAE(input_dim=10, hidden_dims=(8, 6), latent_dim=2,
                                              num_classes=3, likelihood="gaussian",
                                              gaussian_std=0.5, beta=2.0, activation="tanh",
                                              dtype="float64", seed=1),
    "dense-mse-asym-symmetric": lambda: CVAE(input_dim=10, hidden_dims=(7,),
                                             decoder_hidden_dims=(5, 6), latent_dim=3,
                                             num_classes=5, likelihood="mse",
                                             pixel_range="symmetric", activation="sigmoid",
                                             dtype="float64", seed=2),
    "conv-nonsquare": lambda: CVAE(arch="conv", image_shape=(2, 9, 7), channels=(3, 4),
                                   hidden_dims=(6,), latent_dim=3, num_classes=3,
                                   activation="tanh,sigmoid,tanh", dtype="float64", seed=3),
    "conv-no-dense": lambda: CVAE(arch="conv", image_shape=(1, 6, 6), channels=(2,),
                                  kernel_size=3, stride=1, padding=1, hidden_dims=(),
                                  latent_dim=2, num_classes=2, likelihood="gaussian",
                                  gaussian_std=0.5, activation="tanh", dtype="float64", seed=4),
}


def data(model, B=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((B, model.input_dim))
    if model.likelihood.name == "bernoulli":
        x = (x > 0.5) * 1.0
    y = rng.integers(0, getattr(model, "num_classes", 1), B)
    return x, y, rng.standard_normal((B, model.latent_dim))


@pytest.mark.parametrize("name", MODELS)
def test_whole_model_gradients(name):
    model = MODELS[name]()
    x, y, eps = data(model)
    result = check_model(model, x, eps, labels=y, h=1e-3 if "conv" in name else 1e-4)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


@pytest.mark.parametrize("name", ["dense-bernoulli", "conv-nonsquare"])
def test_warmup_beta_and_free_bits_gradients(name):
    """A warm-up step's beta and free bits, together, on the CVAE: checked at 1e-6."""
    model = MODELS[name]()
    x, y, eps = data(model, B=6)
    model.free_bits = between_kls(model.loss_and_grads, x, y, eps=eps)
    result = check_model(model, x, eps, labels=y, beta=0.3, h=1e-3 if "conv" in name else 1e-4)
    assert result.max_error < 1e-6


def kl_per_dim(model, x, y, eps):
    """The batch mean of each latent dimension's KL, (Z,)."""
    mu, logvar = model.encode(x, y) if y is not None else model.encode(x)
    return model.ops.gaussian_kl_per_dim(mu, logvar).mean(axis=0)


def between_kls(step, x, y=None, eps=None):
    """A free-bits lambda between two dimensions' KL, far from both (the max has a kink there)."""
    model = step.__self__
    kl = np.sort(kl_per_dim(model, x, y, eps))
    gaps = np.diff(kl)
    i = int(np.argmax(gaps))
    assert gaps[i] > 1e-3, kl
    return float((kl[i] + kl[i + 1]) / 2)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_free_bits_gradients_on_the_vae(likelihood):
    model = VAE(input_dim=12, hidden_dims=(9,), latent_dim=4, likelihood=likelihood,
                gaussian_std=0.5, activation="tanh", dtype="float64", seed=5)
    x, _, eps = data(model, B=6)
    model.free_bits = between_kls(model.loss_and_grads, x)
    assert check_model(model, x, eps, h=1e-4).max_error < 1e-6
    assert check_model(model, x, eps, beta=0.0).max_error < 1e-6      # the warm-up's first step


def test_free_bits_leave_dimensions_below_lambda_alone():
    """Below lambda the KL's gradient is 0: the heads' gradients are the reconstruction's alone."""
    model = VAE(input_dim=12, hidden_dims=(9,), latent_dim=4, activation="tanh",
                dtype="float64", seed=5)
    x, _, eps = data(model, B=6)
    kl = kl_per_dim(model, x, None, eps)
    model.free_bits = float(kl.max()) + 1.0                 # every dimension under lambda
    loss, parts = model.loss_and_grads(x, eps)
    assert float(loss) == pytest.approx(float(parts["recon"]) + 4 * model.free_bits, rel=1e-12)
    free = {n: g.copy() for n, g in model.grads.items()}
    model.free_bits, model.beta = 0.0, 0.0                  # no KL at all: the same gradients
    model.loss_and_grads(x, eps)
    for name in free:
        assert np.allclose(free[name], model.grads[name], rtol=0, atol=1e-14), name


def test_no_free_bits_and_the_model_beta_are_the_default_step_bit_for_bit():
    a = VAE(input_dim=12, hidden_dims=(9,), latent_dim=3, beta=0.7, dtype="float64", seed=0)
    b = VAE(input_dim=12, hidden_dims=(9,), latent_dim=3, beta=0.1, dtype="float64", seed=0)
    x, _, eps = data(a)
    la, _ = a.loss_and_grads(x, eps)
    lb, _ = b.loss_and_grads(x, eps, beta=0.7)              # the warm-up passes its beta
    assert float(la) == float(lb) and np.array_equal(a.grads.flat, b.grads.flat)
    assert "free_bits" not in a.config()                    # files as before


def test_the_label_reaches_both_halves():
    model = MODELS["dense-bernoulli"]()
    x, _, eps = data(model, B=4)
    mu0, _ = model.encode(x, [0, 0, 0, 0])
    mu1, _ = model.encode(x, [1, 1, 1, 1])
    assert not np.allclose(mu0, mu1)                         # q(z | x, y) reads y
    assert not np.allclose(model.decode(eps[:, :3], [0] * 4), model.decode(eps[:, :3], [2] * 4))
    # decode(z, y) is the decoder's mean at [z, one-hot y]: the loss's own output at that z
    y = [3, 1, 0, 2]
    _, _, z, _, out = model._forward(model._as_input(x), model.one_hot(y), eps)
    assert np.allclose(model.likelihood.mean(out), model.decode(z, y), rtol=0, atol=1e-14)


def test_conv_label_planes_are_the_label():
    """With arch="conv" the encoder reads each pixel's c channels, then the C one-hot planes."""
    model = MODELS["conv-nonsquare"]()
    x = np.arange(2 * model.input_dim, dtype=float).reshape(2, -1) / 1000   # (2, 9 7 2)
    joined = model.join_label(x, model.one_hot([2, 0]))    # (2, 9 7 (2 + 3))
    per_pixel = joined.reshape(2, 63, 5)
    assert np.array_equal(per_pixel[:, :, :2].reshape(2, -1), x)
    assert np.all(per_pixel[0, :, 2:] == [0, 0, 1]) and np.all(per_pixel[1, :, 2:] == [1, 0, 0])
    assert np.array_equal(model._image_part(joined), x)


def test_sample_draws_the_class_asked_for():
    model = MODELS["dense-bernoulli"]()
    model.rng = type(model.rng)(model.xp, 3)
    a = model.sample(4, 2)
    model.rng = type(model.rng)(model.xp, 3)
    z = model.rng.normal((4, 3), dtype=model.dtype)
    assert np.allclose(a, model.decode(z, [2, 2, 2, 2]))
    assert model.sample(6).shape == (6, 12)                 # default labels 0, 1, 2, 3, 0, 1


@pytest.mark.parametrize("y, match", [
    ([0, 1, 2, 4, 0], "label 4; this model has 4 classes, 0 to 3"),
    ([0, 1, -1, 2, 0], "label -1"),
    ([0, 1, 2], r"\(B,\) = \(5,\)"),
    ([0.0, 1.0, 2.0, 1.0, 0.0], "integer class labels"),
])
def test_bad_labels_are_clear_errors(y, match):
    model = MODELS["dense-bernoulli"]()
    x, _, _ = data(model)
    with pytest.raises(ValueError, match=match):
        model.loss_and_grads(x, np.asarray(y))


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        CVAE(input_dim=12, hidden_dims=(4,), latent_dim=2, num_classes=0)
    with pytest.raises(ValueError, match="free_bits must be a finite number >= 0"):
        VAE(input_dim=12, hidden_dims=(4,), latent_dim=2, free_bits=-0.5)
    with pytest.raises(ValueError, match="an IWAE .* takes none"):
        IWAE(input_dim=12, hidden_dims=(4,), latent_dim=2, k=5, free_bits=0.5)


@pytest.mark.parametrize("name", ["dense-bernoulli", "conv-nonsquare"])
def test_saves_and_loads_as_a_cvae(tmp_path, name):
    model = MODELS[name]()
    model.free_bits = 0.25
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert type(again) is CVAE and again.config() == model.config()
    x, y, eps = data(model)
    assert float(again.loss(x, y, eps)[0]) == float(model.loss(x, y, eps)[0])
    assert CVAE.load(tmp_path / "m.npz").num_classes == model.num_classes
