"""minivae's own functions, called the way the exercises' stubs call them: the answers.

Every grader compares a learner's function with the one of the same name
here, and each of these is a thin call into the code a learner reads
(layers.py, likelihoods.py, ops.py, vae.py, optim's ops, conv.py, iwae.py),
never a second copy of its maths. ``make_answers`` builds the set from
minivae's parts; the bug gallery (bugs.py) builds it from mutated parts.

Shapes as in the stubs: B batch, I/O a Dense layer's sizes, D pixels, Z latent,
K importance samples.
"""

from __future__ import annotations

import math

import numpy as np

from ..conv import Conv2d, col2im as conv_col2im, im2col as conv_im2col
from ..iwae import log_prior_ratio as iwae_log_prior_ratio
from ..iwae import logsumexp_softmax as iwae_logsumexp_softmax
from ..layers import Dense, ReLU, Sigmoid, Tanh, sigmoid
from ..likelihoods import Bernoulli, Gaussian
from ..ops import Ops
from ..vae import VAE


class HostRng:
    """A numpy.random.Generator in the shape of minivae's Generator: normal(shape, dtype)."""

    def __init__(self, rng):
        self.rng = rng

    def normal(self, shape, dtype="float64"):
        return np.asarray(self.rng.standard_normal(shape), dtype=dtype)


def relu_forward(x):
    return ReLU(np).forward(x)


def sigmoid_forward(x):
    return sigmoid(x, np)


def tanh_forward(x):
    return Tanh(np).forward(x)


def im2col(x, k, s, p):
    return conv_im2col(x, k, s, p, np)                               # (C k k, Ho Wo B)


def col2im(cols, shape, k, s, p):
    return conv_col2im(cols, shape, k, s, p, np)                     # (B, C, H, W)


def logsumexp_softmax(a):
    return iwae_logsumexp_softmax(a, np)                             # (B,), (K, B)


def iwae_weight_grad(wn, log_w, B):
    """dloss/dlog w_ib = -wn_ib / B, for loss = mean_b (log K - log sum_i w_ib) (math.md §12)."""
    return -wn / B


def make_answers(ops=None, bernoulli=Bernoulli, vae=VAE, weight_grad=iwae_weight_grad) -> dict:
    """{function name: minivae's answer}; the arguments swap in mutated parts (bugs.py)."""
    ops = ops if ops is not None else Ops(np)
    built = {}   # one model or layer per size, reused: the graders call these thousands of times

    def once(key, make):
        if key not in built:
            built[key] = make()
        return built[key]

    def dense_forward(x, W, b):
        layer = Dense(*W.shape, dtype=x.dtype)
        layer.W[...], layer.b[...] = W, b
        return layer.forward(x)                                      # (B, I) -> (B, O)

    def dense_backward(dy, x, W):
        layer = Dense(*W.shape, dtype=x.dtype)
        layer.W[...] = W
        layer.forward(x)
        dx = layer.backward(dy)                                      # (B, O) -> (B, I)
        return dx, layer.dW.copy(), layer.db.copy()                  # (I, O), (O,)

    def relu_backward(dy, x):
        layer = ReLU(np)
        layer.forward(x)                             # caches where x > 0
        return layer.backward(dy)

    def sigmoid_backward(dy, y):
        layer = Sigmoid(np)
        layer.y = y                                  # what Sigmoid.forward caches
        return layer.backward(dy)

    def tanh_backward(dy, y):
        layer = Tanh(np)
        layer.y = y
        return layer.backward(dy)

    def bernoulli_nll_and_grad(logits, x, scale=1.0):
        return bernoulli(np).nll_and_grad(logits, x, scale)

    def gaussian_nll_and_grad(mean, x, std=1.0, scale=1.0):
        return Gaussian(np, std).nll_and_grad(mean, x, scale)

    def gaussian_kl_backward(mu, logvar):
        zero = np.zeros_like(mu)                     # dz = 0: only the KL's part, with c = 1
        return ops.reparameterize_backward(zero, zero, zero, mu, logvar, 1.0)

    def vae_loss_and_grads(params, x, eps=None, beta=1.0, rng=None):
        (D, H), Z = params["enc0.W"].shape, params["mu.W"].shape[1]

        def build():
            model = vae(input_dim=D, hidden_dims=(H,), latent_dim=Z, dtype=x.dtype, fast=False)
            model.ops, model.likelihood = ops, bernoulli(np)
            return model
        model = once(("vae", D, H, Z, x.dtype), build)
        model.beta = float(beta)
        for name, value in params.items():
            model.params[name][...] = value
        model.rng = HostRng(rng if rng is not None else np.random.default_rng())
        loss, parts = model.loss_and_grads(x, eps)
        return loss, parts, {name: g.copy() for name, g in model.grads.items()}

    def adam_update(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
        ops.adam_update(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                        weight_decay=weight_decay)

    def conv_layer(x, W, stride, padding):
        O, C, k, _ = W.shape
        layer = once(("conv", W.shape, stride, padding, x.dtype),
                     lambda: Conv2d(C, O, k, stride, padding, dtype=x.dtype))
        layer.W[...] = W
        return layer

    def conv2d_forward(x, W, b, stride, padding):
        layer = conv_layer(x, W, stride, padding)
        layer.b[...] = b
        return layer.forward(x)                                      # (B, O, Ho, Wo)

    def conv2d_backward(dy, x, W, stride, padding):
        layer = conv_layer(x, W, stride, padding)
        layer.forward(x)
        dx = layer.backward(dy)                                      # (B, C, H, W)
        return dx, layer.dW.copy(), layer.db.copy()

    def log_weights(nll, z, eps, logvar):
        return -nll + iwae_log_prior_ratio(z, eps, logvar)           # (K, B), §9

    def iwae_nll(nll, z, eps, logvar):
        lse, _ = iwae_logsumexp_softmax(log_weights(nll, z, eps, logvar), np)
        return math.log(nll.shape[0]) - lse                          # (B,)

    def iwae_loss_and_grads(nll, z, eps, logvar):
        K, B = nll.shape
        log_w = log_weights(nll, z, eps, logvar)                     # (K, B)
        lse, wn = iwae_logsumexp_softmax(log_w, np)                  # (B,), (K, B)
        loss = (math.log(K) - lse).mean()
        dlog_w = weight_grad(wn, log_w, B)                           # (K, B)
        # log w = -nll + 1/2 sum (eps^2 + logvar - z^2), as IWAE.loss_and_grads (§12)
        dz = -dlog_w[..., None] * z                                  # (K, B, Z)
        dlogvar = 0.5 * dlog_w.sum(axis=0)[:, None] * np.ones_like(logvar)   # (B, Z)
        return loss, -dlog_w, dz, dlogvar

    return {
        "dense_forward": dense_forward, "dense_backward": dense_backward,
        "relu_forward": relu_forward, "relu_backward": relu_backward,
        "sigmoid_forward": sigmoid_forward, "sigmoid_backward": sigmoid_backward,
        "tanh_forward": tanh_forward, "tanh_backward": tanh_backward,
        "bernoulli_nll_and_grad": bernoulli_nll_and_grad,
        "gaussian_nll_and_grad": gaussian_nll_and_grad,
        "gaussian_kl": ops.gaussian_kl, "gaussian_kl_backward": gaussian_kl_backward,
        "reparameterize": ops.reparameterize,
        "reparameterize_backward": ops.reparameterize_backward,
        "vae_loss_and_grads": vae_loss_and_grads, "adam_update": adam_update,
        "im2col": im2col, "col2im": col2im,
        "conv2d_forward": conv2d_forward, "conv2d_backward": conv2d_backward,
        "logsumexp_softmax": logsumexp_softmax,
        "log_prior_ratio": iwae_log_prior_ratio, "iwae_nll": iwae_nll,
        "iwae_loss_and_grads": iwae_loss_and_grads,
    }
