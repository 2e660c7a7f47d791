"""The decoder's distribution p(x | z): one small object per choice.

The decoder maps z to an output ``out`` of shape (B, D); the likelihood says
what ``out`` means and scores an image x against it. Each object holds, together:

    nll_and_grad(out, x, scale)   -log p(x | out) per example, summed over
                         pixels (B,), and scale * d nll / d out (B, D): the one
                         place each likelihood's value and gradient are computed
    nll(out, x)          the value alone (B,), from nll_and_grad
    mean(out)            the mean of p(x | out): what a reconstruction shows (B, D)
    grad_x(out, x)       d nll / d x, holding out fixed (for d loss / d x)  (B, D)
    output_activation    the layer the decoder ends with (None: raw logits)

    Bernoulli   out = logits l; p = sigmoid(l) per pixel          docs/math.md §5
    Gaussian    out = mean m in (0, 1); N(m, std^2 I), fixed std   docs/math.md §6
    MSE         out = mean m in (0, 1); the summed squared error   docs/math.md §6

Shapes: B batch, D pixels.
"""

from __future__ import annotations

import math

import numpy as np

from .layers import sigmoid


class Likelihood:
    """What every likelihood shares (nll, from nll_and_grad); subclasses define
    nll_and_grad, mean and grad_x."""

    name = ""
    output_activation = None

    def __init__(self, xp=np):
        self.xp = xp

    def nll_and_grad(self, out, x, scale=1.0):
        """(nll (B,), scale * d nll / d out (B, D)); scale=None: (nll, None), no gradient.

        scale is 1/B when the loss is a batch mean.
        """
        raise NotImplementedError

    def nll(self, out, x):
        """-log p(x | out) per example, (B, D) -> (B,), nats."""
        return self.nll_and_grad(out, x, None)[0]


class Bernoulli(Likelihood):
    """Each pixel is "ink" with probability sigmoid(l): -log p = sum_d softplus(l_d) - x_d l_d.

    Computed from the logits, never as log(sigmoid(l)) with clipping: finite
    for any finite logit (docs/math.md §5). For x in (0, 1) this is the
    binary cross-entropy of PyTorch's VAE example.
    """

    name = "bernoulli"

    def nll_and_grad(self, logits, x, scale=1.0):
        """sum_d [softplus(l_d) - x_d l_d] (B,) and scale * (sigmoid(l) - x) (B, D)."""
        xp = self.xp
        # Both from t = tanh(l / 2) (docs/math.md §5): sigmoid(l) = (1 + t) / 2, and
        # softplus(l) = max(l, 0) - log sigmoid(|l|) = max(l, 0) - log((1 + |t|) / 2),
        # whose log sees a number in [1/2, 1], never 0; e^l is never formed.
        t = xp.tanh(0.5 * logits)                                   # (B, D)
        softplus = xp.maximum(logits, 0) - xp.log(0.5 + 0.5 * abs(t))   # (B, D)
        nll = (softplus - x * logits).sum(axis=1)                   # (B, D) -> (B,)
        if scale is None:
            return nll, None
        return nll, scale * (0.5 + 0.5 * t - x)                     # (B, D)  scale (sigmoid(l) - x)

    def mean(self, logits):
        """Pixel probabilities sigmoid(l), (B, D)."""
        return sigmoid(logits, self.xp)

    def grad_x(self, logits, x):
        """d nll / d x = -l, (B, D)."""
        return -logits


class Gaussian(Likelihood):
    """p(x | m) = N(x; m, std^2 I): -log p = sum_d (x_d - m_d)^2 / (2 std^2) + (D/2) log(2 pi std^2).

    The constant keeps the value a true negative log-density in nats; it
    changes no gradient. A smaller std weighs reconstruction more against
    the KL term (docs/math.md §6).
    """

    name = "gaussian"
    output_activation = "sigmoid"

    def __init__(self, xp=np, std: float = 1.0):
        super().__init__(xp)
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"gaussian_std must be a positive number, got {std!r}")
        if float(std) ** 2 == 0.0:       # 1 / std^2 would be infinite, log(std^2) undefined
            raise ValueError(f"gaussian_std {std!r} is too small: its square rounds to 0")
        self.std = float(std)

    def nll_and_grad(self, mean, x, scale=1.0):
        """sum_d (x_d - m_d)^2 / (2 std^2) + const (B,) and scale * (m - x) / std^2 (B, D)."""
        diff = mean - x                                                  # (B, D)
        sse = (diff * diff).sum(axis=1)                                  # (B, D) -> (B,)
        D = mean.shape[1]
        nll = sse / (2 * self.std**2) + 0.5 * D * math.log(2 * math.pi * self.std**2)
        if scale is None:
            return nll, None
        return nll, (scale / self.std**2) * diff                         # (B, D)

    def mean(self, mean):
        return mean

    def grad_x(self, mean, x):
        """d nll / d x = (x - mean) / std^2, (B, D)."""
        return (x - mean) / self.std**2


class MSE(Likelihood):
    """The summed squared error sum_d (x_d - m_d)^2, as the labs print it.

    It is the Gaussian NLL with std^2 = 1/2 less its constant (D/2) log(pi):
    the same gradients, and the printed number is the SSE itself (docs/math.md §6).
    """

    name = "mse"
    output_activation = "sigmoid"

    def nll_and_grad(self, mean, x, scale=1.0):
        """sum_d (x_d - m_d)^2 (B,) and scale * 2 (m - x) (B, D)."""
        diff = mean - x                                                  # (B, D)
        sse = (diff * diff).sum(axis=1)                                  # (B, D) -> (B,)
        if scale is None:
            return sse, None
        return sse, (2 * scale) * diff                                   # (B, D)

    def mean(self, mean):
        return mean

    def grad_x(self, mean, x):
        """d SSE / d x = 2 (x - mean), (B, D)."""
        return 2 * (x - mean)


LIKELIHOODS = {cls.name: cls for cls in (Bernoulli, Gaussian, MSE)}


# -- pixels normalised to [-1, 1] -------------------------------------------------
# Training on pixels normalised to [-1, 1], as some write-ups do, with a tanh output.
#
# Every data loader in minivae gives pixels x in [0, 1], and every figure and
# metric reads them so. A model built with ``pixel_range="symmetric"`` keeps that
# contract at its edges and works in [-1, 1] inside:
#
#     the encoder reads    x' = 2 x - 1                 (architecture.InputLayer)
#     the decoder ends in  tanh, out in (-1, 1)
#     the loss compares    out with x' (MSE: sum_d (out_d - x'_d)^2, the lab's number)
#     mean(out)            (out + 1) / 2, back in [0, 1] for figures and metrics
#
# So the loss is the write-up's squared error on [-1, 1] data, and
# ``decode``/``reconstruct`` still return images in [0, 1].

RANGES = ("unit", "symmetric")   # [0, 1] and [-1, 1]


class SymmetricRange(Likelihood):
    """``inner`` (MSE or Gaussian) scored on x' = 2x - 1, with a tanh output."""

    output_activation = "tanh"

    def __init__(self, inner: Likelihood):
        if inner.name not in ("mse", "gaussian"):
            raise ValueError(f"pixel_range 'symmetric' ([-1, 1]) needs the 'mse' or 'gaussian' "
                             f"likelihood (a tanh output is no Bernoulli logit); got {inner.name!r}")
        super().__init__(inner.xp)
        self.inner, self.name = inner, inner.name

    def nll_and_grad(self, out, x, scale=1.0):
        """inner's nll and gradient at x' = 2x - 1: d/d out is unchanged by the shift."""
        return self.inner.nll_and_grad(out, 2 * x - 1, scale)            # (B,), (B, D)

    def mean(self, out):
        """(out + 1) / 2: the reconstruction on the loaders' [0, 1] scale, (B, D)."""
        return 0.5 * (self.inner.mean(out) + 1)

    def grad_x(self, out, x):
        """d nll / d x = 2 d nll / d x' (chain rule through x' = 2x - 1), (B, D)."""
        return 2 * self.inner.grad_x(out, 2 * x - 1)
