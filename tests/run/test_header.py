"""The train command's header says what the labs print: the encoder/decoder parameter split
and each part's activations, a conv model's real layers (no "dense" where there is none),
counts that agree with their nouns, and every line within 100 columns, the last ones too."""

import os

import numpy as np

import minivae
from minivae.run import train
from minivae.run.console import fit, layers_line, plural


def header(capsys, argv):
    assert train.main(argv) == 0
    return capsys.readouterr().out.splitlines()


def test_the_keras_labs_split_of_encoder_and_decoder():
    model = minivae.VAE(hidden_dims=(2000, 256), latent_dim=2)   # the seed Keras VAE
    assert layers_line(model) == ("  layers: encoder 2,083,284 parameters (relu,relu), "
                                  "decoder 2,083,552 (relu,relu)")
    ae = minivae.Autoencoder(hidden_dims=(144, 72), latent_dim=48, activation="relu,relu,tanh",
                             decoder_activation="tanh,tanh,sigmoid", likelihood="mse")
    assert layers_line(ae).endswith("(relu,relu,tanh), decoder 127,720 (tanh,tanh,sigmoid)")


def test_a_conv_autoencoder_without_dense_layers_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "faces.npz", x=rng.integers(0, 256, (30, 64, 64, 3), dtype=np.uint8))
    lines = header(capsys, ["--dataset", str(tmp_path / "faces.npz"), "--preset",
                            "conv_autoencoder", "--epochs", "1", "--no-plots", "--out",
                            str(tmp_path / "run")])
    first = " ".join(lines[:2])
    assert "conv 3x64x64 12,24,48 k4 s2 p1" in first and "code 48x8x8" in first
    assert "dense" not in first and "12288-3072-12288" not in first
    layers = [line for line in lines if line.startswith("  layers:")][0]
    assert "decoder 23,655 (relu,relu,tanh)" in layers and "47,355 parameters" in first
    assert "1 epoch" in " ".join(lines) and "1 epochs" not in " ".join(lines)
    assert "1 step of" in " ".join(lines) and "3 test images" in " ".join(lines)
    assert max(len(line) for line in lines if str(tmp_path) not in line) <= 100


def test_the_last_lines_fit_100_columns_with_a_usual_run_directory(tmp_path, capsys,
                                                                   monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "small.npz", x=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8))
    monkeypatch.chdir(tmp_path)
    out = "runs/small-vae-20261207-014612"            # a default run directory's length
    lines = header(capsys, ["--dataset", "small.npz", "--hidden", "8", "--latent-dim", "2",
                            "--epochs", "1", "--out", out])
    assert lines[-3:][0].startswith("  new images:") or any(
        line == f"Run directory {out}:" for line in lines)
    assert max(map(len, lines)) <= 100, max(lines, key=len)


def test_plural_and_fit():
    assert plural(1, "epoch") == "1 epoch" and plural(2, "step") == "2 steps"
    long = "Training a model (a, b, c), " + "x" * 80 + ", 12 parameters"
    lines = fit(long)
    assert all(len(line) <= 100 for line in lines) and lines[1].startswith("  ")
    assert "(a, b, c)," in lines[0] and "".join(lines).replace(",  ", ", ") == long


def test_the_forms_line_names_only_the_forms_the_model_runs():
    """A dense model has no conv layer: the header names Adam's compiled loop alone."""
    from minivae.fast.forms import NumbaOps
    from minivae.ops import Ops

    dense = minivae.VAE(input_dim=64, hidden_dims=(8,), latent_dim=2)
    conv = minivae.VAE(arch="conv", image_shape=(1, 8, 8), channels=(4,), hidden_dims=(),
                       latent_dim=2)
    numba = NumbaOps(np)
    assert numba.describe(dense) == "plain forms; Adam: compiled loop (Numba)"
    assert "im2col and col2im" in numba.describe(conv) and "im2col" not in numba.describe(dense)
    assert Ops(np).describe(conv) == Ops.description


def test_the_header_says_where_mnist_was_read_from(mnist_dir, tmp_path, capsys, monkeypatch):
    small = ["--hidden", "8", "--latent-dim", "2", "--batch-size", "2000", "--epochs", "1",
             "--no-plots", "--device", "cpu"]
    lines = header(capsys, ["--data-dir", mnist_dir, *small, "--out", str(tmp_path / "a")])
    from_line = [line for line in lines if line.startswith("  from:")]
    assert from_line in ([f"  from:   {os.path.abspath(mnist_dir)} (data directory)"],
                         [f"  from:   {os.path.join(os.path.abspath(mnist_dir), 'mnist')} "
                          "(data directory)"])
    monkeypatch.setenv("MINIVAE_DATA_DIR", mnist_dir)
    lines = header(capsys, [*small, "--out", str(tmp_path / "b")])
    assert [line for line in lines if line.startswith("  from:")][0].endswith(
        " ($MINIVAE_DATA_DIR)")


def test_a_data_dir_variable_that_is_no_directory_is_an_error(tmp_path, capsys, monkeypatch):
    """As --data-dir /nonexistent is: not skipped for the cache or /usr/share/datasets."""
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(tmp_path / "nonexistent"))
    assert train.main(["--epochs", "1", "--no-plots", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert f"$MINIVAE_DATA_DIR={tmp_path / 'nonexistent'}: no such directory" in err
    assert not (tmp_path / "run").exists()
