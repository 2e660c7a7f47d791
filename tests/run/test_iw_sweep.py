"""evaluate --iw-sweep: L_K at K = 1 ... 5000 from one set of samples, its standard errors and
effective sample sizes, the check that it rises with K, and the published numbers beside it."""

import math

import numpy as np
import pytest

from minivae import CVAE, VAE
from minivae.iwae import logsumexp_softmax
from minivae.run import evaluate, train
from minivae.run.evaluation import eval_generator, iw_log_likelihood
from minivae.run.importance import log_sums
from minivae.run.sweep import iw_sweep
from minivae.run.sweep import BURDA_SETTING, published_lines

from conftest import make_tiny


def small(cls=VAE, **kw):
    return cls(input_dim=12, hidden_dims=(9,), latent_dim=3, dtype="float64", seed=0, **kw)


def binary(n=40, seed=0):
    return (np.random.default_rng(seed).random((n, 12)) > 0.5) * 1.0


def test_each_k_is_the_bound_of_the_first_k_samples():
    """L_K of the sweep is iw_log_likelihood's L_K with the same noise: the largest K exactly,
    and each smaller K the bound of that many of the same samples."""
    model, x = small(), binary()
    sweep = iw_sweep(model, x, (1, 10, 200), rng=eval_generator(model, 5), batch_size=20)
    bound = iw_log_likelihood(model, x, 200, rng=eval_generator(model, 5), batch_size=20)
    np.testing.assert_allclose(sweep[200][0], bound, rtol=0, atol=1e-10)
    for k, (lk, ess) in sweep.items():
        assert lk.shape == ess.shape == (40,) and np.all((ess >= 1 - 1e-9) & (ess <= k + 1e-9))
    assert np.all(sweep[1][1] == 1.0)                        # one sample: ESS 1
    assert sweep[200][0].mean() > sweep[1][0].mean()         # the bound tightens


@pytest.mark.parametrize("shape, scale", [((5000, 20), 100.0), ((7, 3), 1000.0), ((1, 4), 1.0)])
def test_log_sums_are_the_log_sum_exps_of_log_w_and_2_log_w_to_the_bit(shape, scale):
    """What the sweep and --iw need, without the softmax logsumexp_softmax also builds."""
    a = np.random.default_rng(0).normal(-300, scale, shape)              # (K, B) log-weights
    lse, lse2 = log_sums(a, np)
    assert np.array_equal(lse, logsumexp_softmax(a, np)[0])
    assert np.array_equal(lse2, logsumexp_softmax(2 * a, np)[0])


def test_a_cvae_sweep_bounds_log_p_of_x_given_y():
    model = small(CVAE, num_classes=4)
    x, y = binary(), np.arange(40) % 4
    sweep = iw_sweep(model, x, (1, 50), rng=eval_generator(model, 1), labels=y)
    # L_1 is one sample of the conditional ELBO: on average, its analytic value
    elbo = -model.loss(x, y, reduce=False)[0]
    assert abs(sweep[1][0].mean() - elbo.mean()) < 4 * sweep[1][0].std() / math.sqrt(40)
    with pytest.raises(ValueError, match="test labels"):
        iw_sweep(model, x, (1, 5))


def test_the_published_numbers_say_when_the_setting_differs():
    burda = {**BURDA_SETTING, "model": "vae", "objective": "iwae", "k": 50}
    lines = published_lines(burda, 3280)
    assert "this run's setting: IWAE k=50, 84.78 nats" in "\n".join(lines)
    lines = published_lines({**burda, "objective": "elbo", "k": 1}, 13)
    text = "\n".join(lines)
    assert "VAE k=1, 86.76 nats" in text and "this run trained 13" in text
    text = " ".join(line.strip() for line in
                    published_lines({**burda, "binarize": False, "hidden": [400]}, 10))
    assert "Not this run's setting" in text and "binarize False (theirs: True)" in text
    assert "hidden [400] (theirs: [200, 200])" in text
    assert all(len(line) <= 100 for line in published_lines({**burda, "dataset": "x" * 300}, 1))


@pytest.mark.parametrize("model", ["vae", "cvae"])
def test_the_command_prints_the_sweep(tmp_path, capsys, model):
    data = make_tiny(tmp_path / "tiny.npz", n_train=256, n_test=64)
    out = tmp_path / "run"
    assert train.main(["--dataset", data, "--model", model, "--hidden", "16", "--latent-dim",
                       "2", "--epochs", "2", "--no-plots", "--quiet", "--device", "cpu",
                       "--out", str(out)]) == 0
    capsys.readouterr()
    assert evaluate.main([str(out), "--iw-sweep", "--sweep-images", "50"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert all(len(line) <= 100 for line in lines[1:]), printed   # [0]: the paths
    assert "L_K on the first 50 of 64 test images, the same 5000 samples for every K" in printed
    table = [line.split() for line in lines if line.strip().split(" ")[0] in
             ("1", "10", "100", "1000", "5000")]
    assert [int(r[0]) for r in table] == [1, 10, 100, 1000, 5000]
    nll = [float(r[1]) for r in table]
    ess = [float(r[3]) for r in table]
    assert nll[-1] < nll[0] and ess[0] == 1.0 and all(1 <= e <= k for e, k in
                                                      zip(ess, (1, 10, 100, 1000, 5000)))
    assert "check: L_K rises with K within error" in printed
    assert ("-log p(x | y) ~" if model == "cvae" else "-log p(x) ~") in printed
    assert "Not this run's setting, so not comparable" in printed
    assert evaluate.main([str(out), "--iw-sweep", "--sweep-images", "all", "--batch-size",
                          "64"]) == 0
    assert "on all 64 test images" in capsys.readouterr().out


def test_the_sweep_options_are_checked(tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluate.main([str(tmp_path), "--iw-sweep", "--sweep-images", "0"])
    assert "argument --sweep-images" in capsys.readouterr().err
