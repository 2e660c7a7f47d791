"""The example scripts: each main() on a tiny synthetic dataset, and their helpers.

No MNIST needed: every script's ``main(argv, data=...)`` takes the dataset
as an argument. One epoch on 8 x 8 noise images checks that a script runs
end to end and draws its figure, not what it finds on MNIST.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import minivae
from minivae.run.evaluation import evaluate_elbo

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
sys.path.insert(0, EXAMPLES)

import _common  # noqa: E402
import anomaly_detection  # noqa: E402
import beta_sweep  # noqa: E402
import importance_weighted  # noqa: E402
import latent_size  # noqa: E402

SCRIPTS = ["latent_size", "beta_sweep", "anomaly_detection", "importance_weighted",
           "posterior_collapse", "binarization", "conditional"]   # (the last three: test_latent_examples.py)


@pytest.fixture
def tiny():
    """120 training and 60 test images of 8 x 8 uint8 noise, labels 0..9 (each present)."""
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)  # noqa: E731
    labels = lambda n: np.arange(n) % 10  # noqa: E731
    return _common.Data(images(120), labels(120), images(60), labels(60))


def args(tmp_path, *more):
    return ["--epochs", "1", "--hidden", "8", "--device", "cpu", "--out", str(tmp_path), *more]


# -- each script, end to end ------------------------------------------------

def test_latent_size(tiny, tmp_path, capsys):
    results = latent_size.main(args(tmp_path, "--sizes", "2,3"), data=tiny)
    assert [r["Z"] for r in results] == [2, 3]
    for r in results:
        assert np.isclose(r["loss"], r["recon"] + r["kl"]) and r["kl"] >= 0
        assert 0 <= r["active"] <= r["Z"] and r["samples"].shape == (64, 64)
    assert "active units" in capsys.readouterr().out
    assert (tmp_path / "latent_size.png").stat().st_size > 0


def test_beta_sweep(tiny, tmp_path):
    results = beta_sweep.main(args(tmp_path, "--betas", "0.5,4", "--latent-dim", "3"), data=tiny)
    assert [r["beta"] for r in results] == [0.5, 4.0]
    assert all(np.isfinite(r["recon"]) and r["kl"] >= 0 for r in results)
    assert (tmp_path / "beta_sweep.png").stat().st_size > 0


def test_anomaly_detection(tiny, tmp_path):
    out = anomaly_detection.main(args(tmp_path, "--seen", "0123", "--k", "5",
                                      "--latent-dim", "3"), data=tiny)
    assert set(out["auc"]) == {"VAE -ELBO", "VAE -L_5", "AE recon"}
    assert all(0 <= a <= 1 for a in out["auc"].values())
    np.testing.assert_array_equal(out["is_unseen"], tiny.test_labels >= 4)
    assert (tmp_path / "anomaly_detection.png").stat().st_size > 0


@pytest.mark.parametrize("binarize", [False, True])
def test_importance_weighted(tiny, tmp_path, binarize):
    out = importance_weighted.main(args(tmp_path, "--ks", "1,10,100", "--n-test", "20",
                                        "--latent-dim", "3", *(["--binarize"] if binarize else [])),
                                   data=tiny)
    nll = out["nll"]
    # -L_K falls with K in expectation; on 20 images of an untrained model only
    # the gap from K = 1 to K = 100 is wider than the noise of the estimates.
    assert nll[100] < nll[1] and nll[10] < nll[1]
    assert out["elbo"] > nll[100]
    assert (tmp_path / "importance_weighted.png").stat().st_size > 0


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_runs_from_the_command_line(script):
    """`python examples/<script>.py --help` finds _common and minivae from any directory."""
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, f"{script}.py"), "--help"],
                          capture_output=True, text=True, cwd=os.path.dirname(EXAMPLES))
    assert done.returncode == 0, done.stderr
    assert "--epochs" in done.stdout and "--data-dir" in done.stdout and "--device" in done.stdout


# -- ROC-AUC against the definition ---------------------------------------

def brute_force_auc(neg, pos):
    """P(pos > neg) + P(pos == neg) / 2 over all pairs: the definition, O(N P)."""
    neg, pos = np.asarray(neg)[None, :], np.asarray(pos)[:, None]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


@pytest.mark.parametrize("seed", range(20))
def test_roc_auc_matches_the_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    levels = rng.integers(2, 12)                          # few levels: many ties
    neg = rng.integers(0, levels, rng.integers(1, 40))
    pos = rng.integers(0, levels, rng.integers(1, 40)) + rng.integers(0, 3)
    assert _common.roc_auc(neg, pos) == pytest.approx(brute_force_auc(neg, pos), abs=1e-12)
    x, y = rng.normal(size=50), rng.normal(size=30) + 0.5   # continuous: no ties
    assert _common.roc_auc(x, y) == pytest.approx(brute_force_auc(x, y), abs=1e-12)


def test_roc_auc_edge_cases():
    assert _common.roc_auc([1, 2, 3], [4, 5]) == 1.0      # every positive above
    assert _common.roc_auc([4, 5], [1, 2, 3]) == 0.0      # every positive below
    assert _common.roc_auc([7, 7], [7, 7, 7]) == 0.5      # all tied
    assert _common.roc_auc([0.0], [0.0 + 1e-12]) == 1.0   # a hair apart is not a tie
    with pytest.raises(ValueError):
        _common.roc_auc([], [1.0])


@pytest.mark.parametrize("seed", range(5))
def test_roc_curve_area_is_the_auc(seed):
    rng = np.random.default_rng(seed)
    neg, pos = rng.integers(0, 6, 25), rng.integers(1, 7, 15)
    fpr, tpr = _common.roc_curve(neg, pos)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))   # trapezoids
    assert area == pytest.approx(_common.roc_auc(neg, pos), abs=1e-12)


# -- the measurement helpers ------------------------------------------------

def test_recon_and_kl_are_the_library_terms_as_numpy():
    """The examples' helper only converts minivae.run.evaluation.per_example_loss to NumPy."""
    model = minivae.VAE(input_dim=30, hidden_dims=(16,), latent_dim=4, dtype="float64", seed=3)
    x = np.random.default_rng(0).random((2500, 30))       # spans three batches of 1000
    recon, kl = _common.recon_and_kl(model, x)
    assert recon.shape == kl.shape == (2500,) and recon.dtype == kl.dtype == np.float64
    ref = evaluate_elbo(model, x)
    assert recon.mean() == pytest.approx(ref["recon"], rel=1e-12)
    assert kl.mean() == pytest.approx(ref["kl"], rel=1e-12)
    gaussian = minivae.VAE(input_dim=30, hidden_dims=(16,), latent_dim=4, likelihood="gaussian",
                           dtype="float64")           # any likelihood, not only Bernoulli
    assert _common.recon_and_kl(gaussian, x)[0].mean() == pytest.approx(
        evaluate_elbo(gaussian, x)["recon"], rel=1e-12)
    ae = minivae.Autoencoder(input_dim=30, hidden_dims=(16,), latent_dim=4, dtype="float64")
    recon, kl = _common.recon_and_kl(ae, x)
    assert not kl.any() and recon.mean() == pytest.approx(float(ae.loss(x)[0]), rel=1e-12)


@pytest.mark.parametrize("script", ["_common", *SCRIPTS])
def test_examples_use_only_the_public_api(script):
    """No private module, method or layer of minivae: what the examples need is public."""
    with open(os.path.join(EXAMPLES, f"{script}.py"), encoding="utf-8") as f:
        source = f.read()
    private = re.findall(r"minivae(?:\.\w+)*\._\w+|\.\s*_[a-z]\w*|\.(?:en|de)coder\b", source)
    assert not private, f"examples/{script}.py reaches into minivae's private parts: {private}"


def test_model_input_binarizes_once_and_reproducibly():
    model = minivae.VAE(input_dim=64, hidden_dims=(8,), latent_dim=2)
    images = np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8)
    a, b = (_common.model_input(model, images, binarize_seed=1) for _ in range(2))
    assert set(np.unique(a)) <= {0.0, 1.0} and np.array_equal(a, b)
    grey = _common.model_input(model, images)
    assert grey.shape == (50, 64) and grey.max() <= 1 and not np.array_equal(grey, a)
