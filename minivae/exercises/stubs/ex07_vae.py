"""Exercise 7: one whole VAE training step, built from your exercises 1-6 (docs/math.md §1, §8).

minivae's answer: VAE.loss_and_grads in minivae/vae.py (read it after you pass).
Grade it: python -m minivae.exercises check . 7    (or: python -m pytest . -m ex7)
Once 1, 2, 3, 5, 6, 7 and 8 pass: python -m minivae.train --exercises .

The model is minivae's default, of any size: D pixels -> H hidden -> Z latent -> H -> D.

    h      = relu(x @ enc0.W + enc0.b)          (B, D) -> (B, H)
    mu     = h @ mu.W + mu.b                    (B, H) -> (B, Z)
    logvar = h @ logvar.W + logvar.b            (B, H) -> (B, Z)
    z      = mu + exp(logvar / 2) eps           (B, Z)
    g      = relu(z @ dec0.W + dec0.b)          (B, Z) -> (B, H)
    logits = g @ out.W + out.b                  (B, H) -> (B, D)
    loss   = mean over the batch of [ bernoulli_nll(logits, x) + beta * KL ]
"""

import numpy as np

from ex01_dense import dense_backward, dense_forward
from ex02_activations import relu_backward, relu_forward
from ex03_bernoulli import bernoulli_nll_and_grad
from ex05_kl import gaussian_kl
from ex06_reparameterize import reparameterize, reparameterize_backward


def vae_loss_and_grads(params, x, eps=None, beta=1.0, rng=None):
    """Loss (0-d, nats per example), its parts, and every gradient.

    params : dict name -> array, minivae's names and shapes: "enc0.W" (D, H),
        "enc0.b" (H,), "mu.W" (H, Z), "mu.b" (Z,), "logvar.W" (H, Z), "logvar.b" (Z,),
        "dec0.W" (Z, H), "dec0.b" (H,), "out.W" (H, D), "out.b" (D,).
    x : (B, D) in [0, 1].
    eps : (B, Z) standard-normal noise, or None to draw it: eps = rng.standard_normal((B, Z)),
        once; the forward and the backward must use the same eps.
    beta : the weight of the KL term.   rng : a numpy.random.Generator (None: a new one).

    Returns (loss, parts, grads): loss, a number: the batch mean of recon + beta * kl;
    parts = {"recon": batch mean of the NLL, "kl": batch mean of the KL};
    grads = dict name -> dloss/dparams[name], the keys and shapes of params.
    """
    raise NotImplementedError("exercise 7: vae_loss_and_grads")
