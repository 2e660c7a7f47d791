"""The Variational Autoencoder (Kingma & Welling 2013).

    x ──encoder──> h ──┬─ mu head ─────> mu      (B, Z)
      (B, D)    (B, H) └─ logvar head ─> logvar  (B, Z)   logvar = log sigma^2
    z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)       (B, Z)  reparameterization
    z ──decoder──> out   (B, D): Bernoulli logits, or the Gaussian mean

    loss = mean over the batch of [ -log p(x | z) + beta * KL(q(z|x) || N(0, I)) ]

which for beta = 1 is the negative ELBO, in nats per example. One training
step is ``loss_and_grads``: forward, loss, backward, top to bottom, each
line citing the section of docs/math.md that derives it.
"""

from __future__ import annotations

import math

from .architecture import positive_int
from .files.serialize import CheckpointError
from .layers import forward_through
from .model import BaseModel


class VAE(BaseModel):
    """A VAE with MLP encoder and decoder (or, with arch="conv", convolutional ones).

    Parameters
    ----------
    input_dim : D, pixels per example (default 784 for MNIST, or C H W of image_shape).
    hidden_dims : encoder hidden widths, e.g. (400,) or (512, 256).
    latent_dim : Z.
    likelihood : "bernoulli" (logits, BCE), "gaussian" (fixed std) or "mse"
        (summed squared error): minivae/likelihoods.py.
    activation : "relu", "leaky_relu", "tanh" or "sigmoid" for hidden layers.
    beta : weight of the KL term (beta-VAE; 1 gives the ELBO). A run's KL warm-up
        passes a smaller one to each step (``loss_and_grads(..., beta=...)``).
    free_bits : lambda, in nats: the KL of a latent dimension (its batch mean)
        below lambda is not penalised, lambda is charged instead and its gradient
        is 0 (Kingma et al. 2016; docs/math.md §14). 0 (default): the plain KL.
    dtype : "float32", or "float64" for gradient checks.
    device : "cpu" (NumPy), "cuda" (CuPy) or "auto".
    seed : seeds initialisation and the noise eps.
    decoder_hidden_dims : decoder widths; default: hidden_dims reversed.
    gaussian_std : the fixed std of the Gaussian likelihood.
    fast : the speed-ups of minivae/fast/ (fused GPU kernels; Adam's update in
        one pass), chosen once here; the model's optimizer takes the same choice.
    **arch : arch="conv" (image_shape=(C, H, W), channels, kernel_size, stride,
        padding), per-layer activations, decoder_activation, pixel_range, init
        ("pytorch" or "glorot"): minivae/architecture.py and model.BaseModel.

    k samples of z per example (Burda et al. 2015) are ``minivae.IWAE``
    (iwae.py), a subclass that overrides ``loss_and_grads`` and ``loss``.

    ``params`` and ``grads`` map "<layer>.W" / "<layer>.b" to arrays, layers in
    forward order: enc0.., mu, logvar, dec0.., out.
    """

    kind = "vae"
    heads = ("mu", "logvar")

    def __init__(self, input_dim=None, hidden_dims=(400,), latent_dim=20, likelihood="bernoulli",
                 activation="relu", beta=1.0, dtype="float32", device="cpu", seed=0,
                 decoder_hidden_dims=None, gaussian_std=1.0, fast=True, free_bits=0.0, **arch):
        for name, value in (("beta", beta), ("free_bits", free_bits)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("k", "objective"):
            if name in arch:
                raise TypeError(f"VAE takes no {name}: k samples of z per example are "
                                f"minivae.IWAE(k=..., objective='iwae' or 'elbo', ...)")
        self.beta, self.free_bits = float(beta), float(free_bits)
        super().__init__(input_dim, hidden_dims, latent_dim, likelihood, activation,
                         dtype, device, seed, decoder_hidden_dims, gaussian_std, fast, **arch)

    def config(self) -> dict:
        cfg = {**super().config(), "beta": self.beta}
        return {**cfg, "free_bits": self.free_bits} if self.free_bits else cfg

    @classmethod
    def from_arrays(cls, arrays, meta, path="<arrays>", device="cpu", dtype=None):
        """As BaseModel.from_arrays; a file of k samples per example is refused by name.

        Files of a VAE say k=1, objective "elbo" (or nothing); anything else
        is an IWAE's, which ``minivae.IWAE.load`` or ``minivae.load_model`` reads.
        """
        config = meta.get("config") if isinstance(meta, dict) else None
        if cls is VAE and isinstance(config, dict):
            k, objective = config.get("k", 1), config.get("objective", "elbo")
            if (k, objective) != (1, "elbo"):
                raise CheckpointError(f"{path} holds an IWAE (k={k!r}, objective {objective!r}): "
                                      "read it with minivae.IWAE.load or minivae.load_model")
            config = {n: v for n, v in config.items() if n not in ("k", "objective")}
            meta = {**meta, "config": config}
        return super().from_arrays(arrays, meta, path, device=device, dtype=dtype)

    # -- one training step --------------------------------------------------

    def loss_and_grads(self, x, eps=None, input_grad=False, beta=None):
        """Loss (0-d, nats per example), its parts, and every gradient.

        x: (B, D) in [0, 1]. eps: (B, Z) standard-normal noise, or None to draw
        it. Afterwards ``self.grads[name]`` holds dloss/dparams[name]; with
        ``input_grad=True``, ``self.input_grad`` holds dloss/dx, (B, D).
        beta: the KL weight of this step (a run's warm-up), default ``self.beta``.
        """
        x = self._as_input(x)                                   # (B, D)
        B = x.shape[0]
        eps = self._as_input(eps, "eps", self.latent_dim) if eps is not None else \
            self.rng.normal((B, self.latent_dim), dtype=self.dtype)          # (B, Z)

        # Forward (docs/math.md §1-3): the same code as loss().
        mu, logvar, z, std, out = self._forward(x, eps)         # (B, Z) x4, (B, D)

        # Loss (§1, §4-6): the batch mean of recon + beta * KL. Each example's
        # gradient carries the 1/B of the mean; recon's comes with its value.
        beta = self.beta if beta is None else beta              # the KL's weight in this step
        recon, dout = self.likelihood.nll_and_grad(out, x, 1.0 / B)   # (B,), (B, D)
        kl = self.ops.gaussian_kl(mu, logvar)                   # (B, Z) -> (B,)
        loss = (recon + beta * kl).mean()                       # (B,) -> ()
        parts, c = {"recon": recon.mean(), "kl": kl.mean()}, beta / B   # c: dloss/dKL_b
        if self.free_bits:   # §14: beta sum_j max(lambda, KL_j) instead; c 0 where KL_j < lambda
            parts["kl_penalty"], c = self._free_bits(mu, logvar, beta)   # (), (Z,)
            loss = parts["recon"] + parts["kl_penalty"]         # ()

        # Backward (§8): the chain rule, from the loss back to the parameters.
        for layer in reversed(self.decoder):                    # (B, D) -> (B, Z)
            dout = layer.backward(dout)
        dmu, dlogvar = self.ops.reparameterize_backward(         # through z = mu + std * eps,
            dout, eps, std, mu, logvar, c)                      # plus c dKL: (B, Z) each
        dx = self._encoder_backward(dmu, dlogvar, input_grad)   # (B, Z) x2 -> (B, D), or None
        if input_grad:   # x reaches the loss twice: through the encoder, and in recon (§8)
            self.input_grad = dx + self.likelihood.grad_x(out, x) / B   # (B, D)
        return loss, parts

    def _forward(self, x, eps):
        """x (B, D), eps (B, Z) -> mu, logvar, z, std (B, Z), decoder output (B, D).

        Every layer caches what its backward needs. With eps (K, B, Z)
        (iwae.py): z (K, B, Z), std still (B, Z), the decoder output (K*B, D).
        """
        h = x
        for layer in self.encoder:                              # (B, D) -> (B, H)
            h = layer.forward(h)
        mu = self.mu_head.forward(h)                            # (B, H) -> (B, Z)
        logvar = self.logvar_head.forward(h)                    # (B, H) -> (B, Z), log sigma^2
        z, std = self.ops.reparameterize(mu, logvar, eps)       # (B, Z): z = mu + std * eps, §3
        out = z.reshape(-1, self.latent_dim)                    # (B, Z); (K*B, Z) for K samples
        for layer in self.decoder:                              # (B, Z) -> (B, D)
            out = layer.forward(out)
        return mu, logvar, z, std, out

    def _free_bits(self, mu, logvar, beta):
        """Free bits (Kingma et al. 2016, docs/math.md §14): (penalty (), c (Z,)).

        KL_j, the batch mean of dimension j's KL, is charged as max(lambda, KL_j):
        penalty = beta sum_j max(lambda, KL_j). Where KL_j > lambda its gradient
        is the KL's, c_j = beta / B per example; below, the constant lambda is
        charged and c_j = 0, so nothing pushes that dimension towards the prior.
        """
        kl_j = self.ops.gaussian_kl_per_dim(mu, logvar).mean(axis=0)   # (B, Z) -> (Z,)
        penalty = beta * self.xp.maximum(kl_j, self.free_bits).sum()   # ()
        c = (kl_j > self.free_bits).astype(self.dtype) * (beta / mu.shape[0])   # (Z,)
        return penalty, c

    def _encoder_backward(self, dmu, dlogvar, input_grad=False):
        """From dloss/dmu and dloss/dlogvar (B, Z) to the heads' and encoder's dW, db.

        Both heads read h, so their dh add. Returns dloss/dx through the
        encoder, (B, D), or None unless ``input_grad``.
        """
        dh = self.mu_head.backward(dmu) + self.logvar_head.backward(dlogvar)   # (B, Z) -> (B, H)
        for layer in reversed(self.encoder[1:]):                # (B, H) -> ... -> (B, H1)
            dh = layer.backward(dh)                             # each layer's dy -> dx
        return self.encoder[0].backward(dh, need_dx=input_grad)   # (B, H1) -> (B, D), or None

    # -- the loss alone -----------------------------------------------------

    def loss(self, x, eps=None, reduce=True, beta=None):
        """The loss and its parts, without gradients: the numbers of loss_and_grads.

        x: (B, D) in [0, 1]. eps: (B, Z) standard-normal noise, or None to draw it.
        reduce=True: batch means, (loss, {"recon": ..., "kl": ...}), each 0-d.
        reduce=False: one value per example, (loss (B,), {"recon": (B,), "kl": (B,)}):
        recon + beta KL, also with free bits (a penalty of the batch, not of an example).
        """
        x = self._as_input(x)                                   # (B, D)
        eps = self._as_input(eps, "eps", self.latent_dim) if eps is not None else \
            self.rng.normal((x.shape[0], self.latent_dim), dtype=self.dtype)  # (B, Z)
        mu, logvar, _, _, out = self._forward(x, eps)
        return self._loss_terms(mu, logvar, out, x, reduce, beta)

    def _loss_terms(self, mu, logvar, out, x, reduce, beta):
        """loss()'s numbers from the forward's mu, logvar (B, Z) and output (B, D)."""
        beta = self.beta if beta is None else beta
        recon = self.likelihood.nll(out, x)                     # (B, D) -> (B,)
        kl = self.ops.gaussian_kl(mu, logvar)                   # (B, Z) -> (B,)
        loss = recon + beta * kl                                # (B,)
        if not reduce:
            return loss, {"recon": recon, "kl": kl}
        parts = {"recon": recon.mean(), "kl": kl.mean()}
        if self.free_bits:                                      # §14, as in loss_and_grads
            parts["kl_penalty"] = self._free_bits(mu, logvar, beta)[0]
            return parts["recon"] + parts["kl_penalty"], parts
        return loss.mean(), parts

    # -- using a trained model ----------------------------------------------

    def encode(self, x):
        """Parameters of q(z | x): (mu, logvar), each (B, Z)."""
        h = forward_through(self.encoder, self._as_input(x))   # (B, D) -> (B, H)
        return self.mu_head.forward(h), self.logvar_head.forward(h)

    def reconstruct(self, x):
        """Decode the posterior mean: x -> mu -> mean of p(x | mu), (B, D)."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    def sample(self, n: int):
        """n new examples: the mean of p(x | z) at z ~ N(0, I), (n, D)."""
        n = positive_int("n", n)
        z = self.rng.normal((n, self.latent_dim), dtype=self.dtype)   # (n, Z)
        return self.decode(z)
