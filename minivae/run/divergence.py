"""Telling a diverging run from a training one, and what to tell the user.

A run diverges when a step is too large for the loss surface: the loss jumps,
the next gradient is larger still, and within a few steps the loss is NaN or
infinite. In float64, or with bounded activations (tanh), it can instead stay
finite and simply explode: 1e10 to 1e17 nats per image, with every step
"succeeding". Both are caught between steps, and the run stops before its
parameters are saved, keeping the last good checkpoint.
"""

from __future__ import annotations

import math

import numpy as np

# A loss above this many nats per pixel (per image: times D) means the run has diverged,
# even if it is still finite. A sane model's loss is near D * log 2 = 0.69 nats per pixel
# at the start and falls from there; a diverging one reaches 1e10 and more.
MAX_NATS_PER_PIXEL = 1e3


class NonFiniteLoss(Exception):
    """The loss or the parameters became NaN or infinite, or the loss exploded."""


def loss_limit(model) -> float:
    """The loss per example above which a run has diverged: MAX_NATS_PER_PIXEL * D.

    A Gaussian likelihood with a small std s can legitimately start higher: its
    reconstruction term alone reaches 1 / (2 s^2) per pixel, so its limit is at
    least ten times that.
    """
    per_pixel = MAX_NATS_PER_PIXEL
    if model.likelihood.name == "gaussian":   # model.likelihood is the object, not its name
        per_pixel = max(per_pixel, gaussian_per_pixel(model.gaussian_std))
    return per_pixel * model.input_dim


def gaussian_per_pixel(std: float) -> float:
    """Ten times the largest reconstruction loss of one pixel in [0, 1] (or [-1, 1]):
    (x - m)^2 / (2 s^2) reaches 1 / (2 s^2), and 4 / (2 s^2) on [-1, 1]."""
    return 10 / (2 * std ** 2) if std ** 2 > 0 else math.inf


def check_gaussian_std(std: float, dtype: str, input_dim: int) -> None:
    """Refuse a Gaussian std too small for training in ``dtype``.

    The loss of an image reaches D / (2 s^2) nats, the limit above ten times
    that, and the gradients grow like the loss; Adam squares them (its v), so
    the limit's square must still be a number in ``dtype``. Past that the
    first steps give inf or NaN and the run is reported as diverged. For
    s = 1e-200 even s^2 is 0 in float64, where log(2 pi s^2) has no value.
    """
    largest = math.sqrt(float(np.finfo(dtype).max))     # the largest loss whose square fits
    if gaussian_per_pixel(std) * input_dim <= largest:
        return
    smallest = math.sqrt(10 / 2 * input_dim / largest)  # the std whose limit is `largest`
    loss = input_dim / (2 * std ** 2) if std ** 2 > 0 else math.inf
    other = " (or --dtype float64)" if np.dtype(dtype) == np.float32 else ""
    # 1.2x, then 2 digits: rounding moves a number by under 5%, so the value shown passes.
    raise ValueError(f"--gaussian-std {std:g} is too small for {dtype}: the loss reaches "
                     f"D / (2 s^2) = {loss:.2g} nats per image (D = {input_dim} pixels), and "
                     f"squared gradients of that size (Adam's v) overflow {dtype}; use "
                     f"--gaussian-std {1.2 * smallest:.2g} or more{other}")


def check_losses(values, epoch: int, n_steps: int, limit: float) -> None:
    """Raise NonFiniteLoss at the first step whose loss is NaN, infinite or above ``limit``.

    values: (steps, 3) per-step loss, recon, kl.
    """
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        raise NonFiniteLoss(f"the loss became {values[bad[0], 0]} at epoch {epoch}, step "
                            f"{bad[0] + 1} of {n_steps}")
    big = np.flatnonzero(np.abs(values[:, 0]) > limit)
    if big.size:
        raise NonFiniteLoss(f"the loss exploded to {values[big[0], 0]:.3g} nats per image at "
                            f"epoch {epoch}, step {big[0] + 1} of {n_steps} (more than "
                            f"{limit:.3g}: the run diverged)")


def advice(resumed: bool) -> str:
    """What to try after a diverged run: --lr cannot change on --resume."""
    if resumed:
        return ("A resumed run keeps its --lr: start a new run (another --out) with a "
                "smaller --lr.")
    return "A smaller --lr usually helps."
