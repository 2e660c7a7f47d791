"""The conv examples: MNIST anomaly detection with conv models, and faces against non-faces."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
sys.path.insert(0, EXAMPLES)
import _common  # noqa: E402
import anomaly_detection  # noqa: E402


def test_anomaly_detection_with_conv_models(tmp_path):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)  # noqa: E731
    data = _common.Data(images(120), np.arange(120) % 10, images(60), np.arange(60) % 10)
    out = anomaly_detection.main(["--epochs", "1", "--hidden", "8", "--device", "cpu", "--out",
                                  str(tmp_path), "--arch", "conv", "--k", "3", "--latent-dim", "2"],
                                 data=data)
    assert set(out["auc"]) == {"VAE -ELBO", "VAE -L_3", "AE recon"}
    assert all(0 <= a <= 1 for a in out["auc"].values())


def test_faces_anomaly_end_to_end(tmp_path):
    pytest.importorskip("skimage", reason="scikit-image not installed")
    import faces_anomaly
    out = faces_anomaly.main(["--epochs", "2", "--device", "cpu", "--out", str(tmp_path)])
    assert set(out["auc"]) == {"dense AE recon error", "conv AE recon error",
                               "conv VAE recon error", "conv VAE -ELBO"}
    assert all(0 <= a <= 1 for a in out["auc"].values())
    assert out["is_face"].sum() == 20 and len(out["is_face"]) == 120
    with open(tmp_path / "prediction.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["row_id", "orig_px0"] and rows[0][-1] == "recon_px624"
    assert len(rows) == 121 and len(rows[1]) == 1 + 2 * 625
    recon = np.array(rows[1][626:], dtype=float)
    assert 0 <= recon.min() and recon.max() <= 1
    assert (tmp_path / "faces_anomaly.png").stat().st_size > 0


def test_faces_predictions_are_written_as_evaluate_writes_them(tmp_path):
    """The example's prediction.csv comes from evaluate --predictions' writer: interrupted
    mid-write (Ctrl-C, a full disk), it leaves the file it would replace as it was."""
    import faces_anomaly
    from minivae.run import anomaly
    assert faces_anomaly.write_predictions is anomaly.write_predictions
    path = tmp_path / "prediction.csv"
    path.write_text("the last run's\n")
    x = np.random.default_rng(0).random((4, 625)).astype(np.float32)

    def interrupted():
        yield x, x
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        faces_anomaly.write_predictions(path, interrupted())
    assert path.read_text() == "the last run's\n" and os.listdir(tmp_path) == ["prediction.csv"]


def test_faces_script_help_runs_from_any_directory(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "faces_anomaly.py"), "--help"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(EXAMPLES)})
    assert done.returncode == 0 and "--latent-dim" in done.stdout and "faces" in done.stdout


def test_keras_autoencoder_example(tmp_path):
    import keras_autoencoder
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)  # noqa: E731
    data = _common.Data(images(60), np.arange(60) % 10, images(30), np.arange(30) % 10)
    out = keras_autoencoder.main(["--epochs", "1", "--device", "cpu", "--out", str(tmp_path)],
                                 data=data)
    assert set(out) == {"pytorch", "glorot"} and out["pytorch"] != out["glorot"]
    assert all(0 < v < 1 for v in out.values())
    model = keras_autoencoder.keras_model(type("A", (), {"device": "cpu", "seed": 0})(), "glorot")
    assert np.all(model.params["enc0.b"] == 0) and np.abs(model.params["enc0.W"]).max() <= np.sqrt(6 / 928)
