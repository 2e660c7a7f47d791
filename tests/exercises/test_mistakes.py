"""The common mistakes are named where they happen: a factor of 2, a sign, exp(logvar) as the
standard deviation, a fresh eps in forward and the stored one in backward, a mean where the
loss sums, a missing 1/B, a missing bias correction, the activation applied twice."""

import numpy as np
import pytest

from minivae.exercises.answers import make_answers
from minivae.exercises.grading import grade_functions
from workspaces import fresh  # noqa: F401 (fixtures)

MINIVAE = make_answers()


def dense_backward_twice_db(dy, x, W):
    return dy @ W.T, x.T @ dy, 2 * dy.sum(axis=0)


def kl_with_the_wrong_sign(mu, logvar):
    return 0.5 * (1 + logvar - mu**2 - np.exp(logvar)).sum(axis=1)


def kl_backward_of_the_wrong_sign(mu, logvar):
    return -mu, -0.5 * np.expm1(logvar)


def reparameterize_exp_logvar(mu, logvar, eps):
    std = np.exp(logvar)
    return mu + std * eps, std


def bernoulli_mean_over_pixels(logits, x, scale=1.0):
    nll, grad = MINIVAE["bernoulli_nll_and_grad"](logits, x, scale)
    return nll / x.shape[1], grad / x.shape[1]


def vae_summed_over_the_batch(params, x, eps=None, beta=1.0, rng=None):
    loss, parts, grads = MINIVAE["vae_loss_and_grads"](params, x, eps, beta, rng)
    B = x.shape[0]
    return loss * B, {k: v * B for k, v in parts.items()}, {k: g * B for k, g in grads.items()}


def vae_fresh_eps(params, x, eps=None, beta=1.0, rng=None):
    """eps drawn for the backward, and again for the forward: the kwj2104 bug, by hand."""
    if eps is not None:
        return MINIVAE["vae_loss_and_grads"](params, x, eps, beta)
    B, Z = x.shape[0], params["mu.W"].shape[1]
    kept, fresh = rng.standard_normal((B, Z)), rng.standard_normal((B, Z))
    loss, parts, _ = MINIVAE["vae_loss_and_grads"](params, x, fresh, beta)
    return loss, parts, MINIVAE["vae_loss_and_grads"](params, x, kept, beta)[2]


def adam_without_bias_correction(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    p -= lr * m / (np.sqrt(v) + eps)


def adam_rebinding(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
    p = p - lr * g                                  # a new array: the caller never sees it
    return p


def sigmoid_backward_applied_twice(dy, y):
    s = 1 / (1 + np.exp(-y))
    return dy * s * (1 - s)


@pytest.mark.parametrize("n, replaced, kind, words", [
    (1, {"dense_backward": dense_backward_twice_db}, "values", "a factor of 2 (twice minivae's)"),
    (5, {"gaussian_kl": kl_with_the_wrong_sign,
         "gaussian_kl_backward": kl_backward_of_the_wrong_sign}, "values",
     "the sign (minus minivae's)"),
    (5, {"gaussian_kl": kl_with_the_wrong_sign,
         "gaussian_kl_backward": kl_backward_of_the_wrong_sign}, "property",
     "a KL divergence is never negative"),
    (6, {"reparameterize": reparameterize_exp_logvar}, "property",
     "exp(logvar) used as the standard deviation"),
    (6, {"reparameterize": reparameterize_exp_logvar}, "values",
     "exp(logvar) used as the standard deviation"),
    (3, {"bernoulli_nll_and_grad": bernoulli_mean_over_pixels}, "values",
     "1/D of minivae's: a mean over pixels where the loss sums over them"),
    (7, {"vae_loss_and_grads": vae_summed_over_the_batch}, "values",
     "a sum over B where the loss takes the mean (a missing 1/B)"),
    (7, {"vae_loss_and_grads": vae_fresh_eps}, "noise",
     "drew eps 2 times in one call, and its loss and gradients are those of no single eps: a "
     "fresh eps in the forward while the backward uses the stored one"),
    (8, {"adam_update": adam_without_bias_correction}, "values", "a missing bias correction"),
    (8, {"adam_update": adam_without_bias_correction}, "property", "a missing bias correction"),
    (8, {"adam_update": adam_rebinding}, "shapes", "still hold what they held before"),
    (2, {"sigmoid_backward": sigmoid_backward_applied_twice}, "values",
     "sigmoid applied to y again"),
])
def test_the_mistake_is_named(n, replaced, kind, words):
    (result,) = grade_functions({**MINIVAE, **replaced}, [n])
    assert result.status == "wrong"
    messages = {c.kind: c.message for c in result.checks if c.status == "fail"}
    assert words in messages.get(kind, ""), messages


def test_a_fresh_eps_passes_every_gradient_check():
    """The kwj2104 bug is invisible to both gradient checks: they must fix eps to run at all."""
    (result,) = grade_functions({**MINIVAE, "vae_loss_and_grads": vae_fresh_eps}, [7])
    assert {c.kind for c in result.checks if c.status == "fail"} == {"noise"}
