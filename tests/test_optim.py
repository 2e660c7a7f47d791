"""Adam and SGD against their formulas, written out by hand.

tests/test_optim_torch.py compares Adam with torch.optim.Adam.
"""

import numpy as np
import pytest

from minivae import SGD, VAE, Adam, to_numpy
from conftest import adam_by_hand


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_matches_its_formula(wd):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    params = {"w": p0.copy()}
    opt = Adam(params, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=wd)
    for g in grads:
        opt.step({"w": g})
    np.testing.assert_allclose(params["w"], adam_by_hand(p0, grads, 0.01, 0.8, 0.9, 1e-6, wd)[0], rtol=1e-12)


@pytest.mark.parametrize("momentum, wd", [(0.9, 0.0), (0.0, 0.05), (0.9, 0.05)])
def test_sgd_matches_its_formula(momentum, wd):
    """buf = momentum buf + (g + wd p); p -= lr buf, as torch.optim.SGD."""
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(4)]
    params = {"w": p0.copy()}
    opt = SGD(params, lr=0.1, momentum=momentum, weight_decay=wd)
    p, buf = p0.copy(), np.zeros_like(p0)
    for g in grads:
        opt.step({"w": g})
        buf = momentum * buf + (g + wd * p)
        p = p - 0.1 * buf
    np.testing.assert_allclose(params["w"], p, rtol=1e-12)


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_flat_and_per_array_updates_agree(cls, device):
    """A model's flat-vector update equals the same update applied array by array."""
    a = VAE(input_dim=20, hidden_dims=(8,), latent_dim=3, dtype="float64", device=device, seed=0)
    b = VAE(input_dim=20, hidden_dims=(8,), latent_dim=3, dtype="float64", device=device, seed=0)
    opt_a = cls(a.params, lr=1e-2)
    opt_b = cls(dict(b.params), lr=1e-2)     # a plain dict: no .flat, so per array
    x = np.random.default_rng(0).random((8, 20))
    for _ in range(3):
        a.loss_and_grads(x, np.zeros((8, 3)))
        b.loss_and_grads(x, np.zeros((8, 3)))
        opt_a.step(a.grads)
        opt_b.step(dict(b.grads))
    for name in a.params:
        np.testing.assert_allclose(to_numpy(a.params[name]), to_numpy(b.params[name]), rtol=1e-13)


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(3)
    grads = [{"w": rng.standard_normal(4)} for _ in range(6)]
    full = {"w": np.ones(4)}
    opt = Adam(full, lr=0.1)
    for g in grads:
        opt.step(g)
    half = {"w": np.ones(4)}
    opt1 = Adam(half, lr=0.1)
    for g in grads[:3]:
        opt1.step(g)
    state = {k: np.array(v, copy=True) for k, v in opt1.state_dict().items()}
    opt2 = Adam(half, lr=0.1)
    opt2.load_state_dict(state)
    for g in grads[3:]:
        opt2.step(g)
    np.testing.assert_array_equal(half["w"], full["w"])


def test_bad_hyperparameters_and_state_are_clear_errors():
    with pytest.raises(ValueError, match="learning rate"):
        Adam({"w": np.zeros(2)}, lr=-1)
    with pytest.raises(ValueError, match="betas"):
        Adam({"w": np.zeros(2)}, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="optimizer state has no m.w"):
        Adam({"w": np.zeros(2)}).load_state_dict({"t": 1, "m.w": np.zeros(3), "v.w": np.zeros(2)})
    with pytest.raises(KeyError, match="no gradient"):
        Adam({"w": np.zeros(2)}).step({})


def test_a_negative_adam_v_is_refused_when_loaded():
    import numpy as np
    params = {"w": np.ones(3)}
    opt = Adam(params)
    state = opt.state_dict()
    state["v.w"] = np.array([0.0, -1e-3, 0.0])
    with pytest.raises(ValueError, match="v.w holds negative values"):
        Adam(params).load_state_dict(state)
