"""The measurements of evaluation.py: test ELBO, reconstruction quality, IWAE bound, active units."""

import math

import numpy as np
import pytest

from minivae import VAE, Adam, Autoencoder
from minivae.backend import Generator, to_numpy
from minivae.run.evaluation import (active_units, evaluate_elbo, iw_log_likelihood, latent_activity,
                                per_example_loss, pick_examples, reconstruction_metrics)


def blobs(n, seed=0, side=8):
    """(n, side*side) float images in [0, 1]: Gaussian blobs at random places."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    c = rng.uniform(1, side - 2, (n, 2))
    s = rng.uniform(0.8, 2, n)
    im = np.exp(-((xx - c[:, 0, None, None]) ** 2 + (yy - c[:, 1, None, None]) ** 2)
                / (2 * s[:, None, None] ** 2))
    return im.reshape(n, -1)


@pytest.fixture(scope="module")
def trained():
    """A small VAE (float64) trained for a few hundred steps on blobs: a non-trivial posterior."""
    x = blobs(512)
    model = VAE(input_dim=64, hidden_dims=(32,), latent_dim=4, dtype="float64", seed=0)
    opt = Adam(model.params, lr=3e-3)
    order = np.random.default_rng(1)
    for _ in range(300):
        model.loss_and_grads(x[order.integers(0, 512, 32)])
        opt.step(model.grads)
    return model, blobs(200, seed=2)


def test_test_elbo_is_the_mean_loss_and_does_not_depend_on_batching(trained):
    model, x = trained
    a = evaluate_elbo(model, x, batch_size=7, rng=Generator(np, 5))
    b = evaluate_elbo(model, x, batch_size=1000, rng=Generator(np, 5))
    for k in ("loss", "recon", "kl"):
        assert a[k] == pytest.approx(b[k], rel=1e-12)
    eps = Generator(np, 5).normal((len(x), 4), dtype=np.float64)
    loss, parts = model.loss(x, eps)
    assert b["loss"] == pytest.approx(float(loss), rel=1e-12)
    assert b["loss"] == pytest.approx(b["recon"] + b["kl"], rel=1e-12)


def test_test_elbo_leaves_the_training_generator_alone(trained):
    model, x = trained
    state = model.rng.state()
    evaluate_elbo(model, x)
    per_example_loss(model, x)
    assert model.rng.state() == state


def test_per_example_loss_is_the_loss_of_each_image(trained):
    """Same noise, same numbers: each row's terms, and their means are evaluate_elbo's."""
    model, x = trained
    loss, parts = per_example_loss(model, x, batch_size=7, rng=Generator(np, 5))   # (N,) each
    assert loss.shape == parts["recon"].shape == parts["kl"].shape == (len(x),)
    eps = Generator(np, 5).normal((len(x), 4), dtype=np.float64)   # one draw, as the batches do
    ref, ref_parts = model.loss(x, eps, reduce=False)
    for a, b in ((loss, ref), (parts["recon"], ref_parts["recon"]), (parts["kl"], ref_parts["kl"])):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    elbo = evaluate_elbo(model, x, rng=Generator(np, 5))
    assert elbo["recon"] == pytest.approx(parts["recon"].mean(), rel=1e-12)
    assert elbo["kl"] == pytest.approx(parts["kl"].mean(), rel=1e-12)
    ae = Autoencoder(input_dim=64, hidden_dims=(8,), latent_dim=2, dtype="float64")
    loss, parts = per_example_loss(ae, x)
    assert not parts["kl"].any() and loss.mean() == pytest.approx(float(ae.loss(x)[0]), rel=1e-12)


def test_reconstruction_metrics_match_their_definitions(trained):
    model, x = trained
    m = reconstruction_metrics(model, x, (8, 8), batch_size=64)
    r = to_numpy(model.reconstruct(x))                      # (N, D)
    per_image_mse = ((x - r) ** 2).mean(axis=1)
    assert m["mse"] == pytest.approx(per_image_mse.mean(), rel=1e-10)
    assert m["psnr"] == pytest.approx(np.mean(-10 * np.log10(per_image_mse)), rel=1e-10)
    skm = pytest.importorskip("skimage.metrics")
    ssim = [skm.structural_similarity(a.reshape(8, 8), b.reshape(8, 8), data_range=1.0)
            for a, b in zip(x, r)]
    assert m["ssim"] == pytest.approx(np.mean(ssim), abs=1e-4)


def test_tiny_images_have_no_ssim():
    model = VAE(input_dim=36, hidden_dims=(8,), latent_dim=2)
    m = reconstruction_metrics(model, blobs(10, side=6), (6, 6))
    assert math.isnan(m["ssim"]) and math.isfinite(m["psnr"])


def mc_elbo(model, x, eps):
    """The single-sample ELBO with the KL estimated from the same z: log p(x|z) + log p(z) - log q(z|x)."""
    loss, parts = model.loss(x, eps)
    recon = float(parts["recon"])                           # mean -log p(x|z) with this eps
    mu, logvar = (to_numpy(a) for a in model.encode(x))
    z = mu + np.exp(0.5 * logvar) * eps
    log_q = -0.5 * (eps**2 + logvar + np.log(2 * np.pi)).sum(1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(1)
    return -recon + float(np.mean(log_p - log_q))


def test_iw_with_one_sample_is_the_elbo(trained):
    model, x = trained
    ll = iw_log_likelihood(model, x, 1, rng=Generator(np, 7), batch_size=64)   # (N,)
    assert ll.shape == (len(x),)
    # With the same eps it is exactly the single-sample ELBO (KL by sampling) ...
    eps = Generator(np, 7).normal((len(x), 4), dtype=np.float64)
    assert float(ll.mean()) == pytest.approx(mc_elbo(model, x, eps), rel=1e-10)
    # ... whose expectation is the negative test loss (closed-form KL).
    many = [float(iw_log_likelihood(model, x, 1, rng=Generator(np, s)).mean()) for s in range(20)]
    elbo = -evaluate_elbo(model, x, rng=Generator(np, 99))["loss"]
    assert np.mean(many) == pytest.approx(elbo, abs=4 * np.std(many) / np.sqrt(20) + 0.05)


def test_iw_bound_tightens_with_k(trained):
    model, x = trained
    bounds = [float(iw_log_likelihood(model, x, k, rng=Generator(np, 3)).mean())
              for k in (1, 5, 50)]
    assert bounds[0] < bounds[1] < bounds[2], bounds
    assert bounds[2] - bounds[0] > 0.05                     # a real posterior gap, not noise


def test_iw_chunking_and_batching_do_not_change_the_estimate(trained):
    model, x = trained
    a = iw_log_likelihood(model, x, 12, rng=Generator(np, 4), batch_size=200, k_chunk=12)
    b = iw_log_likelihood(model, x, 12, rng=Generator(np, 4), batch_size=200, k_chunk=5)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_iw_is_stable_for_tiny_weights():
    """log w ~ -1e5 per image: exp underflows to 0, the running log-sum-exp does not."""
    model = VAE(input_dim=64, hidden_dims=(16,), latent_dim=3, likelihood="gaussian",
                dtype="float64", seed=0, gaussian_std=1e-3)
    x = blobs(20)
    ll = to_numpy(iw_log_likelihood(model, x, 30, rng=Generator(np, 0), k_chunk=7))
    assert np.isfinite(ll).all() and ll.max() < -1e4
    assert np.all(np.exp(ll) == 0)                          # the naive route would give log 0


def test_iw_needs_a_vae():
    model = Autoencoder(input_dim=64, hidden_dims=(8,), latent_dim=2)
    with pytest.raises(ValueError, match="needs a VAE"):
        iw_log_likelihood(model, blobs(4), 5)


def test_active_units_counts_dimensions_that_move():
    model = VAE(input_dim=30, hidden_dims=(16,), latent_dim=5, dtype="float64")
    model.params["mu.W"][:, :2] = 0.0                      # z1, z2: mu ignores the input
    model.params["mu.W"][:, 2:] *= 50.0                    # z3..z5: mu swings with it
    x = np.random.default_rng(0).random((500, 30))
    count, variances = active_units(model, x, batch_size=64)
    assert variances.shape == (5,)
    assert np.all(variances[:2] < 1e-20) and np.all(variances[2:] > 0.01) and count == 3
    mu, _ = model.encode(x)
    np.testing.assert_allclose(variances, mu.var(axis=0), rtol=1e-12)   # batching changes nothing
    assert active_units(model, x, threshold=np.inf)[0] == 0
    with pytest.raises(ValueError, match="needs a VAE"):
        active_units(Autoencoder(input_dim=30, hidden_dims=(8,), latent_dim=2), x)


def test_latent_activity_is_the_variance_of_each_dimension_in_float64():
    means = np.array([[0.0, 1.0], [0.0, 3.0]], dtype=np.float32)   # (N=2, Z=2)
    activity = latent_activity(means)
    assert activity.dtype == np.float64
    np.testing.assert_array_equal(activity, [0.0, 1.0])


def test_pick_examples():
    labels = np.array([3, 3, 1, 0, 1, 2, 0])
    # The first image of each class, in class order: classes 0, 1, 2, 3; then the next
    # images in order until there are ten (or none are left): two classes still give ten rows.
    np.testing.assert_array_equal(pick_examples(labels, 7, count=4), [3, 2, 5, 0])
    np.testing.assert_array_equal(pick_examples(labels, 7), [3, 2, 5, 0, 1, 4, 6])
    np.testing.assert_array_equal(pick_examples(labels, 7, count=2), [3, 2])
    np.testing.assert_array_equal(pick_examples(np.arange(20) % 2, 20),
                                  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(pick_examples(None, 7, count=3), [0, 1, 2])
    np.testing.assert_array_equal(pick_examples(np.zeros(7), 7, count=3), [0, 1, 2])   # one class


def test_test_set_metrics_are_the_two_functions_in_one_pass(trained):
    """The per-epoch measurement equals evaluate_elbo and reconstruction_metrics exactly."""
    from minivae.run.evaluation import test_set_metrics
    model, x = trained
    elbo, quality = test_set_metrics(model, x, (8, 8), batch_size=50, rng=Generator(np, 5))
    assert elbo == evaluate_elbo(model, x, batch_size=50, rng=Generator(np, 5))
    assert quality == reconstruction_metrics(model, x, (8, 8), batch_size=50)
    other = test_set_metrics(model, x, (8, 8), batch_size=50, rng=Generator(np, 6))[0]
    assert other["loss"] != elbo["loss"]                   # the noise is the rng's
