"""Weights that are not floating-point numbers are refused by name, as the commands refuse them.

VAE.load and minivae.load_model used to take complex weights (dropping the
imaginary part without a word) and bool weights, and to raise a TypeError
from NumPy on string weights; model.load_params now refuses all of them
with a CheckpointError naming the array.
"""

import numpy as np
import pytest

import minivae
from minivae.files.serialize import CheckpointError, load_npz, save_npz


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "vae.npz"
    minivae.VAE(input_dim=16, hidden_dims=(4,), latent_dim=2, seed=0).save(path)
    return path


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, np.bool_, "<U3", np.int32])
@pytest.mark.parametrize("load", [minivae.VAE.load, minivae.load_model], ids=["VAE.load",
                                                                              "load_model"])
def test_weights_of_another_kind_are_refused_naming_the_array(saved, tmp_path, dtype, load):
    arrays, meta = load_npz(saved)
    arrays["param/dec0.W"] = arrays["param/dec0.W"].astype(dtype)
    save_npz(tmp_path / "edited.npz", arrays, meta)
    with pytest.raises(CheckpointError, match=r"param/dec0\.W has dtype .*floating-point"):
        load(tmp_path / "edited.npz")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_every_float_loads(saved, tmp_path, dtype):
    arrays, meta = load_npz(saved)
    arrays = {k: v.astype(dtype) for k, v in arrays.items()}
    save_npz(tmp_path / "floats.npz", arrays, meta)
    model = minivae.VAE.load(tmp_path / "floats.npz")
    np.testing.assert_allclose(model.params["enc0.W"], arrays["param/enc0.W"], rtol=1e-3)
