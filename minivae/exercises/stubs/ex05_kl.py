"""Exercise 5: the closed-form KL term and its gradient (docs/math.md §4).

minivae's answers: Ops.gaussian_kl and the KL half of Ops.reparameterize_backward,
in minivae/ops.py. Kingma & Welling (2013), Appendix B.
Grade it: python -m minivae.exercises check . 5    (or: python -m pytest . -m ex5)

q(z | x) = N(mu, exp(logvar)), diagonal: logvar is log sigma^2, the log-VARIANCE.
Shapes: B batch, Z latent size.
"""

import numpy as np


def gaussian_kl(mu, logvar):
    """KL( N(mu, exp(logvar)) || N(0, I) ) per example: (B, Z) -> (B,), >= 0.

    KL = 1/2 sum_z [ mu_z^2 + exp(logvar_z) - logvar_z - 1 ], summed over the Z
    latent dimensions. It is 0 exactly when mu = 0 and logvar = 0.

    mu, logvar : (B, Z). Returns kl : (B,).
    """
    raise NotImplementedError("exercise 5: gaussian_kl")


def gaussian_kl_backward(mu, logvar):
    """(dmu, dlogvar), each (B, Z): the gradient of the summed KL, sum_b KL_b.

    The KL half of minivae's reparameterize_backward, which adds this gradient,
    weighted by beta / B, to what the decoder carries back through z (exercise 6).

    mu, logvar : (B, Z). Returns (d sum_b KL_b / d mu, d sum_b KL_b / d logvar), each (B, Z).
    """
    raise NotImplementedError("exercise 5: gaussian_kl_backward")
