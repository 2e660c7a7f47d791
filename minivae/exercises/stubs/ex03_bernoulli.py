"""Exercise 3: the Bernoulli negative log-likelihood from logits, and its gradient (math.md §5).

minivae's answer: Bernoulli.nll_and_grad in minivae/likelihoods.py.
Grade it: python -m minivae.exercises check . 3    (or: python -m pytest . -m ex3)

The decoder outputs logits l (B, D); each pixel is "ink" with probability
sigmoid(l), and x (B, D) holds the image's grey levels in [0, 1].
Shapes: B batch, D pixels.
"""

import numpy as np


def bernoulli_nll_and_grad(logits, x, scale=1.0):
    """sum_d [softplus(l_d) - x_d l_d] (B,) and scale * (sigmoid(l) - x) (B, D).

    -log p(x | l) = sum_d [softplus(l_d) - x_d l_d], softplus(l) = log(1 + e^l):
    summed over the D pixels of each image, one number per image (nats).
    Computed from the logits, never as log(sigmoid(l)) with clipping: it must be
    finite and exact for any finite logit (l = -1000 or +1000 included), so never
    form e^l for a large l. scale is 1/B when the loss is a batch mean.

    logits : (B, D).   x : (B, D) in [0, 1].   scale : a number.
    Returns (nll, grad): nll (B,), grad = scale * d nll / d logits (B, D).
    """
    raise NotImplementedError("exercise 3: bernoulli_nll_and_grad")
