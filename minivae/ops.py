"""The elementwise maths of a training step, in plain form.

The GEMMs of a step live in the layers; everything else that touches every
latent value or every parameter is here, written the way the maths reads,
one named temporary per line:

    reparameterize           z = mu + exp(logvar / 2) eps            docs/math.md §3
    reparameterize_backward  dL/dmu, dL/dlogvar, the KL term's included  §3, §4
    gaussian_kl              KL( q(z|x) || N(0, I) ) per example       §4
    gaussian_kl_per_dim      the same, each latent dimension apart     §4, §14
    adam_update              one Adam step on (p, g, m, v)            §7

``Ops(xp)`` holds them for one array module (numpy or cupy). A model and an
optimizer each take one ``Ops`` when they are built (``minivae.fast.forms.choose_ops``
picks it) and call nothing else for this work. Faster forms of the same
functions, with the same signatures, stand apart: ``minivae/fast/forms.py`` (NumPy,
in place) and ``minivae/fast/cuda_kernels.py`` (fused CuPy kernels).
tests/test_ops.py checks that every fast form agrees with this one.

Shapes: B batch, Z latent size, P parameters.
"""

from __future__ import annotations

import math

from .likelihoods import LIKELIHOODS


class Ops:
    """The plain forms, for arrays of module ``xp``."""

    name = "plain"
    description = "plain forms (minivae/ops.py)"
    likelihoods = LIKELIHOODS     # name -> likelihood class (a fast set may swap one)
    layer_forms: dict = {}        # layer class -> a faster form of it (layers.Spec.build)

    def __init__(self, xp):
        self.xp = xp

    def describe(self, model) -> str:
        """The forms ``model`` runs, in words (the train command's header); a set may name
        forms that only some models use (NumbaOps: the conv layers' passes)."""
        return self.description

    def likelihood(self, name: str, gaussian_std: float = 1.0):
        """The likelihood object p(x | decoder output) called ``name``, for this module."""
        if name not in self.likelihoods:
            raise ValueError(f"likelihood must be one of {sorted(self.likelihoods)}, got {name!r}")
        cls = self.likelihoods[name]
        return cls(self.xp, std=gaussian_std) if name == "gaussian" else cls(self.xp)

    def reparameterize(self, mu, logvar, eps):
        """(z, std): a sample of q(z|x) = N(mu, exp(logvar)) from eps ~ N(0, I). Each (B, Z)."""
        std = self.xp.exp(0.5 * logvar)          # (B, Z)  sigma = exp(logvar / 2)
        z = mu + std * eps                       # (B, Z)
        return z, std

    def reparameterize_backward(self, dz, eps, std, mu, logvar, c):
        """(dmu, dlogvar), each (B, Z): the decoder's dz carried back through z, plus c * dKL.

        c = beta / B weighs the KL term of the batch-mean loss (docs/math.md §4).
        """
        dkl_dmu = mu                                      # (B, Z)
        dkl_dlogvar = 0.5 * self.xp.expm1(logvar)         # (B, Z)  (exp(logvar) - 1) / 2
        dmu = dz + c * dkl_dmu                            # (B, Z)  dz/dmu = 1
        dlogvar = dz * eps * (0.5 * std) + c * dkl_dlogvar   # (B, Z)  dz/dlogvar = eps std / 2
        return dmu, dlogvar

    def gaussian_kl(self, mu, logvar):
        """KL( N(mu, exp(logvar)) || N(0, I) ) per example: (B, Z) -> (B,), >= 0."""
        per_dim = mu * mu + (self.xp.expm1(logvar) - logvar)   # (B, Z)  each term >= 0
        return 0.5 * per_dim.sum(axis=1)                        # (B, Z) -> (B,)

    def gaussian_kl_per_dim(self, mu, logvar):
        """The KL of each latent dimension apart: (B, Z) -> (B, Z), >= 0; sums to gaussian_kl.

        Free bits (docs/math.md §14) and the collapse diagnostics of a run read it.
        """
        return 0.5 * (mu * mu + (self.xp.expm1(logvar) - logvar))   # (B, Z)

    def adam_update(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """One Adam step, in place on p, m and v (all the same shape, e.g. (P,)); g is read only."""
        if weight_decay:
            g = g + weight_decay * p                          # L2 penalty, as torch.optim.Adam
        m *= beta1
        m += (1 - beta1) * g                                  # m = beta1 m + (1 - beta1) g
        v *= beta2
        v += (1 - beta2) * (g * g)                            # v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1**step)                         # bias corrections
        v_hat = v / (1 - beta2**step)
        p -= lr * m_hat / (self.xp.sqrt(v_hat) + eps)


def adam_constants(lr, beta1, beta2, eps, step):
    """(a, e): Adam's step with the bias corrections folded into two constants.

    p -= lr m_hat / (sqrt(v_hat) + eps) is the same as p -= a m / (sqrt(v) + e)
    with a = lr sqrt(1 - beta2^t) / (1 - beta1^t) and e = eps sqrt(1 - beta2^t)
    (docs/math.md §7). The fast forms use it: two fewer passes over (P,).
    """
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step
    return lr * math.sqrt(bc2) / bc1, eps * math.sqrt(bc2)
