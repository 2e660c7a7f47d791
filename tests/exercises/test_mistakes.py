"""The common mistakes are named where they happen: a factor of 2, a sign, exp(logvar) as the
standard deviation, a fresh eps in forward and the stored one in backward, a mean where the
loss sums, a missing 1/B, a missing bias correction, the activation applied twice, a loss
without its KL, z = mu, log(1 + e^l) at l = 1000; and no factor is named that one number
cannot tell."""

import numpy as np
import pytest

from minivae.exercises.answers import make_answers
from minivae.exercises.compare import recognise
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


def vae_without_kl(params, x, eps=None, beta=1.0, rng=None):
    """loss = np.mean(nll): the KL forgotten in the loss (its parts and gradients kept)."""
    loss, parts, grads = MINIVAE["vae_loss_and_grads"](params, x, eps, beta, rng)
    return parts["recon"], parts, grads


def vae_without_beta(params, x, eps=None, beta=1.0, rng=None):
    loss, parts, grads = MINIVAE["vae_loss_and_grads"](params, x, eps, beta, rng)
    return parts["recon"] + parts["kl"], parts, grads


def vae_z_is_mu(params, x, eps=None, beta=1.0, rng=None):
    """z = mu written inside exercise 7: every eps is taken as 0."""
    B, Z = x.shape[0], params["mu.W"].shape[1]
    return MINIVAE["vae_loss_and_grads"](params, x, np.zeros((B, Z), x.dtype), beta, rng)


def bernoulli_log1p_exp(logits, x, scale=1.0):
    """softplus as np.log(1 + np.exp(l)): inf at l = 1000."""
    nll = (np.log(1 + np.exp(logits)) - x * logits).sum(axis=1)
    return nll, scale * (1 / (1 + np.exp(-logits)) - x)


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
    (7, {"vae_loss_and_grads": vae_without_kl}, "values",
     "it looks like the KL left out: the loss is the reconstruction alone, where it is recon + "
     "beta * kl"),
    (7, {"vae_loss_and_grads": vae_without_beta}, "values",
     "loss (beta 0.5) is 10.83554095, minivae's is 9.938652307 (off by 0.897); it looks like "
     "beta left out: recon + kl, where the loss is recon + beta * kl"),
    (7, {"vae_loss_and_grads": vae_z_is_mu}, "values",
     "it looks like z = mu: no sampling, where z = mu + exp(logvar / 2) eps with the eps given"),
    (7, {"vae_loss_and_grads": vae_z_is_mu}, "noise",
     "vae_loss_and_grads gave the same loss for eps and -eps: z does not depend on the noise "
     "(z = mu: no sampling"),
    (3, {"bernoulli_nll_and_grad": bernoulli_log1p_exp}, "stability",
     "bernoulli_nll_and_grad returned inf in nll[0]: the logit 1000 (x = 0) gives inf alone: e^l "
     "overflows there, or 1 - sigmoid(l) rounds to 0 and its log is -inf; compute softplus(l) - x "
     "l from the logits, softplus(l) = max(l, 0) + log(1 + e^-|l|) (np.logaddexp(0, l))"),
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


@pytest.mark.parametrize("replaced", [vae_without_kl, vae_z_is_mu],
                         ids=["without-kl", "z-is-mu"])
def test_a_wrong_loss_is_no_constant_factor(replaced):
    """One number, the loss, has a ratio to minivae's whatever the bug: it names no factor."""
    (result,) = grade_functions({**MINIVAE, "vae_loss_and_grads": replaced}, [7])
    message = next(c.message for c in result.checks if c.kind == "values")
    assert message.startswith("vae_loss_and_grads: loss (beta 1) is ") and \
        "constant factor" not in message, message


def test_a_factor_is_named_from_one_number_only_when_it_tells_a_bug():
    want = np.float64(10.83554095)
    assert recognise(np.float64(9.041763659), want) == ""
    assert recognise(want * 0.9849, want) == ""
    assert recognise(2 * want, want) == "a factor of 2 (twice minivae's)"
    assert recognise(-want, want) == "the sign (minus minivae's)"
    assert "a missing 1/B" in recognise(5 * want, want, scales={"B": 5})
    one = np.array([0.0, 0.0, 3.0])                  # one nonzero entry: still one number
    assert recognise(0.8345 * one, one) == ""


def test_a_constant_factor_is_named_only_for_proportional_arrays():
    want = np.linspace(-2.0, 3.0, 12).reshape(3, 4)
    assert recognise(0.8345 * want, want) == "a constant factor 0.8345 times minivae's"
    off = 0.8345 * want
    off[1, 2] += 0.1                                  # no longer proportional
    assert recognise(off, want) == ""
