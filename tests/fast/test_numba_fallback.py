"""A Numba that fails in any way leaves Adam and the conv layers in NumPy's forms, said in one
warning.

Numba is an optional extra: whatever goes wrong while importing it or
compiling the loop (an AttributeError from a Numba built for another NumPy,
a SystemError, a module that lacks ``njit``, a compile error at the first
call) must not stop a run. Each case here puts a fake ``numba`` module in
sys.modules, so ``minivae.fast.cpu_kernels`` imports the fake.
"""

import sys
import types
import warnings

import numpy as np
import pytest

from minivae import VAE, Adam
from minivae.fast import forms
from minivae.fast.forms import FastOps, NumbaOps

KERNELS = "minivae.fast.cpu_kernels"


def raising(error):
    def njit(*args, **kwargs):
        raise error
    return njit


def failing_at_first_call(error):
    """An njit whose compiled function fails when first called, as a compile error does."""
    def njit(*args, **kwargs):
        def decorate(function):
            def compiled(*a):
                raise error
            return compiled
        return decorate
    return njit


FAKES = {
    "AttributeError (Numba built for another NumPy)":
        raising(AttributeError("module 'numpy' has no attribute 'long'")),
    "SystemError": raising(SystemError("error return without exception set")),
    "a module without njit": None,
    "a compile error at the first call":
        failing_at_first_call(TypeError("No matching definition for argument type(s)")),
}


@pytest.fixture
def fake_numba(monkeypatch):
    """Install a fake numba (``njit`` given, or absent with None); the real modules come back."""
    def install(njit):
        fake = types.ModuleType("numba")
        if njit is not None:
            fake.njit = njit
        monkeypatch.setitem(sys.modules, "numba", fake)
        monkeypatch.delitem(sys.modules, KERNELS, raising=False)   # imported again, with the fake
        forms.numba_kernels.cache_clear()

    saved = sys.modules.get(KERNELS)
    yield install
    forms.numba_kernels.cache_clear()
    sys.modules.pop(KERNELS, None)               # the module built on the fake, if any
    if saved is not None:
        sys.modules[KERNELS] = saved


@pytest.mark.parametrize("njit", FAKES.values(), ids=FAKES.keys())
def test_any_failure_of_numba_falls_back_with_one_warning(fake_numba, njit):
    fake_numba(njit)
    rng = np.random.default_rng(3)
    p, g = rng.standard_normal(40), rng.standard_normal(40)
    numba_state = [p.copy(), np.zeros(40), np.zeros(40)]
    numpy_state = [p.copy(), np.zeros(40), np.zeros(40)]
    kw = dict(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8)
    with pytest.warns(RuntimeWarning, match="Numba is installed but does not load") as said:
        NumbaOps(np).adam_update(numba_state[0], g, *numba_state[1:], step=1, **kw)
        NumbaOps(np).adam_update(numba_state[0], g, *numba_state[1:], step=2, **kw)
    assert len([w for w in said if "Numba" in str(w.message)]) == 1   # said once, not per step
    FastOps(np).adam_update(numpy_state[0], g, *numpy_state[1:], step=1, **kw)
    FastOps(np).adam_update(numpy_state[0], g, *numpy_state[1:], step=2, **kw)
    for a, b in zip(numba_state, numpy_state):
        np.testing.assert_array_equal(a, b)      # NumPy's form, bit for bit


def test_a_training_step_runs_through_a_broken_numba(fake_numba, monkeypatch):
    fake_numba(raising(AttributeError("module 'numpy' has no attribute 'long'")))
    monkeypatch.setattr(forms, "numba_installed", lambda: True)   # as for an installed Numba
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, seed=0)
    opt = Adam(model.params, lr=0.01)
    assert type(opt.ops) is NumbaOps
    before = model.params.flat.copy()
    model.loss_and_grads(np.random.default_rng(0).random((4, 12)))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        opt.step(model.grads)
    assert [str(w.message).split(" (")[0] for w in said] == ["Numba is installed but does not load"]
    assert "AttributeError" in str(said[0].message)   # the cause is named
    assert not np.array_equal(model.params.flat, before)


@pytest.mark.parametrize("njit", FAKES.values(), ids=FAKES.keys())
def test_a_conv_model_trains_through_a_broken_numba_with_one_warning(fake_numba, monkeypatch, njit):
    """The conv layers' compiled passes fall back to conv.py's, Adam to NumPy's form: one
    warning for the three loops, at the first conv pass, and conv.py's numbers."""
    fake_numba(njit)
    monkeypatch.setattr(forms, "numba_installed", lambda: True)   # as for an installed Numba
    conv = dict(arch="conv", image_shape=(1, 8, 8), channels=(3, 4), kernel_size=4, stride=2,
                padding=1, latent_dim=2, seed=0, dtype="float64")
    model, plain = VAE(**conv), VAE(**conv, fast=False)
    opt = Adam(model.params, lr=0.01)
    x, eps = np.random.default_rng(0).random((4, 64)), np.zeros((4, 2))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        loss = model.loss_and_grads(x, eps)[0]
        opt.step(model.grads)
    assert [str(w.message).split(" (")[0] for w in said] == ["Numba is installed but does not load"]
    assert loss == plain.loss_and_grads(x, eps)[0]
    np.testing.assert_array_equal(model.grads.flat, plain.grads.flat)
