"""The deterministic Autoencoder: the baseline VAE write-ups compare against.

    x ──encoder──> h ──code head──> z ──decoder──> out
      (B, D)     (B, H)           (B, Z)         (B, D)

    loss = mean over the batch of -log p(x | out)    (no sampling, no KL)

It is built from the same layers and the same likelihood as the VAE, so the
two differ only in what the VAE adds: noise in z and the KL pull towards
N(0, I).
"""

from __future__ import annotations

from .layers import forward_through
from .model import BaseModel


class Autoencoder(BaseModel):
    """Same arguments as :class:`minivae.VAE`, less ``beta`` and ``free_bits``; layers enc..,
    code, dec.., out."""

    kind = "ae"
    heads = ("code",)

    def __init__(self, input_dim=None, hidden_dims=(400,), latent_dim=20, likelihood="bernoulli",
                 activation="relu", dtype="float32", device="cpu", seed=0,
                 decoder_hidden_dims=None, gaussian_std=1.0, fast=True, **arch):
        super().__init__(input_dim, hidden_dims, latent_dim, likelihood, activation,
                         dtype, device, seed, decoder_hidden_dims, gaussian_std, fast, **arch)

    def loss_and_grads(self, x, eps=None, input_grad=False):
        """Like :meth:`VAE.loss_and_grads`; eps is accepted and ignored (nothing is sampled)."""
        x = self._as_input(x)                                   # (B, D)
        B = x.shape[0]
        out = self._forward(x)                                  # (B, D)
        recon, dout = self.likelihood.nll_and_grad(out, x, 1.0 / B)   # (B,), (B, D)
        loss = recon.mean()                                     # (B,) -> ()
        parts = {"recon": loss, "kl": self.xp.zeros_like(loss)}

        # Backward (docs/math.md §8 without §3 and §4): z = code_head(h), no KL.
        for layer in reversed(self.decoder):                    # (B, D) -> (B, Z)
            dout = layer.backward(dout)
        dh = self.code_head.backward(dout)                      # (B, Z) -> (B, H)
        for layer in reversed(self.encoder[1:]):                # (B, H) -> ... -> (B, H1)
            dh = layer.backward(dh)                             # each layer's dy -> dx
        dx = self.encoder[0].backward(dh, need_dx=input_grad)   # (B, H1) -> (B, D), or None
        if input_grad:   # x reaches the loss through the encoder and directly in recon
            self.input_grad = dx + self.likelihood.grad_x(out, x) / B   # (B, D)
        return loss, parts

    def _forward(self, x):
        """x (B, D) -> decoder output (B, D); every layer caches what its backward needs."""
        z = self.code_head.forward(forward_through(self.encoder, x))   # (B, D) -> (B, Z)
        return forward_through(self.decoder, z)                        # (B, Z) -> (B, D)

    def loss(self, x, eps=None, reduce=True):
        """Like :meth:`VAE.loss`: the loss is recon, "kl" is 0; eps is ignored."""
        x = self._as_input(x)                                   # (B, D)
        recon = self.likelihood.nll(self._forward(x), x)        # (B, D) -> (B,)
        kl = self.xp.zeros_like(recon)                          # (B,)
        if not reduce:
            return recon, {"recon": recon, "kl": kl}
        return recon.mean(), {"recon": recon.mean(), "kl": kl.mean()}

    def encode(self, x):
        """The code z = f(x), (B, D) -> (B, Z)."""
        return self.code_head.forward(forward_through(self.encoder, self._as_input(x)))

    def reconstruct(self, x):
        """decode(encode(x)), (B, D)."""
        return self.decode(self.encode(x))
