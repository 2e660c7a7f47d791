"""Every layer's backward against central differences, in float64."""

import numpy as np
import pytest

from minivae import VAE, gradcheck
from minivae.backend import Generator
from minivae.layers import Dense, LeakyReLU, ReLU, Sigmoid, Tanh, make_activation, sigmoid
from conftest import rand

B, I, O = 4, 5, 3


def check_layer(layer, x, xp, params=None):
    """Gradient-check loss = sum(layer(x) * R) w.r.t. x and the layer's params."""
    R = rand(xp, (B, layer.forward(x).shape[1]), seed=7, low=-1)   # (B, O) upstream gradient
    layer.forward(x)
    dx = layer.backward(R)
    arrays = {"x": x, **(params or {})}
    grads = {"W": layer.dW, "b": layer.db} if params else {}
    analytic = {"x": dx.copy(), **{k: g.copy() for k, g in grads.items()}}
    result = gradcheck(lambda: xp.sum(layer.forward(x) * R), arrays, analytic)
    assert result.max_error < 1e-6
    return result


def test_dense(xp):
    layer = Dense(I, O, rng=Generator(xp, 0), dtype="float64", xp=xp)
    check_layer(layer, rand(xp, (B, I), low=-1), xp, params={"W": layer.W, "b": layer.b})


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Tanh, Sigmoid])
def test_activation(cls, xp):
    # Inputs away from 0, so that no finite-difference step crosses the ReLU kink.
    x = rand(xp, (B, I), low=0.1, high=2.0) * xp.asarray(np.where(np.arange(B * I).reshape(B, I) % 2, 1, -1))
    check_layer(cls(xp), x, xp)


def test_dense_initialisation_is_pytorch_default(xp):
    layer = Dense(400, 20, rng=Generator(xp, 0), dtype="float32", xp=xp)
    bound = 1 / np.sqrt(400)
    W = np.asarray(layer.W.get() if hasattr(layer.W, "get") else layer.W)
    assert W.min() >= -bound and W.max() <= bound
    # U(-k, k) has variance k^2/3; 8000 draws pin it to a few percent.
    assert abs(W.var() / (bound**2 / 3) - 1) < 0.05


def test_dense_backward_can_skip_dx(xp):
    layer = Dense(I, O, rng=Generator(xp, 0), dtype="float64", xp=xp)
    layer.forward(rand(xp, (B, I)))
    assert layer.backward(rand(xp, (B, O)), need_dx=False) is None


def test_sigmoid_is_stable_for_huge_inputs(xp):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = sigmoid(xp.asarray([-1e4, -50.0, 0.0, 50.0, 1e4]), xp)
    np.testing.assert_allclose(np.asarray(y.tolist()), [0, 0, 0.5, 1, 1], atol=1e-15)


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="activation must be one of"):
        make_activation("swish")


def test_rebinding_a_parameter_or_gradient_view_is_an_error_that_says_what_to_write():
    model = VAE(input_dim=6, hidden_dims=(4,), latent_dim=2)
    layer = model.mu_head
    with pytest.raises(AttributeError, match=r"self.dW\[...\] = value"):
        layer.dW = np.zeros_like(layer.dW)                   # the natural line that trained nothing
    with pytest.raises(AttributeError, match="view of the model's flat parameter vector"):
        layer.W = np.zeros_like(layer.W)
    with pytest.raises(TypeError, match=r"d\[name\]\[...\] = new_values"):
        model.params["mu.W"] = np.zeros((4, 2))
    layer.dW[...] = 1.0                                      # writing into the view works
    assert np.all(model.grads["mu.W"] == 1.0)
    assert np.shares_memory(layer.W, model.params.flat)


def test_a_layer_built_alone_owns_its_arrays():
    layer = Dense(3, 2, dtype="float64")
    assert layer.W.shape == (3, 2) and layer.dW.shape == (3, 2) and layer.db.shape == (2,)
    layer.forward(np.ones((1, 3)))
    layer.backward(np.ones((1, 2)))
    np.testing.assert_array_equal(layer.dW, np.ones((3, 2)))
