"""Exercise 10: log-sum-exp and the importance-weighted NLL (docs/math.md §9).

minivae's answers: logsumexp_softmax, log_prior_ratio and IWAE.loss in minivae/iwae.py
(Burda, Grosse & Salakhutdinov 2015).
Grade it: python -m minivae.exercises check . 10    (or: python -m pytest . -m ex10)

K samples z_i ~ q(z | x) per example; each has a log-weight
    log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x),
and -log (1/K) sum_i w_i estimates -log p(x): the importance-weighted NLL.
Shapes: K samples, B batch, Z latent size.
"""

import numpy as np


def logsumexp_softmax(a):
    """(log sum_i e^a_i, e^a_i / sum_j e^a_j) over axis 0: (K, B) -> (B,), (K, B).

    Both from a - max: every exp is <= 1 and the largest is exactly 1, so nothing
    overflows and the sum is >= 1. Log-weights are often -1000 or +1000 nats.
    """
    raise NotImplementedError("exercise 10: logsumexp_softmax")


def log_prior_ratio(z, eps, logvar):
    """log p(z) - log q(z | x) for the diagonal Gaussians, summed over Z: (..., Z) -> (...).

    log N(z; 0, I) = -1/2 sum z^2 + c and, with z = mu + sigma eps,
    log N(z; mu, sigma^2) = -1/2 sum (eps^2 + logvar) + c: the constants cancel.
    z, eps : (K, B, Z).   logvar : (B, Z). Returns (K, B).
    """
    raise NotImplementedError("exercise 10: log_prior_ratio")


def iwae_nll(nll, z, eps, logvar):
    """The importance-weighted NLL of each example, -L_K = log K - log sum_i w_i: (B,).

    log w_i = -nll_i + log_prior_ratio(z_i, eps_i, logvar), and the log-sum-exp over
    the K samples is logsumexp_softmax's. minivae's IWAE.loss gives these numbers per
    example, for the samples it draws itself.
    nll : (K, B), -log p(x | z_i).   z, eps : (K, B, Z).   logvar : (B, Z).
    Returns (B,). With K = 1 it is the one-sample negative ELBO.
    """
    raise NotImplementedError("exercise 10: iwae_nll")
