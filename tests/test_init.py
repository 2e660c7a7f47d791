"""init="glorot" (Keras's default) beside PyTorch's: the default stays bit for bit what it was,
Glorot's weights lie in U(+-sqrt(6 / (fan_in + fan_out))) with zero biases, and the choice is
saved with the model and taken by the train command (--init), as the Keras preset does."""

import hashlib
import math

import numpy as np
import pytest

import minivae
from minivae.run.train_cli import parse_args


def digest(model):
    return hashlib.sha256(np.ascontiguousarray(model.params.flat).tobytes()).hexdigest()


def test_pytorchs_initialisation_is_unchanged_to_the_last_bit():
    # The digests of the parameters as built before init existed: the README's losses
    # depend on every one of these numbers.
    assert digest(minivae.VAE(seed=1)) == digest(minivae.VAE(seed=1, init="pytorch")) == \
        "5cd759c91cbea6daf9059915f625f8abb8686eb134a5aa78ba0195f043da15c0"
    conv = minivae.Autoencoder(arch="conv", image_shape=(1, 28, 28), seed=2)
    assert digest(conv) == "ca5022d6ed47db08ffe0fbfef9829092f098296948395217985e9f21c465a3cf"
    assert "init" not in minivae.VAE().config()          # files of default models unchanged


@pytest.mark.parametrize("kwargs", [dict(hidden_dims=(144, 72), latent_dim=48),
                                    dict(arch="conv", image_shape=(3, 16, 16), channels=(4, 8),
                                         hidden_dims=(32,), latent_dim=5)])
def test_glorot_weights_fill_their_range_and_biases_are_zero(kwargs):
    model = minivae.Autoencoder(input_dim=784 if "arch" not in kwargs else 768, seed=0,
                                init="glorot", **kwargs)
    for name, p in model.params.items():
        if name.endswith(".b"):
            assert not p.any(), name
            continue
        a = math.sqrt(6 / ((p.shape[0] + p.shape[1]) * math.prod(p.shape[2:])))
        assert np.abs(p).max() <= a and np.abs(p).max() > 0.9 * a, name
        if p.size > 1000:                                 # U(-a, a) has std a / sqrt(3)
            assert p.std() == pytest.approx(a / math.sqrt(3), rel=0.05), name


def test_the_choice_is_saved_and_refused_when_unknown(tmp_path):
    model = minivae.VAE(input_dim=12, hidden_dims=(8,), latent_dim=2, init="glorot")
    model.save(tmp_path / "m.npz")
    assert minivae.load_model(tmp_path / "m.npz").init == "glorot"
    assert minivae.VAE.load(tmp_path / "m.npz").config()["init"] == "glorot"
    with pytest.raises(ValueError, match="init must be one of"):
        minivae.VAE(init="xavier")


def test_the_train_command_takes_init_and_the_keras_preset_chooses_glorot():
    assert parse_args([])[0].init == "pytorch"
    assert parse_args(["--init", "glorot"])[0].init == "glorot"
    assert parse_args(["--preset", "keras_autoencoder"])[0].init == "glorot"
    assert parse_args(["--preset", "keras_autoencoder", "--init", "pytorch"])[0].init == "pytorch"
