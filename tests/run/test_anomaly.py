"""The labs' anomaly workflow from the commands alone: train on the normal labels
(--train-labels), score every test image (evaluate --per-image, with the ROC-AUC of the
labels training never saw), the labs' prediction.csv for every row, and ten rows in
reconstructions.csv whatever the number of classes."""

import csv

import numpy as np
import pytest

from minivae.data import load_dataset
from minivae.run import evaluate, train
from minivae.run.anomaly import PER_IMAGE_COLUMNS, roc_auc

from conftest import make_tiny   # 8x8 blobs labelled 0..3 by quadrant: 512 train, 128 test


def tiny_run(tmp_path, *extra):
    data, out = make_tiny(tmp_path / "tiny.npz"), tmp_path / "run"
    argv = ["--dataset", data, "--hidden", "32", "--latent-dim", "4", "--epochs", "3",
            "--batch-size", "32", "--device", "cpu", "--no-plots", "--out", str(out), *extra]
    return argv, out


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_roc_auc_counts_the_pairs_a_positive_wins():
    assert roc_auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert roc_auc([4, 3, 2, 1], [False, False, True, True]) == 0.0
    assert roc_auc([1, 1, 1, 1], [False, True, False, True]) == 0.5      # ties count one half
    rng = np.random.default_rng(0)
    s, pos = rng.integers(0, 5, 60).astype(float), rng.random(60) < 0.3
    pairs = [(a > b) + 0.5 * (a == b) for a in s[pos] for b in s[~pos]]
    assert roc_auc(s, pos) == pytest.approx(np.mean(pairs))
    with pytest.raises(ValueError, match="positive and one negative"):
        roc_auc([1, 2], [True, True])


@pytest.mark.parametrize("model", ["vae", "ae"])
def test_train_on_normal_labels_then_score_a_mixed_test_set(tmp_path, capsys, monkeypatch,
                                                            model):
    argv, out = tiny_run(tmp_path, "--train-labels", "0,1", "--model", model)
    assert train.main(argv) == 0
    printed = capsys.readouterr().out
    train_labels = np.load(tmp_path / "tiny.npz")["y_train"]
    assert f"{int(np.isin(train_labels, [0, 1]).sum())} train" in printed   # only labels 0, 1
    scores, predictions = tmp_path / "scores.csv", tmp_path / "prediction.csv"
    splits = []                                     # the images evaluate loads: the test set's
    monkeypatch.setattr(evaluate, "load_dataset", lambda name, split, **kw: splits.append(
        split) or load_dataset(name, split, **kw))
    assert evaluate.main([str(out), "--per-image", str(scores),
                          "--predictions", str(predictions)]) == 0
    assert splits == ["test"]                       # the training labels alone: load_labels
    text = capsys.readouterr().out
    rows = read_csv(scores)
    test_labels = np.load(tmp_path / "tiny.npz")["y_test"]
    assert list(rows[0]) == list(PER_IMAGE_COLUMNS) and len(rows) == len(test_labels)
    assert [int(r["label"]) for r in rows] == test_labels.tolist()
    unseen = np.array([r["unseen"] == "1" for r in rows])
    assert (unseen == np.isin(test_labels, [2, 3])).all()
    auc = roc_auc([float(r["loss"]) for r in rows], unseen)
    assert f"anomalies: the {unseen.sum()} test images of labels 2, 3" in text
    assert f"ROC-AUC {auc:.4f} scored by" in text
    loss = np.array([float(r["loss"]) for r in rows])
    parts = np.array([float(r["recon"]) + float(r["kl"]) for r in rows])
    assert np.allclose(loss, parts, rtol=1e-5)                   # beta 1: loss = recon + KL
    with open(predictions) as f:
        header = f.readline().strip().split(",")
        n_rows = sum(1 for _ in f)
    assert header[:2] == ["row_id", "orig_px0"] and header[-1] == "recon_px63"
    assert len(header) == 1 + 2 * 64 and n_rows == len(test_labels)
    assert max(len(line) for line in text.splitlines() if str(tmp_path) not in line) <= 100


def test_without_unseen_labels_there_is_no_roc_auc(tmp_path, capsys):
    argv, out = tiny_run(tmp_path)
    assert train.main(argv) == 0
    capsys.readouterr()
    assert evaluate.main([str(out), "--per-image", str(tmp_path / "s.csv")]) == 0
    assert "every test label occurs in training" in capsys.readouterr().out


def test_train_labels_that_select_nothing_are_refused(tmp_path, capsys):
    argv, out = tiny_run(tmp_path, "--train-labels", "7")
    assert train.main(argv) == 1
    err = capsys.readouterr().err
    assert "--train-labels 7: no training image" in err and "it has 0, 1, 2, 3" in err
    images = np.zeros((20, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "plain.npy", images)
    argv = ["--dataset", str(tmp_path / "plain.npy"), "--train-labels", "0", "--out",
            str(tmp_path / "r2"), "--no-plots", "--quiet"]
    assert train.main(argv) == 1
    assert "has no labels" in capsys.readouterr().err


def test_reconstructions_csv_holds_ten_images_for_two_classes(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "faces.npz"     # faces and non-faces: two labels
    np.savez(path, x_train=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
             y_train=np.zeros(40, dtype=np.int64),
             x_test=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
             y_test=np.arange(30) % 2)
    out = tmp_path / "run"
    assert train.main(["--dataset", str(path), "--hidden", "8", "--latent-dim", "2",
                       "--epochs", "1", "--no-plots", "--quiet", "--out", str(out)]) == 0
    rows = read_csv(out / "reconstructions.csv")
    assert [int(r["row_id"]) for r in rows] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
