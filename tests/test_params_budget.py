"""A model's size is checked against the one memory budget before anything is allocated.

params.py refuses the two flat vectors (parameters and gradients) of a model
that cannot fit, naming its largest array, and a model's layer list whose
Python objects alone cannot: hidden_dims=(10**9,) or latent_dim=10**12 used
to end in NumPy's _ArrayMemoryError, hidden_dims=[1] * 10**6 in 5.8 GB and
minutes of building. Loading a file counts its arrays, already in memory,
with the model built from it. tracemalloc measures each refusal's peak.
"""

import json
import tracemalloc

import numpy as np
import pytest

import minivae
from minivae.files import budget
from minivae.files.serialize import CheckpointError, META_KEY
from minivae.params import LAYER_BYTES, ParamStore, param_budget

MiB = 1 << 20


def refused_at_peak(fn):
    """(the OverBudget or CheckpointError fn() raised, peak bytes allocated meanwhile)."""
    tracemalloc.start()
    try:
        with pytest.raises((budget.OverBudget, CheckpointError)) as info:
            fn()
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kwargs, largest", [
    (dict(hidden_dims=(10**9,)), "enc0.W, 784 x 1,000,000,000"),
    (dict(hidden_dims=(100_000, 100_000)), "enc1.W, 100,000 x 100,000"),
    (dict(latent_dim=10**12), "mu.W, 400 x 1,000,000,000,000"),
    (dict(latent_dim=10**7), "mu.W, 400 x 10,000,000"),
    (dict(arch="conv", hidden_dims=(), channels=(10**6, 10**6)),
     "conv1.W, 1,000,000 x 1,000,000 x 4 x 4"),
])
def test_a_model_too_large_for_the_budget_is_refused_before_allocating(kwargs, largest):
    err, peak = refused_at_peak(lambda: minivae.VAE(**kwargs))
    assert f"(the largest, {largest})" in str(err)
    assert "with their gradients, more than the memory budget" in str(err)
    assert peak < MiB


def test_a_million_layers_are_refused_before_they_are_listed(monkeypatch):
    monkeypatch.setenv(budget.ENV, str(256 * MiB))
    err, peak = refused_at_peak(lambda: minivae.VAE(input_dim=64, hidden_dims=[1] * 10**5,
                                                    latent_dim=2))
    assert "a model of 200,003 layers needs" in str(err) and "use fewer hidden layers" in str(err)
    assert peak < 8 * MiB                             # the list of widths, not 200,003 layers


def test_what_the_caller_holds_counts_with_the_model(monkeypatch):
    monkeypatch.setenv(budget.ENV, str(8 * MiB))
    ParamStore({"w": (MiB // 2,)})                    # 4 MiB with its gradients: fits
    with param_budget(held=5 * MiB):
        with pytest.raises(budget.OverBudget, match="a model of 524,288 parameters"):
            ParamStore({"w": (MiB // 2,)})
    with param_budget(held=8 * MiB - 10 * LAYER_BYTES):   # 11 layers: one too many
        with pytest.raises(budget.OverBudget, match="a model of 11 layers needs"):
            minivae.VAE(input_dim=16, hidden_dims=[4] * 4, latent_dim=2)


def test_a_checkpoint_whose_arrays_agree_with_a_huge_model_is_refused(tmp_path, monkeypatch):
    """The campaign's 3.7 MB file described a 200,000-wide layer and held its zeros:
    6 GB for sample -n 4. Scaled down: the arrays it holds, then the model built from
    them, do not fit a budget of 12 MiB."""
    H = 2000
    shapes = {"enc0.W": (784, H), "enc0.b": (H,), "mu.W": (H, 2), "mu.b": (2,),
              "logvar.W": (H, 2), "logvar.b": (2,), "dec0.W": (2, H), "dec0.b": (H,),
              "out.W": (H, 784), "out.b": (784,)}
    arrays = {f"param/{k}": np.zeros(s, np.float32) for k, s in shapes.items()}   # 12.6 MB
    meta = {"format": "minivae", "version": 1,
            "config": {"model": "vae", "input_dim": 784, "hidden_dims": [H],
                       "decoder_hidden_dims": [H], "latent_dim": 2, "likelihood": "bernoulli",
                       "activation": "relu", "gaussian_std": 1.0, "dtype": "float32",
                       "seed": 0}}
    np.savez_compressed(tmp_path / "wide.npz", **arrays, **{META_KEY: np.array(json.dumps(meta))})
    monkeypatch.setenv(budget.ENV, str(16 * MiB))     # the arrays load; with the model: no
    err, peak = refused_at_peak(lambda: minivae.load_model(tmp_path / "wide.npz"))
    assert isinstance(err, CheckpointError) and "memory budget of 16 MiB" in str(err)
    assert peak < 16 * MiB
    monkeypatch.setenv(budget.ENV, str(64 * MiB))     # raised on purpose: it loads
    assert minivae.load_model(tmp_path / "wide.npz").num_params == sum(
        int(np.prod(s)) for s in shapes.values())
