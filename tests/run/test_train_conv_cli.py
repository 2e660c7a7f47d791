"""The training command's architecture options: --arch conv, per-layer activations, presets."""

import json

import numpy as np
import pytest

from minivae import load_model
from minivae.run import train
from minivae.run.train_cli import parse_args

from conftest import make_tiny


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path / "tiny.npz")                 # 8x8 grey blobs


def args(dataset, out, *extra):
    return ["--dataset", dataset, "--latent-dim", "4", "--batch-size", "64", "--device", "cpu",
            "--no-plots", "--quiet", "--epochs", "1", "--out", str(out), *extra]


def test_conv_options_parse_from_the_command_line_and_toml(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('arch = "conv"\nchannels = [8, 16]\nkernel_size = 3\nstride = 1\npadding = 1\n'
                    'hidden = []\nactivation = ["relu", "tanh"]\ndecoder_activation = "tanh,relu"\n'
                    'likelihood = "mse"\npixel_range = "symmetric"\n')
    cfg, _ = parse_args(["--config", str(toml), "--stride", "2"])
    assert (cfg.arch, cfg.channels, cfg.kernel_size, cfg.stride, cfg.padding, cfg.hidden) == \
        ("conv", (8, 16), 3, 2, 1, ())
    assert (cfg.activation, cfg.decoder_activation, cfg.likelihood, cfg.pixel_range) == \
        ("relu,tanh", "tanh,relu", "mse", "symmetric")
    cli, _ = parse_args(["--arch", "conv", "--channels", "4,8", "--hidden", "", "--activation",
                         "relu,relu,tanh", "--decoder-activation", "tanh,tanh,sigmoid"])
    assert cli.channels == (4, 8) and cli.hidden == () and cli.activation == "relu,relu,tanh"


def test_a_preset_fills_options_that_the_command_line_overrides():
    cfg, _ = parse_args(["--preset", "keras_autoencoder", "--epochs", "3"])
    assert (cfg.model, cfg.hidden, cfg.latent_dim, cfg.activation, cfg.decoder_activation) == \
        ("ae", (144, 72), 48, "relu,relu,tanh", "tanh,tanh,sigmoid")
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.likelihood) == (0.0015, 300, 3, "mse")


@pytest.mark.parametrize("argv, message", [
    (["--activation", "relu,swish"], "expected activation names"),
    (["--preset", "unet"], "invalid choice"),
    (["--pixel-range", "0,255"], "invalid choice"),
])
def test_bad_options_are_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_conv_vae_trains_saves_and_reloads(tiny, tmp_path):
    out = tmp_path / "run"
    assert train.main(args(tiny, out, "--arch", "conv", "--channels", "4,8", "--hidden", "16")) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "conv" and config["channels"] == [4, 8]
    model = load_model(out / "checkpoint.npz")
    assert model.arch == "conv" and model.image_shape == (1, 8, 8) and model.channels == (4, 8)
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2 and np.isfinite(float(rows[1].split(",")[1]))


def test_conv_autoencoder_with_feature_map_code_and_pm1_range(tiny, tmp_path):
    out = tmp_path / "run"
    assert train.main(args(tiny, out, "--arch", "conv", "--model", "ae", "--latent-dim", "0",
                           "--hidden", "", "--channels", "3,6", "--likelihood", "mse",
                           "--pixel-range", "symmetric", "--decoder-activation", "relu")) == 0
    model = load_model(out / "checkpoint.npz")
    assert model.code_is_feature_map and model.latent_dim == 6 * 2 * 2
    assert type(model.decoder[-1]).__name__ == "Tanh"


def test_keras_style_activations_train(tiny, tmp_path):
    out = tmp_path / "run"
    assert train.main(args(tiny, out, "--model", "ae", "--hidden", "16,8", "--activation",
                           "relu,relu,tanh", "--decoder-activation", "tanh,tanh,sigmoid",
                           "--likelihood", "mse")) == 0
    model = load_model(out / "checkpoint.npz")
    assert [type(l).__name__ for l in model.code_head.layers] == ["Dense", "Tanh"]


@pytest.mark.parametrize("extra, message", [
    (["--preset", "conv_autoencoder"], "conv_autoencoder is the lab's model for colour images"),
    (["--preset", "fcn_autoencoder"], "reads 12288 numbers per image"),
    (["--arch", "conv", "--channels", "4,4,4,4"], "too small for another"),
])
def test_options_that_do_not_fit_the_data_are_clear_errors(tiny, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert train.main(args(tiny, out, *extra)) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (out / "checkpoint.npz").exists()


def test_colour_non_square_conv_run_draws_its_figures_and_report(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:12, 0:8]

    def images(n):                          # coloured blobs, 12 rows x 8 columns x 3 channels
        cy, cx = rng.uniform(2, 10, n), rng.uniform(2, 6, n)
        blob = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 4)
        colour = rng.uniform(0.2, 1, (n, 1, 1, 3))
        return (blob[..., None] * colour * 255).astype(np.uint8)

    data = tmp_path / "colour.npz"
    np.savez(data, x_train=images(256), x_test=images(64))
    out = tmp_path / "run"
    argv = [a for a in args(str(data), out, "--arch", "conv", "--channels", "4,8", "--hidden", "16")
            if a != "--no-plots"]
    assert train.main(argv) == 0
    model = load_model(out / "checkpoint.npz")
    assert model.image_shape == (3, 12, 8)
    for name in ("reconstructions.png", "samples.png", "report.html"):
        assert (out / name).stat().st_size > 0, name
    from matplotlib.image import imread
    picture = imread(out / "reconstructions.png")
    assert picture.ndim == 3 and np.abs(picture[..., 0] - picture[..., 1]).max() > 0.05   # colour


def test_conv_autoencoder_preset_trains_on_64x64_colour_images(tmp_path, capsys):
    images = np.random.default_rng(0).integers(0, 256, (48, 64, 64, 3), dtype=np.uint8)
    data = tmp_path / "faces.npz"
    np.savez(data, x_train=images[:40], x_test=images[40:])
    out = tmp_path / "run"
    argv = [a for a in args(str(data), out, "--preset", "conv_autoencoder", "--batch-size", "8")
            if a not in ("--quiet",)]
    argv.remove("--latent-dim"), argv.remove("4")           # the preset's code: the feature map
    assert train.main(argv) == 0
    assert "47,355 parameters" in capsys.readouterr().out
    model = load_model(out / "checkpoint.npz")
    assert model.pixel_range == "symmetric" and model.latent_dim == 48 * 8 * 8


def test_a_conv_run_resumes_from_its_config(tiny, tmp_path):
    out = tmp_path / "run"
    assert train.main(args(tiny, out, "--arch", "conv", "--channels", "4", "--hidden", "",
                           "--activation", "tanh", "--decoder-activation", "relu")) == 0
    assert train.main(["--resume", str(out), "--epochs", "2", "--quiet", "--no-plots"]) == 0
    assert len((out / "metrics.csv").read_text().splitlines()) == 3
    with pytest.raises(SystemExit):                       # the architecture cannot change
        parse_args(["--resume", str(out), "--channels", "8"])
