"""The Variational Autoencoder (Kingma & Welling 2013).

    x ──encoder──> h ──┬─ mu head ─────> mu      (B, Z)
      (B, D)    (B, H) └─ logvar head ─> logvar  (B, Z)   logvar = log sigma^2
    z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)       (B, Z)  reparameterization
    z ──decoder──> out   (B, D): Bernoulli logits, or the Gaussian mean

    loss = mean over the batch of [ -log p(x | z) + beta * KL(q(z|x) || N(0, I)) ]

which for beta = 1 is the negative ELBO, in nats per example. Every step of
the backward pass is written out in ``loss_and_grads``; docs/math.md derives
each one.
"""

from __future__ import annotations

import math

from . import losses, ops
from .layers import Dense
from .mlp import build_mlp
from .model import BaseModel


class VAE(BaseModel):
    """A VAE with MLP encoder and decoder.

    Parameters
    ----------
    input_dim : D, pixels per example (784 for MNIST).
    hidden_dims : encoder hidden widths, e.g. (400,) or (512, 256).
    latent_dim : Z.
    likelihood : "bernoulli" (logits, BCE) or "gaussian" (fixed std, MSE-like).
    activation : "relu", "leaky_relu", "tanh" or "sigmoid" for hidden layers.
    beta : weight of the KL term (beta-VAE; 1 gives the ELBO).
    dtype : "float32", or "float64" for gradient checks.
    device : "cpu" (NumPy), "cuda" (CuPy) or "auto".
    seed : seeds initialisation and the noise eps.
    decoder_hidden_dims : decoder widths; default: hidden_dims reversed.
    gaussian_std : the fixed std of the Gaussian likelihood.

    ``params`` and ``grads`` map "<layer>.W" / "<layer>.b" to arrays, layers in
    forward order: enc0.., mu, logvar, dec0.., out.
    """

    kind = "vae"

    def __init__(self, input_dim=784, hidden_dims=(400,), latent_dim=20, likelihood="bernoulli",
                 activation="relu", beta=1.0, dtype="float32", device="cpu", seed=0,
                 decoder_hidden_dims=None, gaussian_std=1.0):
        super().__init__(input_dim, hidden_dims, latent_dim, likelihood, activation,
                         dtype, device, seed, decoder_hidden_dims, gaussian_std)
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        self.beta = float(beta)
        rng, xp, dt = self.rng, self.xp, self.dtype
        enc_dims = (self.input_dim, *self.hidden_dims)
        self.encoder = build_mlp("enc", enc_dims, activation, rng, dt, xp)          # D -> H
        H = enc_dims[-1]
        self.mu_head = Dense(H, self.latent_dim, rng=rng, dtype=dt, xp=xp)          # H -> Z
        self.logvar_head = Dense(H, self.latent_dim, rng=rng, dtype=dt, xp=xp)      # H -> Z
        self.decoder = self._build_decoder(rng)                                     # Z -> D
        self._finish({**self.encoder.dense, "mu": self.mu_head,
                      "logvar": self.logvar_head, **self.decoder.dense})

    def config(self) -> dict:
        return {**super().config(), "beta": self.beta}

    # -- the forward pass ---------------------------------------------------

    def encode(self, x):
        """Parameters of q(z | x): (mu, logvar), each (B, Z)."""
        x = self._as_input(x)
        h = self.encoder.forward(x)                  # (B, D) -> (B, H)
        return self.mu_head.forward(h), self.logvar_head.forward(h)   # (B, Z), (B, Z)

    def _forward(self, x, eps):
        """Run the model to the decoder output, keeping what the backward pass needs."""
        mu, logvar = self.encode(x)                  # (B, Z), (B, Z)
        # Reparameterization: sigma = exp(logvar / 2), z = mu + sigma * eps (one GPU kernel).
        z, std = ops.reparameterize(mu, logvar, eps)  # (B, Z), (B, Z)
        out = self.decoder.forward(z)                # (B, Z) -> (B, D)
        return mu, logvar, std, out

    def _add_kl(self, recon, mu, logvar):
        """recon (B,) + beta * KL (B,): (loss (B,), {"recon", "kl"}), nats per example."""
        kl = losses.gaussian_kl(mu, logvar)          # (B, Z) -> (B,)
        return recon + self.beta * kl, {"recon": recon, "kl": kl}

    def _batch_loss(self, recon, mu, logvar):
        """Batch means of recon (B,) + beta * KL: (loss, {"recon", "kl"}), each 0-d."""
        return self._batch_mean(*self._add_kl(recon, mu, logvar))

    def _eps(self, eps, B):
        if eps is None:
            return self.rng.normal((B, self.latent_dim), dtype=self.dtype)   # (B, Z)
        return self._as_input(eps, "eps", self.latent_dim)

    def _loss_per_example(self, x, eps):
        """What :meth:`loss` reduces: (loss (B,), {"recon": (B,), "kl": (B,)})."""
        mu, logvar, _, out = self._forward(x, self._eps(eps, x.shape[0]))
        return self._add_kl(self._recon_nll(out, x), mu, logvar)   # recon: (B, D) -> (B,)

    # -- the backward pass --------------------------------------------------

    def loss_and_grads(self, x, eps=None, input_grad=False):
        """Loss (0-d, nats per example), its parts, and every gradient.

        x: (B, D) in [0, 1]. eps: (B, Z) standard-normal noise, or None to draw
        it. Afterwards ``self.grads[name]`` holds dloss/dparams[name]; with
        ``input_grad=True``, ``self.input_grad`` holds dloss/dx, (B, D).
        """
        x = self._as_input(x)
        B = x.shape[0]
        eps = self._eps(eps, B)
        mu, logvar, std, out = self._forward(x, eps)

        # loss = (1/B) sum_b [recon_b + beta kl_b]: each per-example gradient carries 1/B.
        # The reconstruction term and d recon / d out come together (one tanh for both).
        recon, dout = losses.recon_nll_and_grad(self.likelihood, out, x, 1.0 / B,
                                                self.gaussian_std)   # (B,), (B, D)
        loss, parts = self._batch_loss(recon, mu, logvar)
        dz = self.decoder.backward(dout)                          # (B, D) -> (B, Z)

        # Reparameterization z = mu + exp(logvar/2) eps  (eps is the one used above):
        #   dz/dmu = 1,  dz/dlogvar = eps * exp(logvar/2) / 2 = eps * std / 2.
        # KL term (Kingma & Welling 2013, App. B): dKL/dmu = mu, dKL/dlogvar = (exp(logvar) - 1)/2.
        # With c = beta / B (losses.gaussian_kl_grad has the KL part alone):
        #   dmu = dz + c * mu,  dlogvar = dz * eps * std / 2 + c * (exp(logvar) - 1) / 2.
        dmu, dlogvar = ops.reparameterize_backward(dz, eps, std, mu, logvar,
                                                   self.beta / B)  # (B, Z), (B, Z)

        # Both heads read h, so their contributions to dL/dh add up.
        dh = self.mu_head.backward(dmu)                           # (B, Z) -> (B, H)
        dh += self.logvar_head.backward(dlogvar)                  # (B, H)
        dx = self.encoder.backward(dh, need_dx=input_grad)        # (B, H) -> (B, D) or None
        if input_grad:
            # x reaches the loss twice: through the encoder, and directly in recon.
            self.input_grad = dx + self._recon_grad_x(out, x) / B  # (B, D)
        return loss, parts

    # -- using a trained model ----------------------------------------------

    def reconstruct(self, x):
        """Decode the posterior mean: x -> mu -> mean of p(x | mu), (B, D)."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    def sample(self, n: int):
        """n new examples: the mean of p(x | z) at z ~ N(0, I), (n, D)."""
        z = self.rng.normal((n, self.latent_dim), dtype=self.dtype)   # (n, Z)
        return self.decode(z)
