"""The examples of the conditional VAE, posterior collapse and binarization: each main() on a
tiny synthetic data set, one or two epochs, as tests/scripts/test_examples.py runs the others
(which also runs their --help and checks that they use only the public API)."""

import math
import os
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "examples")
sys.path.insert(0, EXAMPLES)

import binarization  # noqa: E402
import conditional  # noqa: E402
import posterior_collapse  # noqa: E402
from test_examples import tiny  # noqa: E402,F401 (the fixture: 8 x 8 noise, labels 0..9)


def args(tmp_path, *more):
    return ["--device", "cpu", "--out", str(tmp_path), *more]


def test_posterior_collapse(tiny, tmp_path, capsys):
    results = posterior_collapse.main(args(tmp_path, "--epochs", "2", "--warmup", "1",
                                           "--hidden", "8", "--latent-dim", "3"), data=tiny)
    assert list(results) == ["plain", "warm-up 1", "free bits 0.5"]
    for r in results.values():
        assert [h["epoch"] for h in r["history"]] == [1, 2]
        assert all(0 <= h["active_units"] <= 3 and h["kl"] >= 0 for h in r["history"])
        assert math.isclose(r["loss"], r["recon"] + r["kl"], rel_tol=1e-6)
    assert results["warm-up 1"]["history"][0]["beta"] < 1 == results["plain"]["history"][0]["beta"]
    printed = capsys.readouterr().out
    assert "active units" in printed and "free bits 0.5: KL, active" in printed
    assert (tmp_path / "posterior_collapse.png").stat().st_size > 0


def test_binarization(tiny, tmp_path, capsys):
    results = binarization.main(args(tmp_path, "--epochs", "1", "--hidden", "8", "--latent-dim",
                                     "2", "--n-test", "20", "--k", "5"), data=tiny)
    assert list(results) == ["continuous", "static", "dynamic"]
    assert all(np.isfinite([r["train"], r["test"]]).all() for r in results.values())
    assert "grey test" in results["continuous"]
    assert "static minus dynamic" in capsys.readouterr().out
    assert (tmp_path / "binarization.png").stat().st_size > 0


def test_conditional(tiny, tmp_path, capsys):
    results = conditional.main(args(tmp_path, "--epochs", "1", "--hidden", "8", "--latent-dim",
                                    "2", "--n-test", "20", "--k", "10", "--k-mix", "5"), data=tiny)
    assert set(results) == {"VAE", "CVAE", "mixture", "accuracy"}
    for name in ("VAE", "CVAE"):
        r = results[name]
        assert r["per_image"].shape == (20,) and r["nll"] < r["loss"] + 1   # L_K tighter
    assert results["mixture"].shape == (20,) and 0 <= results["accuracy"] <= 1
    printed = capsys.readouterr().out
    assert "VAE minus CVAE" in printed and "log 10 = 2.30" in printed
    assert "the CVAE without labels" in printed and "as a classifier" in printed
    assert (tmp_path / "conditional.png").stat().st_size > 0
