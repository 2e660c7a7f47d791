"""The field's real bugs, each written into a copy of minivae's code: one subclass, one method.

Each class below is minivae's own part (ops.Ops, likelihoods.Bernoulli,
vae.VAE) with the one line that public VAEs got wrong, marked ``BUG``; the
backward is changed to match where the original's autograd would have
matched it, which is exactly why a gradient check passes on some of them.
gallery.py builds minivae's answers from these parts and runs every check.
Shapes: B batch, D pixels, Z latent size, K importance samples.
"""

from __future__ import annotations

import numpy as np

from ..likelihoods import Bernoulli
from ..ops import Ops
from ..vae import VAE


class StdIsExpLogvar(Ops):
    """DeZero's examples/vae.py: z = mu + exp(logvar) eps, though logvar is log sigma^2."""

    def reparameterize(self, mu, logvar, eps):
        std = self.xp.exp(logvar)                          # BUG: sigma = exp(logvar / 2)
        return mu + std * eps, std

    def reparameterize_backward(self, dz, eps, std, mu, logvar, c):
        # d exp(logvar) / dlogvar = exp(logvar) = std: the backward of the wrong forward
        dlogvar = dz * eps * std + c * 0.5 * self.xp.expm1(logvar)
        return dz + c * mu, dlogvar


class ZIsMu(Ops):
    """pytorch/examples PR #419: z = mu where the ELBO needs a sample of q(z|x)."""

    def reparameterize(self, mu, logvar, eps):
        return mu.copy(), self.xp.exp(0.5 * logvar)        # BUG: z = mu + std * eps

    def reparameterize_backward(self, dz, eps, std, mu, logvar, c):
        return dz + c * mu, c * 0.5 * self.xp.expm1(logvar)   # z no longer reads logvar


class KLSignFlipped(Ops):
    """pytorch/examples #824: the KL written with the wrong sign, and minimised as such."""

    def gaussian_kl(self, mu, logvar):
        return -super().gaussian_kl(mu, logvar)            # BUG: KL >= 0, this is <= 0

    def reparameterize_backward(self, dz, eps, std, mu, logvar, c):
        return super().reparameterize_backward(dz, eps, std, mu, logvar, -c)   # its gradient


class FreshEps(VAE):
    """kwj2104/Simple-Variational-Autoencoder: a second eps in the forward, the first in backward.

    Only when loss_and_grads draws the noise itself (eps=None, as in training):
    a gradient check passes eps in, and then everything is right.
    """

    def loss_and_grads(self, x, eps=None, input_grad=False, **step):
        self.drawn_here = eps is None
        return super().loss_and_grads(x, eps, input_grad, **step)

    def _forward(self, x, eps):
        if getattr(self, "drawn_here", False):
            eps = self.rng.normal(eps.shape, dtype=self.dtype)   # BUG: a second, fresh eps
        return super()._forward(x, eps)


class ClippedLogSigmoid(Bernoulli):
    """BCE on probabilities: -[x log p + (1 - x) log(1 - p)], p = sigmoid(l) clipped to 1e-7."""

    def nll_and_grad(self, logits, x, scale=1.0):
        xp = self.xp
        p = xp.clip(0.5 + 0.5 * xp.tanh(0.5 * logits), 1e-7, 1 - 1e-7)   # BUG: log of a clipped p
        nll = -(x * xp.log(p) + (1 - x) * xp.log(1 - p)).sum(axis=1)     # (B, D) -> (B,)
        return nll, None if scale is None else scale * (0.5 + 0.5 * xp.tanh(0.5 * logits) - x)


class PixelMean(Bernoulli):
    """pytorch/examples #290, #817: the reconstruction averaged over pixels, the KL summed."""

    def nll_and_grad(self, logits, x, scale=1.0):
        nll, grad = super().nll_and_grad(logits, x, scale)
        D = logits.shape[1]
        return nll / D, None if grad is None else grad / D     # BUG: a mean where the ELBO sums


def weights_differentiated(wn, log_w, B):
    """AntixK/PyTorch-VAE #34: dloss/dlog w with the weights wn differentiated through.

    The loss -(1/B) sum_i wn_i log w_i, with wn = softmax(log w) not held constant,
    has d/dlog w_j = -(wn_j / B) (1 + log w_j - sum_i wn_i log w_i).
    """
    return -(wn / B) * (1 + log_w - (wn * log_w).sum(axis=0))   # BUG: the estimator has -wn / B


def weights_uniform(wn, log_w, B):
    """The reverse: the normalised weights dropped from the gradient, each sample weighted 1/K."""
    return -np.full_like(wn, 1.0 / (wn.shape[0] * B))         # BUG: the estimator has -wn / B
