"""Exercise 4: the Gaussian negative log-likelihood and its gradient (docs/math.md §6).

minivae's answer: Gaussian.nll_and_grad in minivae/likelihoods.py.
Grade it: python -m minivae.exercises check . 4    (or: python -m pytest . -m ex4)

p(x | m) = N(x; m, std^2 I): the decoder outputs the mean m (B, D), std is fixed.
Shapes: B batch, D pixels.
"""

import numpy as np


def gaussian_nll_and_grad(mean, x, std=1.0, scale=1.0):
    """sum_d (x_d - m_d)^2 / (2 std^2) + const (B,) and scale * (m - x) / std^2 (B, D).

    -log p = sum_d (x_d - m_d)^2 / (2 std^2) + (D/2) log(2 pi std^2).
    The constant keeps the value a true negative log-density in nats; it changes
    no gradient. scale is 1/B when the loss is a batch mean.

    mean : (B, D).   x : (B, D).   std : a positive number.   scale : a number.
    Returns (nll, grad): nll (B,), grad = scale * d nll / d mean (B, D).
    """
    raise NotImplementedError("exercise 4: gaussian_nll_and_grad")
