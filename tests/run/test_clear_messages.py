"""One clear line for each input the earlier messages got wrong, and none of unbounded size.

Each test is one finding of a fault campaign: a full disk at the lock (the
run's first write) said "[Errno 28] No space left on device" with no path
and left an empty lock file; ``--hidden ''`` on a dense model said "only an
Autoencoder's code takes an activation"; an ``--out`` that is a link to
nothing said "File exists"; a checkpoint of 100,000 layers gave an 800 KB
message, and a megabyte-long string in a config file was echoed whole.
"""

import errno
import json
import os

import numpy as np
import pytest

from minivae.files.serialize import WriteError, load_npz, save_npz
from minivae.run import train
from minivae.run.rundir import LOCK, RunLock
from minivae.run.train_cli import parse_args

SHORT = 600   # characters: more than any of these messages needs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (60, 8, 8), dtype=np.uint8))
    return str(path)


def args(dataset, out, *extra):
    return ["--dataset", dataset, "--epochs", "1", "--hidden", "8", "--latent-dim", "2",
            "--out", str(out), "--no-plots", "--quiet", *extra]


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err[:2000]
    return err


# -- a full disk at the lock ------------------------------------------------

@pytest.fixture
def full_disk_for_the_lock(monkeypatch):
    """os.write fails with ENOSPC on the lock file, as on a disk with no block left."""
    real_write = os.write

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(LOCK):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to tell the lock's writes from others")
    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_at_the_lock_names_it_and_leaves_no_lock_file(tmp_path,
                                                                   full_disk_for_the_lock):
    with pytest.raises(WriteError) as e:
        RunLock(tmp_path).__enter__()
    assert str(tmp_path / LOCK) in str(e.value) and "full" in str(e.value)
    assert os.listdir(tmp_path) == []


def test_a_run_that_meets_a_full_disk_at_its_first_write_says_where(tiny, tmp_path, capsys,
                                                                    full_disk_for_the_lock):
    out = tmp_path / "run"
    assert train.main(args(tiny, out)) == 1
    err = one_error_line(capsys)
    assert f"cannot write {out / LOCK}: the disk holding {out} is full" in err
    assert not os.path.lexists(out / LOCK)


# -- --hidden '' on a dense model -------------------------------------------

@pytest.mark.parametrize("model", ["vae", "ae"])
def test_no_hidden_layer_on_a_dense_model_is_refused_naming_the_option(model, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["--model", model, "--hidden", ""])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--hidden '': a dense model needs at least one hidden layer" in err
    assert "only an Autoencoder's code" not in err


def test_no_hidden_layer_in_a_config_file_is_refused_too(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("hidden = []\n")
    with pytest.raises(SystemExit):
        parse_args(["--config", str(config)])
    assert "a dense model needs at least one hidden layer" in capsys.readouterr().err


def test_a_conv_model_still_takes_no_hidden_layer():
    cfg, _ = parse_args(["--arch", "conv", "--hidden", ""])
    assert cfg.hidden == ()


# -- --latent-dim 0 on a model whose code is not a feature map --------------

@pytest.mark.parametrize("argv", [[], ["--model", "ae"], ["--arch", "conv"],
                                  ["--preset", "conv_autoencoder", "--model", "vae"]])
def test_a_latent_dim_of_0_is_refused_naming_the_option(argv, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args([*argv, "--latent-dim", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--latent-dim 0: the size of the latent code must be a positive integer" in err
    assert "latent_dim=None" not in err


def test_a_conv_autoencoder_still_takes_a_latent_dim_of_0():
    cfg, _ = parse_args(["--arch", "conv", "--model", "ae", "--latent-dim", "0"])
    assert cfg.latent_dim == 0
    assert parse_args(["--preset", "conv_autoencoder"])[0].latent_dim == 0


# -- an --out that is a link to nothing --------------------------------------

@pytest.mark.parametrize("below", ["", "sub"])
def test_an_out_through_a_dangling_link_names_the_link(tiny, tmp_path, capsys, below):
    link = tmp_path / "link"
    os.symlink(tmp_path / "nowhere", link)
    out = link / below if below else link
    assert train.main(args(tiny, out)) == 1
    err = one_error_line(capsys)
    assert f"{link} is a symbolic link to {tmp_path / 'nowhere'}, which does not exist" in err
    assert "File exists" not in err
    assert os.path.islink(link) and not os.path.exists(tmp_path / "nowhere")


# -- sizes that came from a file, cut in messages ------------------------------

@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert train.main(args(tiny, out)) == 0
    return out


def test_a_checkpoint_of_100000_layers_gives_a_short_message(trained, tmp_path, capsys):
    run = tmp_path / "run"
    os.makedirs(run)
    for name in os.listdir(trained):
        (run / name).write_bytes((trained / name).read_bytes())
    arrays, meta = load_npz(run / "checkpoint.npz")
    meta["config"]["hidden_dims"] = meta["config"]["decoder_hidden_dims"] = [1] * 100_000
    save_npz(run / "checkpoint.npz", arrays, meta)
    capsys.readouterr()
    assert train.main(["--resume", str(run), "--epochs", "2", "--quiet"]) == 1
    err = one_error_line(capsys)
    assert len(err) < 2 * SHORT and "hidden_dims" in err and "..." in err


def test_a_resume_that_changes_a_long_list_shows_it_cut(trained, tmp_path, capsys):
    run = tmp_path / "run"
    os.makedirs(run)
    for name in os.listdir(trained):
        (run / name).write_bytes((trained / name).read_bytes())
    saved = json.loads((run / "config.json").read_text())
    saved["hidden"] = [1] * 100_000
    (run / "config.json").write_text(json.dumps(saved))
    with pytest.raises(SystemExit):
        parse_args(["--resume", str(run), "--hidden", "8"])
    err = capsys.readouterr().err.splitlines()[-1]       # argparse's usage, then the error
    assert len(err) < SHORT and "used 1,1,1," in err


HUGE = "x" * 2_000_000   # stands for the 200 MB of the campaign: the same code path


@pytest.mark.parametrize("key, value", [
    ("dataset", HUGE), ("dataset", HUGE + ".npy"), ("likelihood", HUGE), ("activation", HUGE),
    ("hidden", HUGE), ("decoder_hidden", HUGE), ("out", HUGE), ("data_dir", HUGE),
    ("preset", HUGE), ("threads", HUGE), ("lr", HUGE), ("epochs", HUGE), ("binarize", HUGE),
    (HUGE, 1),
], ids=lambda v: v[:12] if isinstance(v, str) else str(v))
def test_a_huge_string_in_a_config_file_is_shown_cut(tmp_path, capsys, key, value):
    config = tmp_path / "c.json"          # JSON: a key of any length, as TOML allows quoted
    config.write_text(json.dumps({key: value}))
    with pytest.raises(SystemExit) as e:
        parse_args(["--config", str(config)])
    assert e.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]       # argparse's usage, then the error
    assert len(err) < SHORT + len(str(config)), err[:300]
    assert "xxx..." in err or "characters" in err


# -- evaluate on a file of model.save -----------------------------------------

def test_evaluate_says_a_file_of_model_save_records_no_epoch(tiny, tmp_path, capsys):
    """It printed "VAE after epoch ?": the Python API's file holds no training run."""
    import minivae
    from minivae.run import evaluate

    minivae.VAE(input_dim=64, hidden_dims=(8,), latent_dim=2).save(tmp_path / "vae.npz")
    assert evaluate.main([str(tmp_path / "vae.npz"), "--dataset", tiny, "--device", "cpu"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"{tmp_path / 'vae.npz'}: VAE saved from the Python API (model.save), "
                     f"no epoch recorded, 6 test images of {tiny}")
    assert "?" not in first
