"""The three terms of the VAE loss, each with its gradient.

    negative ELBO(x) = recon_nll(x) + beta * KL( q(z|x) || p(z) )

All functions work on a batch and return one value per example, shape (B,),
summed over pixels (or latent dimensions): nats per example. Gradients are
returned for the *sum over the batch* of those values; the model divides by
B when it takes the batch mean.

Shapes: B batch, D pixels, Z latent dimensions.
"""

from __future__ import annotations

import math

from .backend import get_array_module
from .layers import sigmoid


# --------------------------------------------------------------------------
# Bernoulli likelihood: each pixel x_d in [0, 1] is a "probability of ink"
# with mean p_d = sigmoid(l_d), l the decoder's logits.
# --------------------------------------------------------------------------

def bernoulli_nll(logits, x):
    """-log p(x | logits) for a Bernoulli with p = sigmoid(logits), per example.

    -log p = -sum_d [ x_d log p_d + (1 - x_d) log(1 - p_d) ]      (= BCE)
           =  sum_d [ softplus(l_d) - x_d l_d ]                    (substitute p = sigmoid(l))

    with softplus(l) = log(1 + e^l) = max(l, 0) + log1p(e^-|l|), which
    ``logaddexp(0, l)`` computes without overflow: never log(sigmoid(l)) with
    clipping. Finite for logits of +-1e4; for x in (0, 1) (continuous MNIST)
    it is the same "BCE" the PyTorch example uses.

    logits, x: (B, D)  ->  (B,)
    """
    xp = get_array_module(logits)
    return xp.sum(xp.logaddexp(0, logits) - x * logits, axis=1)   # (B, D) -> (B,)


def bernoulli_nll_grad(logits, x):
    """d bernoulli_nll / d logits = sigmoid(logits) - x, shape (B, D).

    d/dl [softplus(l) - x l] = sigmoid(l) - x,  since softplus'(l) = sigmoid(l).
    """
    return sigmoid(logits) - x


# --------------------------------------------------------------------------
# Gaussian likelihood with a fixed standard deviation sigma:
# p(x | z) = N(x; m, sigma^2 I), m the decoder's mean.
# --------------------------------------------------------------------------

def gaussian_nll(mean, x, std: float = 1.0):
    """-log N(x; mean, std^2 I) per example.

    -log p = sum_d (x_d - m_d)^2 / (2 std^2) + (D/2) log(2 pi std^2)

    Relation to the "MSE summed over pixels" loss of many VAE write-ups:
    SSE = sum_d (x_d - m_d)^2 = 2 std^2 (-log p - const), so with std = 1
    the NLL is SSE/2 plus a constant; using SSE itself corresponds to
    std^2 = 1/2. A smaller std weighs reconstruction more against the KL
    (like beta < 1). The constant does not change gradients, but we keep it so
    the value is a true negative log-density in nats.

    mean, x: (B, D)  ->  (B,)
    """
    xp = get_array_module(mean)
    D = mean.shape[1]
    diff = x - mean                                            # (B, D)
    sse = xp.sum(diff * diff, axis=1)                          # (B,)
    return sse / (2 * std**2) + 0.5 * D * math.log(2 * math.pi * std**2)


def gaussian_nll_grad(mean, x, std: float = 1.0):
    """d gaussian_nll / d mean = (mean - x) / std^2, shape (B, D)."""
    return (mean - x) / std**2


# --------------------------------------------------------------------------
# KL divergence of the approximate posterior q = N(mu, diag(exp(logvar)))
# from the prior p = N(0, I). Closed form: Kingma & Welling 2013, Appendix B.
# --------------------------------------------------------------------------

def gaussian_kl(mu, logvar):
    """KL( N(mu, exp(logvar)) || N(0, I) ) per example.

    KL = -1/2 sum_j ( 1 + logvar_j - mu_j^2 - exp(logvar_j) )

    logvar is log sigma^2 (a log-variance). KL >= 0, with equality exactly at
    mu = 0, logvar = 0.

    mu, logvar: (B, Z)  ->  (B,)
    """
    xp = get_array_module(mu)
    return -0.5 * xp.sum(1 + logvar - mu * mu - xp.exp(logvar), axis=1)   # (B, Z) -> (B,)


def gaussian_kl_grad(mu, logvar):
    """(dKL/dmu, dKL/dlogvar), each (B, Z).

    dKL/dmu_j     = mu_j
    dKL/dlogvar_j = -1/2 (1 - exp(logvar_j)) = (exp(logvar_j) - 1) / 2
    """
    xp = get_array_module(mu)
    return mu, 0.5 * (xp.exp(logvar) - 1)
