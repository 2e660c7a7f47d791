"""Results that changed without a word (issue 23, point 5) now say so, or are refused.

* ``--resume`` of a finished run rewrote reconstructions.csv before ``--threads``
  took effect (OpenBLAS may round a product differently on another count);
* a user's data file replaced between two epochs went on training, and was
  evaluated, without a word: the checkpoint now holds its size and sha256;
* ``evaluate`` compared only the pixel count: an 8x8 model scored 4x16 images;
* arrays of shape (N, 3, 8, 4) trained as 3x8 images of 4 channels without a
  note, where they may be 3-channel 8x4 images stored channel-first.
"""

import os

import numpy as np
import pytest

from minivae import evaluate
from minivae.fast.threads import _blas_controllers, _original_count
from minivae.files.serialize import CheckpointError, load_npz, save_npz
from minivae.run import runs, train

from conftest import make_tiny


def train_tiny(data, out, *extra):
    return train.main(["--dataset", str(data), "--hidden", "8", "--latent-dim", "2", "--epochs",
                       "1", "--batch-size", "32", "--device", "cpu", "--no-plots", "--quiet",
                       "--out", str(out), *extra])


@pytest.fixture
def run(tmp_path):
    """A finished one-epoch run on tiny.npz, trained on one BLAS thread."""
    data = make_tiny(tmp_path / "tiny.npz", n_train=64, n_test=16)
    assert train_tiny(data, tmp_path / "run", "--threads", "1") == 0
    return tmp_path / "run", tmp_path / "tiny.npz"


def test_resuming_a_finished_run_writes_reconstructions_under_its_threads(run, monkeypatch):
    if _original_count(_blas_controllers()) < 2:
        pytest.skip("needs a BLAS of two threads or more to tell --threads 1 from its default")
    out, _ = run
    before = (out / "reconstructions.csv").read_text()
    seen = []
    real = train.write_reconstructions

    def recording(*args, **kwargs):
        seen.append({c.num_threads for c in _blas_controllers()})
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "write_reconstructions", recording)
    assert train.main(["--resume", str(out), "--threads", "1", "--quiet", "--no-plots"]) == 0
    assert seen == [{1}]                                     # written once, on one thread
    assert (out / "reconstructions.csv").read_text() == before


def replace_images(path):
    """The same file name and shapes, other pixels (as a user re-exporting a data set)."""
    arrays = dict(np.load(path))
    arrays["x_train"] = 255 - arrays["x_train"]
    np.savez(path, **arrays)


def test_a_replaced_data_file_is_refused_by_resume_and_evaluate(run, capsys):
    out, data = run
    meta = load_npz(out / "checkpoint.npz")[1]
    saved = meta["dataset_fingerprint"]
    assert saved["bytes"] == os.path.getsize(data) and len(saved["sha256"]) == 64
    metrics = (out / "metrics.csv").read_text()
    original = data.read_bytes()
    replace_images(data)
    capsys.readouterr()
    assert train.main(["--resume", str(out), "--epochs", "2", "--quiet", "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert f"{data} changed since" in err and "resuming would go on with other images" in err
    assert f"read {saved['bytes']:,} bytes of sha256 {saved['sha256'][:16]}" in err   # both
    assert f"now holds {os.path.getsize(data):,} bytes of sha256" in err
    assert (out / "metrics.csv").read_text() == metrics                                # named
    assert evaluate.main([str(out), "--device", "cpu"]) == 1
    assert "its scores would be another data set's" in capsys.readouterr().err
    assert evaluate.main([str(out), "--device", "cpu", "--dataset", str(data)]) == 0   # chosen
    data.write_bytes(original)                                 # the original back: it resumes
    assert train.main(["--resume", str(out), "--epochs", "2", "--quiet", "--no-plots"]) == 0


def test_a_checkpoint_without_a_fingerprint_still_resumes(run):
    """Checkpoints written before fingerprints (tests/run/test_old_checkpoints.py) have none."""
    out, data = run
    arrays, meta = load_npz(out / "checkpoint.npz")
    del meta["dataset_fingerprint"]
    save_npz(out / "checkpoint.npz", arrays, meta)
    replace_images(data)
    assert train.main(["--resume", str(out), "--epochs", "2", "--quiet", "--no-plots"]) == 0


def test_a_damaged_fingerprint_is_refused_naming_the_field(run):
    out, _ = run
    arrays, meta = load_npz(out / "checkpoint.npz")
    meta["dataset_fingerprint"]["sha256"] = "not a digest"
    save_npz(out / "checkpoint.npz", arrays, meta)
    with pytest.raises(CheckpointError, match="'dataset_fingerprint.sha256' must be 64 hex"):
        runs.load_model(out)


def test_evaluate_refuses_images_of_another_shape_with_as_many_pixels(run, tmp_path, capsys):
    out, data = run
    x = np.load(data)["x_test"].reshape(-1, 4, 16)                # 8x8 -> 4x16: 64 pixels
    np.save(tmp_path / "wide.npy", np.concatenate([x] * 10))
    capsys.readouterr()
    assert evaluate.main([str(out), "--device", "cpu", "--dataset", str(tmp_path / "wide.npy")]) \
        == 1
    err = capsys.readouterr().err
    assert "holds images of shape 4x16, and the model was trained on 8x8 images" in err
    model, _, _ = runs.load_model(out)
    model.save(tmp_path / "saved.npz")                         # no image shape in the file:
    assert evaluate.main([str(tmp_path / "saved.npz"), "--device", "cpu", "--dataset",
                          str(tmp_path / "wide.npy")]) == 0    # scored as the data's 4x16


@pytest.mark.parametrize("shape, note", [
    ((40, 3, 8, 4), "read channels-last, as 3x8 images of 4 channels; if they are 3-channel "
                    "8x4 images"),
    ((40, 3, 8, 3), "as 3x8 images of 3 channels; if they are 3-channel 8x3 images"),
    ((40, 8, 8, 3), None),
])
def test_arrays_that_may_be_channel_first_train_with_a_note(tmp_path, capsys, shape, note):
    path = tmp_path / "images.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    assert train_tiny(path, tmp_path / "run") == 0
    err = capsys.readouterr().err
    if note is None:
        assert "channel-first" not in err
    else:
        assert note in err and "save x.transpose(0, 2, 3, 1) instead" in err
