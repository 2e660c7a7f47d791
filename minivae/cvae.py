"""The conditional VAE: q(z | x, y) and p(x | z, y), for a label y of Y classes.

Sohn, Lee & Yan (2015), "Learning Structured Output Representation using Deep
Conditional Generative Models"; Kingma, Rezende, Mohamed & Welling (2014),
"Semi-Supervised Learning with Deep Generative Models" (their M2 with y observed).
The label, one-hot, is joined to the encoder's input and to the decoder's:

    [x, y] ──encoder──> h ──┬─ mu head ─────> mu      (B, Z)
    (B, D + Y)      (B, H)  └─ logvar head ─> logvar  (B, Z)
    z = mu + exp(logvar / 2) * eps                    (B, Z)
    [z, y] ──decoder──> out  (B, D)
    (B, Z + Y)

    loss = mean over the batch of [ -log p(x | z, y) + beta * KL(q(z|x,y) || N(0, I)) ]

the negative conditional ELBO, a bound on -log p(x | y) (docs/math.md §13).
Everything else is the VAE's: the prior, the KL, the likelihoods, the
reparameterization; only the first layer of the encoder and of the decoder
have Y more inputs. The decoder then need not put the class into z, so z
keeps what the label does not say (the style: slant, width, thickness), and
``decode(z, y)`` draws the digit y in the style z.

With arch="conv" the label joins the image as Y constant planes, one per
class, beside its C channels: the first Conv2d reads C + Y channels.

Shapes: B batch, D pixels, Y classes (the one-hot label's width), H hidden width, Z latent size, and for
conv models C channels, H and W the image's height and width.
"""

from __future__ import annotations

import numpy as np

from .architecture import positive_int
from .architecture import Unflatten
from .layers import forward_through
from .vae import VAE


class CVAE(VAE):
    """A VAE conditioned on a class label (Sohn et al. 2015; Kingma et al. 2014).

    Takes the VAE's arguments, and:
    num_classes : Y; labels are integers 0..Y-1.

    ``loss_and_grads(x, y)``, ``loss(x, y)``, ``encode(x, y)``,
    ``decode(z, y)``, ``reconstruct(x, y)``, ``sample(n, y)`` take the labels
    y, (B,) integers, where the VAE's take x or z alone.
    """

    kind = "cvae"

    def __init__(self, *args, num_classes=10, **kwargs):
        self.num_classes = positive_int("num_classes", num_classes)
        super().__init__(*args, **kwargs)

    def config(self) -> dict:
        return {**super().config(), "num_classes": self.num_classes}

    def _layer_specs(self):
        """The VAE's layers, the first of the encoder and of the decoder with Y more inputs.

        dense: enc0 Dense (D + Y, H1), dec0 Dense (Z + Y, G1).
        conv:  conv0 Conv2d (C + Y, c1, k): the label as Y planes; dec0 Dense (Z + Y, G1).
        """
        encoder, heads, decoder = super()._layer_specs()
        Y = self.num_classes
        for part in (encoder, decoder):
            first = part[0]                     # Dense (in, out), or Conv2d (in, out, k)
            part[0] = first._replace(args=(first.args[0] + Y, *first.args[1:]))
        return encoder, heads, decoder

    def _build(self):
        super()._build()
        if self.arch == "conv":   # the encoder's rows hold C + Y channels: image, then label planes
            C, H, W = self.image_shape
            self.encoder[0].unflatten = Unflatten((C + self.num_classes, H, W), self.xp,
                                                  channels_last=True)

    # -- the label ------------------------------------------------------------

    def one_hot(self, y, B=None):
        """Labels y (B,) integers in 0..Y-1 -> one-hot rows (B, Y) of the model's dtype.

        Labels on the host are checked here; labels already on the GPU are
        used as they are (checking them would make every step wait for the GPU:
        the train command checks its data set once, when it loads it).
        """
        on_host = isinstance(y, (np.ndarray, np.generic, list, tuple, int))
        y = np.asarray(y) if on_host else y
        if y.ndim != 1 or y.dtype.kind not in "iu" or (B is not None and y.shape[0] != B):
            want = "(B,)" if B is None else f"(B,) = ({B},)"
            raise ValueError(f"y must be {want} integer class labels, got shape "
                             f"{tuple(y.shape)} of {y.dtype}")
        if on_host and y.size and (y.min() < 0 or y.max() >= self.num_classes):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise ValueError(f"y holds the label {bad}; this model has {self.num_classes} "
                             f"classes, 0 to {self.num_classes - 1}")
        return self.xp.eye(self.num_classes, dtype=self.dtype)[self.xp.asarray(y)]   # (B, Y)

    def join_label(self, x, y1h):
        """The encoder's input: rows x (B, D) with their one-hot labels y1h (B, Y).

        dense: side by side, (B, D + Y). conv: Y constant planes after the C
        channels of each pixel, in the loaders' channels-last rows, (B, H W (C + Y)).
        """
        if self.arch == "dense":
            return self.xp.concatenate([x, y1h], axis=1)        # (B, D + Y)
        B, (C, H, W), Y = x.shape[0], self.image_shape, self.num_classes
        planes = self.xp.broadcast_to(y1h[:, None, :], (B, H * W, Y))   # (B, H W, Y)
        return self.xp.concatenate([x.reshape(B, H * W, C), planes], axis=2).reshape(B, -1)

    def _image_part(self, dxy):
        """dloss/d[x, y] -> dloss/dx: the columns of x, (B, D); the inverse of join_label."""
        if self.arch == "dense":
            return dxy[:, :self.input_dim]                      # (B, D + Y) -> (B, D)
        B, (C, H, W) = dxy.shape[0], self.image_shape
        return dxy.reshape(B, H * W, -1)[:, :, :C].reshape(B, -1)   # (B, H W, C + Y) -> (B, D)

    # -- one training step --------------------------------------------------

    def loss_and_grads(self, x, y, eps=None, input_grad=False, beta=None):
        """Loss (0-d, nats per example), its parts, and every gradient, for images x and labels y.

        x: (B, D) in [0, 1]; y: (B,) integers 0..Y-1; eps: (B, Z) or None to draw it.
        Afterwards ``self.grads`` holds dloss/dparams; with ``input_grad=True``,
        ``self.input_grad`` holds dloss/dx, (B, D). beta: this step's KL weight.
        """
        x = self._as_input(x)                                   # (B, D)
        B, Z = x.shape[0], self.latent_dim
        y1h = self.one_hot(y, B)                                # (B,) -> (B, Y)
        eps = self._as_input(eps, "eps", Z) if eps is not None else \
            self.rng.normal((B, Z), dtype=self.dtype)           # (B, Z)

        # Forward (§13): the VAE's, with y joined to the encoder's and the decoder's input.
        mu, logvar, z, std, out = self._forward(x, y1h, eps)    # (B, Z) x4, (B, D)

        # Loss (§4-6, §13): -log p(x | z, y) + beta KL(q(z | x, y) || N(0, I)), batch mean.
        beta = self.beta if beta is None else beta
        recon, dout = self.likelihood.nll_and_grad(out, x, 1.0 / B)   # (B,), (B, D)
        kl = self.ops.gaussian_kl(mu, logvar)                   # (B, Z) -> (B,)
        loss = (recon + beta * kl).mean()                       # (B,) -> ()
        parts, c = {"recon": recon.mean(), "kl": kl.mean()}, beta / B   # c: dloss/dKL_b
        if self.free_bits:                                      # §14, as the VAE's
            parts["kl_penalty"], c = self._free_bits(mu, logvar, beta)   # (), (Z,)
            loss = parts["recon"] + parts["kl_penalty"]         # ()

        # Backward (§13): the decoder's input is [z, y]; y is data, not a parameter, so
        # of dloss/d[z, y] (B, Z + Y) only the first Z columns, dloss/dz, go on.
        for layer in reversed(self.decoder):                    # (B, D) -> (B, Z + Y)
            dout = layer.backward(dout)
        dz = dout[:, :Z]                                        # (B, Z + Y) -> (B, Z)
        dmu, dlogvar = self.ops.reparameterize_backward(         # through z = mu + std * eps,
            dz, eps, std, mu, logvar, c)                        # plus c dKL: (B, Z) each
        dxy = self._encoder_backward(dmu, dlogvar, input_grad)  # (B, D + Y) or None;
        # a conv model's rows hold C + Y channels per pixel: (B, H W (C + Y))
        if input_grad:   # dloss/dx: x's columns of the encoder's input, plus recon's direct term
            self.input_grad = self._image_part(dxy) + self.likelihood.grad_x(out, x) / B
        return loss, parts

    def _forward(self, x, y1h, eps):
        """x (B, D), y1h (B, Y), eps (B, Z) -> mu, logvar, z, std (B, Z), decoder output (B, D)."""
        h = self.join_label(x, y1h)                             # (B, D + Y)
        for layer in self.encoder:                              # (B, D + Y) -> (B, H)
            h = layer.forward(h)
        mu = self.mu_head.forward(h)                            # (B, H) -> (B, Z)
        logvar = self.logvar_head.forward(h)                    # (B, H) -> (B, Z), log sigma^2
        z, std = self.ops.reparameterize(mu, logvar, eps)       # (B, Z): z = mu + std * eps, §3
        out = self.xp.concatenate([z, y1h], axis=1)             # (B, Z + Y)
        for layer in self.decoder:                              # (B, Z + Y) -> (B, D)
            out = layer.forward(out)
        return mu, logvar, z, std, out

    def loss(self, x, y, eps=None, reduce=True, beta=None):
        """The numbers of loss_and_grads without gradients; reduce=False: per example (B,)."""
        x = self._as_input(x)                                   # (B, D)
        eps = self._as_input(eps, "eps", self.latent_dim) if eps is not None else \
            self.rng.normal((x.shape[0], self.latent_dim), dtype=self.dtype)  # (B, Z)
        mu, logvar, _, _, out = self._forward(x, self.one_hot(y, x.shape[0]), eps)
        return self._loss_terms(mu, logvar, out, x, reduce, beta)

    # -- using a trained model ----------------------------------------------

    def encode(self, x, y):
        """Parameters of q(z | x, y): (mu, logvar), each (B, Z)."""
        x = self._as_input(x)                                   # (B, D)
        h = forward_through(self.encoder, self.join_label(x, self.one_hot(y, x.shape[0])))
        return self.mu_head.forward(h), self.logvar_head.forward(h)

    def decode(self, z, y):
        """Mean of p(x | z, y): (B, Z) codes and (B,) labels -> (B, D)."""
        z = self._as_input(z, "z", self.latent_dim)             # (B, Z)
        zy = self.xp.concatenate([z, self.one_hot(y, z.shape[0])], axis=1)   # (B, Z + Y)
        return self.likelihood.mean(forward_through(self.decoder, zy))       # (B, D)

    def reconstruct(self, x, y):
        """Decode the posterior mean: (x, y) -> mu -> mean of p(x | mu, y), (B, D)."""
        mu, _ = self.encode(x, y)
        return self.decode(mu, y)

    def sample(self, n: int, y=None):
        """n new examples of class y (an int, or (n,) labels; default: 0, 1, ..., Y-1, 0, ...).

        z ~ N(0, I), decoded with the label: (n, D).
        """
        n = positive_int("n", n)
        if y is None:
            y = np.arange(n) % self.num_classes
        elif isinstance(y, (int, np.integer)):
            y = np.full(n, int(y))
        z = self.rng.normal((n, self.latent_dim), dtype=self.dtype)   # (n, Z)
        return self.decode(z, y)

    def log_px_given_z(self, z, x, y):
        """log p(x | z, y) of each row: (B, Z), (B, D), (B,) -> (B,), in nats."""
        z = self._as_input(z, "z", self.latent_dim)
        zy = self.xp.concatenate([z, self.one_hot(y, z.shape[0])], axis=1)   # (B, Z + Y)
        return -self.likelihood.nll(forward_through(self.decoder, zy), self._as_input(x))
