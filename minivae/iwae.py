"""k samples of z per example: the averaged ELBO ("VAE k") and the IWAE bound.

Burda, Grosse & Salakhutdinov (2015), "Importance Weighted Autoencoders".
``IWAE`` is the VAE of vae.py with K samples of z per example instead of
one. The encoder runs once on x (B rows), the decoder on all K * B samples
at once, through the VAE's own ``_forward``; the backward reuses its
``_encoder_backward``. Two objectives:

    "elbo":  loss = mean_b [ (1/K) sum_i -log p(x_b | z_ib) + beta KL_b ]   Burda's "VAE k"
    "iwae":  loss = -mean_b L_K(x_b),   L_K = log (1/K) sum_i w_ib,
             log w_ib = log p(x_b | z_ib) + log p(z_ib) - log q(z_ib | x_b)

The IWAE gradient is a weighted sum of the K single-sample gradients, each
weighted by its normalised importance weight wn_i = w_i / sum_j w_j, the
softmax of the K log-weights (docs/math.md §12, from §9's bound).
``parts["ess"]`` is the effective sample size of those weights,
1 / sum_i wn_i^2, between 1 (one sample carries all the weight) and K.

Shapes: K samples, B batch, D pixels, Z latent size.
"""

from __future__ import annotations

import math

from .vae import VAE

OBJECTIVES = ("elbo", "iwae")


def log_prior_ratio(z, eps, logvar):
    """log p(z) - log q(z | x) for the diagonal Gaussians, summed over Z: (..., Z) -> (...).

    log N(z; 0, I) = -1/2 sum z^2 + c and, with z = mu + sigma eps,
    log N(z; mu, sigma^2) = -1/2 sum (eps^2 + logvar) + c: the constants cancel (docs/math.md §9).
    """
    return 0.5 * (eps * eps + logvar - z * z).sum(axis=-1)


def logsumexp_softmax(a, xp):
    """(log sum_i e^a_i, e^a_i / sum_j e^a_j) over axis 0: (K, B) -> (B,), (K, B).

    Both from a - max: every exp is <= 1 and the largest is exactly 1, so
    nothing overflows and the sum is >= 1 (docs/math.md §9, §12).
    """
    m = a.max(axis=0)                                   # (B,)
    e = xp.exp(a - m)                                   # (K, B), in [0, 1]
    s = e.sum(axis=0)                                   # (B,), >= 1
    return m + xp.log(s), e / s                         # (B,), (K, B): columns sum to 1


def effective_sample_size(wn):
    """1 / sum_i wn_i^2 of normalised weights: (K, B) -> (B,), in [1, K]."""
    return 1.0 / (wn * wn).sum(axis=0)


class IWAE(VAE):
    """A VAE trained with k samples of z per example (Burda et al. 2015).

    Takes the VAE's arguments, and:
    k : samples of z per example; eps is then (k, B, Z).
    objective : "iwae" (the importance-weighted bound L_k, docs/math.md §12)
        or "elbo" (the ELBO averaged over the k samples). With k=1 "elbo" is
        the VAE's single-sample ELBO, number for number, and "iwae" L_1: the
        same ELBO with its KL estimated from the one sample of z (equal in
        expectation, not number for number).

    Saved files say ``"model": "vae"`` with their k and objective;
    ``IWAE.load`` and ``minivae.load_model`` rebuild an IWAE from them
    (``VAE.load`` refuses them, naming both).
    """

    def __init__(self, *args, k=5, objective="iwae", **kwargs):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k (samples of z per example) must be a positive integer, got {k!r}")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if objective == "iwae" and kwargs.get("beta", 1.0) != 1:
            raise ValueError(f"the iwae objective is a bound on log p(x) and has no KL weight; "
                             f"use beta=1 (got {kwargs['beta']!r}) or objective='elbo'")
        if kwargs.get("free_bits", 0):
            raise ValueError("free_bits acts on the analytic KL of the one-sample ELBO; "
                             "an IWAE (k samples of z per example) takes none")
        self.k, self.objective = k, objective
        super().__init__(*args, **kwargs)

    def config(self) -> dict:
        return {**super().config(), "k": self.k, "objective": self.objective}

    # -- one training step ----------------------------------------------------

    def _beta(self, beta):
        """The KL weight of this step: ``beta``, default ``self.beta``; "iwae" takes only 1."""
        if beta is None:
            return self.beta
        if self.objective == "iwae" and beta != 1:
            raise ValueError(f"the iwae objective is a bound on log p(x) and has no KL weight; "
                             f"got beta={beta!r} (objective='elbo' takes one)")
        return beta

    def loss_and_grads(self, x, eps=None, input_grad=False, beta=None):
        """Loss (0-d, nats per example), its parts, and every gradient; eps (K, B, Z) or None;
        beta: the "elbo" objective's KL weight of this step, default ``self.beta``.

        "elbo": parts "recon" and "kl" as the VAE's, averaged over the K samples.
        "iwae": "recon" and "kl" are the sample means of -log p(x|z) and of
        log q(z|x) - log p(z) (their sum estimates the negative ELBO from all
        K samples, >= the loss -L_K),
        "ess" the mean effective sample size of the weights.
        """
        x, eps = self._as_input(x), self._noise(x, eps)         # (B, D), (K, B, Z)
        K, B = eps.shape[:2]
        beta = self._beta(beta)
        mu, logvar, z, std, out = self._forward(x, eps)   # (B, Z) x2, (K, B, Z), (B, Z), (K*B, D)
        x_k = self.xp.broadcast_to(x, (K, *x.shape)).reshape(K * B, -1)   # (K*B, D): x_b per z_ib
        if self.objective == "elbo":
            # Each of the K*B reconstructions carries 1/(K B) of the mean; the KL
            # is analytic, once per example: its beta/B spread over the K samples.
            nll, dout = self.likelihood.nll_and_grad(out, x_k, 1.0 / (K * B))   # (K*B,), (K*B, D)
            recon = nll.reshape(K, B).mean(axis=0)              # (B,): the mean over samples
            kl = self.ops.gaussian_kl(mu, logvar)               # (B,)
            loss = (recon + beta * kl).mean()                   # ()
            parts = {"recon": recon.mean(), "kl": kl.mean()}
            dz_prior, c, dlogvar_q = 0.0, beta / (K * B), 0.0
        else:
            nll, dnll = self.likelihood.nll_and_grad(out, x_k, 1.0)     # (K*B,), (K*B, D)
            log_pq = log_prior_ratio(z, eps, logvar)            # (K, B)
            log_w = -nll.reshape(K, B) + log_pq                 # (K, B), §9
            lse, wn = logsumexp_softmax(log_w, self.xp)         # (B,), (K, B)
            loss = (math.log(K) - lse).mean()                   # () = -mean_b L_K(x_b)
            parts = {"recon": nll.mean(), "kl": -log_pq.mean(),
                     "ess": effective_sample_size(wn).mean()}
            # Backward (§12): dloss/dlog w_ib = -wn_ib / B =: -g_ib, so each sample's
            # -log p(x|z) is weighted by g; log p(z) = -z^2/2 + c adds g z to dz; the
            # +logvar/2 of -log q adds -1/(2B) to dlogvar (sum_i g_ib = 1/B); no KL term.
            g = (wn / B).reshape(K * B, 1)                      # (K*B, 1)
            dout = dnll * g                                     # (K*B, D)
            dz_prior, c, dlogvar_q = g.reshape(K, B, 1) * z, 0.0, -0.5 / B

        for layer in reversed(self.decoder):                    # (K*B, D) -> (K*B, Z)
            dout = layer.backward(dout)
        dz = dout.reshape(eps.shape) + dz_prior                 # (K, B, Z)
        dmu, dlogvar = self.ops.reparameterize_backward(dz, eps, std, mu, logvar, c)  # (K, B, Z)
        dmu, dlogvar = dmu.sum(axis=0), dlogvar.sum(axis=0) + dlogvar_q   # (B, Z): z_ib reads mu_b
        dx = self._encoder_backward(dmu, dlogvar, input_grad)   # (B, D) or None
        if input_grad:   # x reaches the loss in recon too, each sample weighted by g (§8)
            direct = self.likelihood.grad_x(out, x_k)            # (K*B, D)
            direct = direct / (K * B) if self.objective == "elbo" else direct * g
            self.input_grad = dx + direct.reshape(K, B, -1).sum(axis=0)     # (B, D)
        return loss, parts

    # -- the loss alone ---------------------------------------------------------

    def loss(self, x, eps=None, reduce=True, beta=None):
        """The numbers of loss_and_grads, without gradients; reduce=False: per example (B,)."""
        x, eps = self._as_input(x), self._noise(x, eps)         # (B, D), (K, B, Z)
        K, B = eps.shape[:2]
        beta = self._beta(beta)
        mu, logvar, z, _, out = self._forward(x, eps)
        x_k = self.xp.broadcast_to(x, (K, *x.shape)).reshape(K * B, -1)   # (K*B, D)
        nll = self.likelihood.nll(out, x_k).reshape(K, B)       # (K, B)
        if self.objective == "elbo":
            recon, kl = nll.mean(axis=0), self.ops.gaussian_kl(mu, logvar)   # (B,) each
            loss, parts = recon + beta * kl, {"recon": recon, "kl": kl}
        else:
            log_pq = log_prior_ratio(z, eps, logvar)            # (K, B)
            lse, wn = logsumexp_softmax(-nll + log_pq, self.xp)  # (B,), (K, B)
            loss = math.log(K) - lse                            # (B,)
            parts = {"recon": nll.mean(axis=0), "kl": -log_pq.mean(axis=0),
                     "ess": effective_sample_size(wn)}
        if not reduce:
            return loss, parts
        return loss.mean(), {name: p.mean() for name, p in parts.items()}

    def _noise(self, x, eps):
        """eps as (K, B, Z) on the model's device: drawn when None, else checked."""
        K, B, Z = self.k, self.xp.asarray(x).shape[0], self.latent_dim
        if eps is None:
            return self.rng.normal((K, B, Z), dtype=self.dtype)   # (K, B, Z)
        eps = self.xp.asarray(eps, dtype=self.dtype)
        if K == 1 and eps.ndim == 2:
            eps = eps[None]                                     # (B, Z) -> (1, B, Z)
        if tuple(eps.shape) != (K, B, Z):
            raise ValueError(f"eps must have shape (k, B, Z) = {(K, B, Z)} for this model "
                             f"(k={K}); got {tuple(eps.shape)}")
        return eps
