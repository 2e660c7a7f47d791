"""The k-sample objectives of minivae/iwae.py: gradients, PyTorch, k = 1, the bound's order."""

import math

import numpy as np
import pytest

from minivae import IWAE, VAE
from minivae.gradcheck import check_model
from minivae.iwae import effective_sample_size, logsumexp_softmax


def small(k, objective, likelihood="bernoulli", seed=0, **kw):
    """An IWAE with k samples; (1, "elbo") is the plain VAE."""
    settings = dict(input_dim=12, hidden_dims=(9,), latent_dim=3, likelihood=likelihood,
                    activation="tanh", dtype="float64", seed=seed, **kw)
    if (k, objective) == (1, "elbo"):
        return VAE(**settings)
    return IWAE(k=k, objective=objective, **settings)


def data(model, B=5, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((B, model.input_dim))
    if model.likelihood.name == "bernoulli":
        x = (x > 0.5).astype(np.float64)
    return x, rng.standard_normal((getattr(model, "k", 1), B, model.latent_dim))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "mse"])
@pytest.mark.parametrize("k", [1, 2, 5, 20])
@pytest.mark.parametrize("objective", ["iwae", "elbo"])
def test_gradcheck(objective, k, likelihood):
    model = small(k, objective, likelihood, gaussian_std=0.4) if likelihood == "gaussian" else \
        small(k, objective, likelihood)
    x, eps = data(model)
    eps = eps[0] if (k, objective) == (1, "elbo") else eps    # the default VAE: eps (B, Z)
    result = check_model(model, x, eps, tol=1e-6)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


def test_a_steps_kl_weight_is_the_elbos_and_the_bound_refuses_one():
    """beta= of one step (a warm-up's), as the VAE takes it: the "elbo" objective weighs its
    KL with it, gradients checked; the "iwae" bound has no KL weight and says so."""
    model = small(5, "elbo")
    x, eps = data(model)
    weighted = small(5, "elbo", beta=0.3)
    loss, parts = model.loss_and_grads(x, eps, beta=0.3)
    assert float(loss) == float(weighted.loss_and_grads(x, eps)[0])
    assert float(loss) == pytest.approx(float(parts["recon"] + 0.3 * parts["kl"]), rel=1e-14)
    assert np.array_equal(model.loss(x, eps, reduce=False, beta=0.3)[0],
                          weighted.loss(x, eps, reduce=False)[0])
    assert check_model(model, x, eps, beta=0.3, tol=1e-6).max_error < 1e-6
    bound = small(5, "iwae")
    assert float(bound.loss_and_grads(x, eps, beta=1)[0]) == float(bound.loss_and_grads(x, eps)[0])
    for call in (bound.loss_and_grads, bound.loss):
        with pytest.raises(ValueError, match="iwae objective .* has no KL weight; got beta=0.3"):
            call(x, eps, beta=0.3)


def test_k1_elbo_step_is_the_default_step_exactly():
    """The k-sample ELBO code at k = 1 returns VAE.loss_and_grads's numbers bit for bit."""
    a = small(1, "elbo")
    b = IWAE(k=1, objective="elbo", input_dim=12, hidden_dims=(9,), latent_dim=3,
             activation="tanh", dtype="float64", seed=0)
    x, eps = data(a)
    la, pa = a.loss_and_grads(x, eps[0], input_grad=True)         # the default step
    lb, pb = b.loss_and_grads(x, eps, input_grad=True)            # the k-sample step, k = 1
    assert float(la) == float(lb) and float(pa["kl"]) == float(pb["kl"])
    assert np.array_equal(a.grads.flat, b.grads.flat) and np.array_equal(a.input_grad, b.input_grad)


def test_k1_iwae_is_the_single_sample_elbo():
    """L_1 = log w: recon + log q - log p at the same z, and the weights are all 1 (ESS 1)."""
    model = small(1, "iwae")
    x, eps = data(model)
    loss, parts = model.loss(x, eps, reduce=False)
    assert np.allclose(loss, parts["recon"] + parts["kl"], rtol=0, atol=1e-12)
    assert np.all(parts["ess"] == 1.0)
    # In expectation over eps the sampled KL is the analytic one: the default VAE's loss.
    elbo = small(1, "elbo")
    eps = np.random.default_rng(3).standard_normal((1, 20000 * 5, 3))
    xs = np.tile(x, (20000, 1))
    sampled = model.loss(xs, eps)[0]
    analytic = elbo.loss(xs, eps[0])[0]
    spread = float(np.std(model.loss(xs, eps, reduce=False)[0])) / math.sqrt(xs.shape[0])
    assert abs(float(sampled) - float(analytic)) < 4 * spread


def test_the_bound_tightens_with_k():
    """Burda et al., Theorem 1: E[L_k] increases with k, and L_k >= the k-sample ELBO estimate."""
    rng = np.random.default_rng(5)
    means = []
    for k in (1, 5, 50):
        model = small(k, "iwae", seed=2)
        x = (rng.random((200, 12)) > 0.5).astype(np.float64)
        eps = rng.standard_normal((k, 200, 3))
        loss, parts = model.loss(x, eps, reduce=False)
        assert np.all(loss <= parts["recon"] + parts["kl"] + 1e-12)   # Jensen, sample by sample
        assert np.all((parts["ess"] >= 1 - 1e-12) & (parts["ess"] <= k + 1e-9))
        means.append(float(loss.mean()))
    assert means[0] > means[1] > means[2]


def test_logsumexp_softmax_is_stable():
    a = np.array([[-1000.0, 1000.0], [-1001.0, 1000.0]])           # (K=2, B=2)
    lse, wn = logsumexp_softmax(a, np)
    assert np.allclose(lse, [-1000 + np.log1p(np.exp(-1.0)), 1000 + np.log(2)])
    assert np.allclose(wn.sum(axis=0), 1) and np.allclose(wn[:, 1], 0.5)
    w = np.array([1, np.exp(-1.0)]) / (1 + np.exp(-1.0))           # column 0's weights
    assert np.allclose(effective_sample_size(wn), [1 / (w * w).sum(), 2])


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="k .* positive integer"):
        small(0, "iwae")
    with pytest.raises(ValueError, match="objective must be one of"):
        small(2, "iwea")
    with pytest.raises(ValueError, match="beta=1"):
        small(2, "iwae", beta=2.0)
    model = small(3, "iwae")
    x, _ = data(model)
    with pytest.raises(ValueError, match=r"eps must have shape \(k, B, Z\)"):
        model.loss_and_grads(x, np.zeros((5, 3)))


def test_k_and_objective_survive_save_and_load(tmp_path):
    from minivae import load_model
    model = small(4, "iwae")
    model.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert (back.k, back.objective) == (4, "iwae")
    x, eps = data(model)
    assert float(back.loss(x, eps)[0]) == float(model.loss(x, eps)[0])


def test_the_evaluation_estimate_is_the_training_bound():
    """evaluation.iw_log_likelihood (chunked) gives -loss and the ESS of the iwae step, same eps."""
    from minivae.backend import Generator
    from minivae.run.evaluation import iw_log_likelihood
    model = small(12, "iwae", seed=4)
    x, _ = data(model, B=6)
    eps = Generator(np, 7).normal((12, 6, 3), dtype=np.float64)
    loss, parts = model.loss(x, eps, reduce=False)
    for chunk in (12, 5):
        ll, ess = iw_log_likelihood(model, x, 12, rng=Generator(np, 7), batch_size=6,
                                    k_chunk=chunk, ess=True)
        if chunk == 12:                                   # the very same draws
            assert np.allclose(ll, -loss, rtol=0, atol=1e-10)
            assert np.allclose(ess, parts["ess"], rtol=1e-10)
        assert np.all((ess >= 1) & (ess <= 12))
