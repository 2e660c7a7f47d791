"""The course: eleven exercises in the order a VAE is built, each tied to its docs/math.md section.

    n   file                    the learner writes                       minivae's answer
    1   ex01_dense.py           Dense forward and backward               layers.Dense
    2   ex02_activations.py     ReLU, sigmoid, tanh: forward, backward   layers.ReLU, Sigmoid, Tanh
    3   ex03_bernoulli.py       the Bernoulli NLL from logits, gradient  likelihoods.Bernoulli
    4   ex04_gaussian.py        the Gaussian NLL and its gradient        likelihoods.Gaussian
    5   ex05_kl.py              the closed-form KL and its gradient      ops.Ops.gaussian_kl
    6   ex06_reparameterize.py  z = mu + std eps and its backward        ops.Ops.reparameterize
    7   ex07_vae.py             one whole loss_and_grads from 1-6        vae.VAE.loss_and_grads
    8   ex08_adam.py            Adam's update with bias correction       ops.Ops.adam_update
    9   ex09_conv.py            Conv2d by im2col, backward by col2im     conv.im2col, col2im, Conv2d
    10  ex10_logsumexp.py       log-sum-exp, importance-weighted NLL     iwae.logsumexp_softmax
    11  ex11_iwae_grad.py       the IWAE bound's gradient                iwae.IWAE.loss_and_grads

Each exercise's stub (stubs/) holds the signatures of answers.py's functions
and the docstrings of the real ones; ``REAL`` names, for every function, the
object of minivae whose docstring the stub carries where its first line fits the
stub's signature (tests/exercises checks it).
"""

from __future__ import annotations

from typing import NamedTuple


class Exercise(NamedTuple):
    n: int
    file: str            # the stub's name in a workspace
    title: str
    functions: tuple     # what the learner writes, in the stub's order
    section: str         # where docs/math.md derives it
    short: str           # a word or two, for one-line lists


EXERCISES = (
    Exercise(1, "ex01_dense.py", "Dense forward and backward",
             ("dense_forward", "dense_backward"), "§2", "Dense"),
    Exercise(2, "ex02_activations.py", "ReLU, sigmoid and tanh, forward and backward",
             ("relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
              "tanh_forward", "tanh_backward"), "§2", "activations"),
    Exercise(3, "ex03_bernoulli.py", "The Bernoulli NLL from logits and its gradient",
             ("bernoulli_nll_and_grad",), "§5", "Bernoulli NLL"),
    Exercise(4, "ex04_gaussian.py", "The Gaussian NLL and its gradient",
             ("gaussian_nll_and_grad",), "§6", "Gaussian NLL"),
    Exercise(5, "ex05_kl.py", "The closed-form KL and its gradient",
             ("gaussian_kl", "gaussian_kl_backward"), "§4", "KL"),
    Exercise(6, "ex06_reparameterize.py", "The reparameterization and its backward",
             ("reparameterize", "reparameterize_backward"), "§3", "reparameterization"),
    Exercise(7, "ex07_vae.py", "One whole VAE loss_and_grads from your parts",
             ("vae_loss_and_grads",), "§1, §8", "loss_and_grads"),
    Exercise(8, "ex08_adam.py", "Adam's update with bias correction",
             ("adam_update",), "§7", "Adam"),
    Exercise(9, "ex09_conv.py", "Conv2d by im2col, its backward by col2im",
             ("im2col", "col2im", "conv2d_forward", "conv2d_backward"), "§11", "Conv2d"),
    Exercise(10, "ex10_logsumexp.py", "Log-sum-exp and the importance-weighted NLL",
             ("logsumexp_softmax", "log_prior_ratio", "iwae_nll"), "§9", "log-sum-exp"),
    Exercise(11, "ex11_iwae_grad.py", "The IWAE bound's gradient through the normalised weights",
             ("iwae_loss_and_grads",), "§12", "IWAE gradient"),
)

BY_NUMBER = {e.n: e for e in EXERCISES}
EXERCISE_OF = {name: e.n for e in EXERCISES for name in e.functions}   # function -> exercise

# function -> the object of minivae (under minivae.) whose docstring its stub opens with, where
# that line names no parameter the stub lacks
REAL = {
    "dense_forward": "layers.Dense", "dense_backward": "layers.Dense",
    "relu_forward": "layers.ReLU", "relu_backward": "layers.ReLU",
    "sigmoid_forward": "layers.sigmoid", "sigmoid_backward": "layers.Sigmoid",
    "tanh_forward": "layers.Tanh", "tanh_backward": "layers.Tanh",
    "bernoulli_nll_and_grad": "likelihoods.Bernoulli.nll_and_grad",
    "gaussian_nll_and_grad": "likelihoods.Gaussian.nll_and_grad",
    "gaussian_kl": "ops.Ops.gaussian_kl", "gaussian_kl_backward": "ops.Ops.reparameterize_backward",
    "reparameterize": "ops.Ops.reparameterize",
    "reparameterize_backward": "ops.Ops.reparameterize_backward",
    "vae_loss_and_grads": "vae.VAE.loss_and_grads",
    "adam_update": "ops.Ops.adam_update",
    "im2col": "conv.im2col", "col2im": "conv.col2im",
    "conv2d_forward": "conv.Conv2d", "conv2d_backward": "conv.Conv2d",
    "logsumexp_softmax": "iwae.logsumexp_softmax", "log_prior_ratio": "iwae.log_prior_ratio",
    "iwae_nll": "iwae.IWAE.loss", "iwae_loss_and_grads": "iwae.IWAE.loss_and_grads",
}


def module_name(exercise: Exercise) -> str:
    """The name a workspace file is imported under: "ex01_dense"."""
    return exercise.file[:-3]
