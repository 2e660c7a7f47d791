"""Exercise 6: the reparameterization z = mu + sigma eps, and its backward (docs/math.md §3).

minivae's answers: Ops.reparameterize and Ops.reparameterize_backward in minivae/ops.py.
Grade it: python -m minivae.exercises check . 6    (or: python -m pytest . -m ex6)

logvar is log sigma^2, so sigma = exp(logvar / 2). The noise eps is given: use it,
draw nothing. Shapes: B batch, Z latent size.
"""

import numpy as np


def reparameterize(mu, logvar, eps):
    """(z, std): a sample of q(z|x) = N(mu, exp(logvar)) from eps ~ N(0, I). Each (B, Z).

    z = mu + std * eps with std = sigma, the standard deviation: then z has mean
    mu and variance exp(logvar) (the grader draws many eps to check exactly that).

    mu, logvar, eps : (B, Z). Returns (z, std), each (B, Z).
    """
    raise NotImplementedError("exercise 6: reparameterize")


def reparameterize_backward(dz, eps, std, mu, logvar, c):
    """(dmu, dlogvar), each (B, Z): the decoder's dz carried back through z, plus c * dKL.

    c = beta / B weighs the KL term of the batch-mean loss (docs/math.md §4).
    z = mu + exp(logvar / 2) eps, so dL/dmu = dL/dz, and dL/dlogvar takes the
    derivative of exp(logvar / 2) with respect to logvar; then add c times the
    gradient of the KL (exercise 5) to each.

    dz : (B, Z), dLoss/dz.   eps, std : (B, Z), what the forward used and returned.
    mu, logvar : (B, Z).   c : a number.
    Returns (dmu, dlogvar), each (B, Z).
    """
    raise NotImplementedError("exercise 6: reparameterize_backward")
