"""Exercise 11: the IWAE bound's gradient, through the normalised weights (docs/math.md §12).

minivae's answer: the "iwae" branch of IWAE.loss_and_grads in minivae/iwae.py.
Grade it: python -m minivae.exercises check . 11    (or: python -m pytest . -m ex11)

loss = mean over the batch of -L_K,  -L_K = log K - log sum_i w_i  (exercise 10),
log w_ib = -nll_ib + 1/2 sum_z (eps_ibz^2 + logvar_bz - z_ibz^2).
Its gradient weighs each sample by its normalised weight wn_ib = w_ib / sum_j w_jb
(the softmax of the log-weights). Shapes: K samples, B batch, Z latent size.
"""

import numpy as np

from ex10_logsumexp import logsumexp_softmax


def iwae_loss_and_grads(nll, z, eps, logvar):
    """Loss (0-d, nats per example), the batch mean of -L_K, and its gradients.

    The gradients are with respect to nll, z and logvar, eps held fixed (it is
    noise, not a parameter: the model carries dz on to mu and logvar).
    nll : (K, B).   z, eps : (K, B, Z).   logvar : (B, Z).
    Returns (loss, dnll, dz, dlogvar): a number, then (K, B), (K, B, Z), (B, Z).
    """
    raise NotImplementedError("exercise 11: iwae_loss_and_grads")
