"""The deterministic Autoencoder: the baseline VAE write-ups compare against.

    x ──encoder──> h ──code head──> z ──decoder──> out
      (B, D)     (B, H)           (B, Z)         (B, D)

    loss = mean over the batch of -log p(x | out)    (no sampling, no KL)

It is built from the same layers and the same likelihood as the VAE, so the
two differ only in what the VAE adds: noise in z and the KL pull towards
N(0, I).
"""

from __future__ import annotations

from . import losses
from .layers import Dense
from .mlp import build_mlp
from .model import BaseModel


class Autoencoder(BaseModel):
    """Same arguments as :class:`minivae.VAE`, less ``beta``; layers enc.., code, dec.., out."""

    kind = "ae"

    def __init__(self, input_dim=784, hidden_dims=(400,), latent_dim=20, likelihood="bernoulli",
                 activation="relu", dtype="float32", device="cpu", seed=0,
                 decoder_hidden_dims=None, gaussian_std=1.0):
        super().__init__(input_dim, hidden_dims, latent_dim, likelihood, activation,
                         dtype, device, seed, decoder_hidden_dims, gaussian_std)
        rng, xp, dt = self.rng, self.xp, self.dtype
        enc_dims = (self.input_dim, *self.hidden_dims)
        self.encoder = build_mlp("enc", enc_dims, activation, rng, dt, xp)          # D -> H
        self.code_head = Dense(enc_dims[-1], self.latent_dim, rng=rng, dtype=dt, xp=xp)  # H -> Z
        self.decoder = self._build_decoder(rng)                                     # Z -> D
        self._finish({**self.encoder.dense, "code": self.code_head, **self.decoder.dense})

    def encode(self, x):
        """The code z = f(x), (B, D) -> (B, Z)."""
        x = self._as_input(x)
        return self.code_head.forward(self.encoder.forward(x))

    def _loss_per_example(self, x, eps):
        """What :meth:`loss` reduces: the loss is recon, "kl" is 0; eps is ignored."""
        z = self.encode(x)                                       # (B, D) -> (B, Z)
        recon = self._recon_nll(self.decoder.forward(z), x)      # (B, Z) -> (B, D) -> (B,)
        return recon, {"recon": recon, "kl": self.xp.zeros_like(recon)}

    def loss_and_grads(self, x, eps=None, input_grad=False):
        """Like :meth:`VAE.loss_and_grads`; eps is accepted and ignored (nothing is sampled)."""
        x = self._as_input(x)
        B = x.shape[0]
        z = self.encode(x)                                       # (B, Z)
        out = self.decoder.forward(z)                            # (B, D)
        # The reconstruction term and its gradient d/d out (with 1/B) come together.
        recon, dout = losses.recon_nll_and_grad(self.likelihood, out, x, 1.0 / B,
                                                self.gaussian_std)   # (B,), (B, D)
        loss, parts = self._batch_mean(recon, {"recon": recon, "kl": self.xp.zeros_like(recon)})
        dz = self.decoder.backward(dout)                         # (B, D) -> (B, Z)
        dh = self.code_head.backward(dz)                         # (B, Z) -> (B, H)
        dx = self.encoder.backward(dh, need_dx=input_grad)       # (B, H) -> (B, D) or None
        if input_grad:
            self.input_grad = dx + self._recon_grad_x(out, x) / B   # (B, D)
        return loss, parts

    def reconstruct(self, x):
        """decode(encode(x)), (B, D)."""
        return self.decode(self.encode(x))
