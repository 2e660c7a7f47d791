"""Training on pixels normalised to [-1, 1], as some write-ups do, with a tanh output.

Every data loader in minivae gives pixels x in [0, 1], and every figure and
metric reads them so. A model built with ``pixel_range="symmetric"`` keeps that
contract at its edges and works in [-1, 1] inside:

    the encoder reads    x' = 2 x - 1                 (layers.InputLayer)
    the decoder ends in  tanh, out in (-1, 1)
    the loss compares    out with x' (MSE: sum_d (out_d - x'_d)^2, the lab's number)
    mean(out)            (out + 1) / 2, back in [0, 1] for figures and metrics

So the loss is the write-up's squared error on [-1, 1] data, and
``decode``/``reconstruct`` still return images in [0, 1].
"""

from __future__ import annotations

from .likelihoods import Likelihood

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
