"""A checkpoint whose Adam v holds a negative value is refused, naming the array.

Adam's v is a running mean of squared gradients, so no run ever saves one
below 0. Loaded as it was, it made sqrt(v) NaN at the first step of the
resumed run, which then stopped as "diverged" and blamed the learning rate.
"""

import numpy as np
import pytest

from minivae.files.serialize import CheckpointError, load_npz, save_npz
from minivae.run import train
from minivae.run.runs import load_checkpoint


@pytest.fixture
def run_dir(tmp_path):
    data = tmp_path / "tiny.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (60, 8, 8), dtype=np.uint8))
    out = tmp_path / "run"
    assert train.main(["--dataset", str(data), "--epochs", "1", "--hidden", "8",
                       "--latent-dim", "2", "--out", str(out), "--no-plots", "--quiet"]) == 0
    return out


def make_v_negative(run_dir, name="optim/v.enc0.W"):
    path = run_dir / "checkpoint.npz"
    arrays, meta = load_npz(path)
    arrays[name] = arrays[name].copy()
    arrays[name].flat[3] = -0.5
    save_npz(path, arrays, meta)
    return path


def test_loading_refuses_a_negative_adam_v(run_dir):
    make_v_negative(run_dir)
    with pytest.raises(CheckpointError, match=r"optim/v\.enc0\.W .*1 negative values"):
        load_checkpoint(str(run_dir))


def test_resuming_refuses_it_in_one_line_and_keeps_the_file(run_dir, capsys):
    path = make_v_negative(run_dir, "optim/v.out.b")
    before = path.read_bytes()
    capsys.readouterr()
    status = train.main(["--resume", str(run_dir), "--epochs", "2", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "optim/v.out.b" in err and "negative" in err
    assert "--lr" not in err                          # the learning rate is not to blame
    assert path.read_bytes() == before


def test_a_v_of_zero_and_any_m_are_accepted(run_dir):
    path = run_dir / "checkpoint.npz"
    arrays, meta = load_npz(path)
    arrays["optim/v.enc0.W"] = np.zeros_like(arrays["optim/v.enc0.W"])
    arrays["optim/v.enc0.W"].flat[0] = -0.0                  # -0.0 is not below 0
    arrays["optim/m.enc0.W"] = -np.abs(arrays["optim/m.enc0.W"]) - 1   # m takes any sign
    save_npz(path, arrays, meta)
    load_checkpoint(str(run_dir))
