"""Your code trains MNIST: a model whose layers, ops and likelihood call the learner's functions.

    python -m minivae.train --exercises DIR            the default dense VAE
    python -m minivae.train --exercises DIR --arch conv  a conv VAE (exercise 9 too)

``with_student_functions(model, workspace)`` grades the exercises the model
needs, refuses (RunError, naming each) unless they pass, then swaps, in place:

    Dense, ReLU, Sigmoid, Tanh    -> their forward/backward call exercises 1, 2
    Conv2d, ConvTranspose2d       -> exercise 9 (im2col, col2im, the conv's passes)
    the likelihood                -> exercise 3 (Bernoulli) or 4 (Gaussian)
    model.ops                     -> KL, reparameterization (5, 6) and Adam's update (8)
    model.loss_and_grads          -> exercise 7 itself, for the default dense model

A layer changes class only (``__class__``): its parameter views, which the
optimizer updates, stay the very same arrays. On a GPU the learner's NumPy
functions get host copies and their results go back to the device. On the
CPU, after every 16th of the learner's Adam steps, an m or v below 1.2e-38
(float32's smallest normal number) becomes 0, as in minivae's own forms:
such numbers leave the update as it was, and would make every later step of
a run on MNIST half as slow again (fast/cpu_kernels.py says why).
Shapes: B batch, D pixels, Z latent size.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module, to_numpy
from ..conv import Conv2d, ConvTranspose2d, _channel_major
from ..fast.forms import SUBNORMAL_EVERY, zero_subnormals
from ..architecture import InputLayer
from ..layers import Chain, Dense, ReLU, Sigmoid, Tanh
from ..ops import Ops
from ..run.rundir import RunError
from ..vae import VAE
from .catalog import BY_NUMBER
from .grading import grade_functions
from .loading import load, workspace_on_path
from .registry import namespace


class StudentDense(Dense):
    def forward(self, x):
        self.x = x                                                   # (B, I), for the backward
        return self.fns.dense_forward(x, self._W, self._b)           # (B, O)

    def backward(self, dy, need_dx=True):
        dx, dW, db = self.fns.dense_backward(dy, self.x, self._W)
        self._dW[...], self._db[...] = dW, db                        # into the optimizer's views
        return dx if need_dx else None


class StudentReLU(ReLU):
    def forward(self, x):
        self.x = x
        return self.fns.relu_forward(x)

    def backward(self, dy):
        return self.fns.relu_backward(dy, self.x)


class StudentSigmoid(Sigmoid):
    def forward(self, x):
        self.y = self.fns.sigmoid_forward(x)
        return self.y

    def backward(self, dy):
        return self.fns.sigmoid_backward(dy, self.y)


class StudentTanh(Tanh):
    def forward(self, x):
        self.y = self.fns.tanh_forward(x)
        return self.y

    def backward(self, dy):
        return self.fns.tanh_backward(dy, self.y)


class StudentConv2d(Conv2d):
    def forward(self, x):
        self._check_input(x)
        self.x = x                                                   # (B, C, H, W)
        return self.fns.conv2d_forward(x, self._W, self._b, self.stride, self.padding)

    def backward(self, dy, need_dx=True):
        dx, dW, db = self.fns.conv2d_backward(dy, self.x, self._W, self.stride, self.padding)
        self._dW[...], self._db[...] = dW, db
        return dx if need_dx else None


class StudentConvTranspose2d(ConvTranspose2d):
    """ConvTranspose2d's two GEMMs (conv.py) around the learner's col2im and im2col."""

    def forward(self, x):
        self._check_input(x)
        B, C, H, W = self.x_shape = x.shape
        self.x2 = _channel_major(x)                                  # (C, H W B)
        cols = self._W.reshape(C, -1).T @ self.x2                    # (O k k, H W B)
        self.y_shape = (B, self.out_channels, self.out_size(H, 0), self.out_size(W, 1))
        y = self.fns.col2im(cols, self.y_shape, self.k, self.stride, self.padding)
        return y + self._b[None, :, None, None]                      # (B, O, Ho, Wo)

    def backward(self, dy, need_dx=True):
        dcols = self.fns.im2col(dy, self.k, self.stride, self.padding)   # (O k k, H W B)
        C = self.in_channels
        self._dW.reshape(C, -1)[...] = self.x2 @ dcols.T             # (C, O k k)
        self._db[...] = _channel_major(dy).sum(axis=1)               # (O,)
        if not need_dx:
            return None
        B, C, H, W = self.x_shape
        dx2 = self._W.reshape(C, -1) @ dcols                         # (C, H W B)
        return dx2.reshape(C, H, W, B).transpose(3, 0, 1, 2)         # (B, C, H, W)


LAYERS = {Dense: (StudentDense, 1), ReLU: (StudentReLU, 2), Sigmoid: (StudentSigmoid, 2),
          Tanh: (StudentTanh, 2), Conv2d: (StudentConv2d, 9),
          ConvTranspose2d: (StudentConvTranspose2d, 9)}
LIKELIHOODS = {"bernoulli": ("bernoulli_nll_and_grad", 3), "gaussian": ("gaussian_nll_and_grad", 4)}


class StudentOps(Ops):
    """minivae's Ops with the learner's KL, reparameterization and Adam's update."""

    name, description = "exercises", "your functions (minivae/exercises/swap.py)"

    def __init__(self, xp, fns):
        super().__init__(xp)
        self.fns = fns

    def gaussian_kl(self, mu, logvar):
        return self.fns.gaussian_kl(mu, logvar)

    def reparameterize(self, mu, logvar, eps):
        return self.fns.reparameterize(mu, logvar, eps)

    def reparameterize_backward(self, dz, eps, std, mu, logvar, c):
        return self.fns.reparameterize_backward(dz, eps, std, mu, logvar, c)

    def adam_update(self, p, g, m, v, **settings):
        if self.xp is not np:
            host = [to_numpy(a) for a in (p, m, v)]                  # in place on host copies
            self.fns.adam_update(host[0], to_numpy(g), host[1], host[2], **settings)
            for a, h in zip((p, m, v), host):
                a[...] = self.xp.asarray(h)
            return
        self.fns.adam_update(p, g, m, v, **settings)
        if settings["step"] % SUBNORMAL_EVERY == 0:    # as minivae's own CPU forms do: a CPU
            for moment in (m, v):                       # is a hundred times slower on these
                zero_subnormals(moment)                 # (fast/forms.py, FastOps)


def on_device(fn, xp):
    """``fn`` for arrays of ``xp``: NumPy copies in, results back on the device (CuPy only)."""
    if xp is np:
        return fn

    def each(value, move):                                           # arrays in tuples, dicts
        if isinstance(value, (tuple, list)):
            return type(value)(each(v, move) for v in value)
        if isinstance(value, dict):
            return {k: each(v, move) for k, v in value.items()}
        return move(value)

    to_host = lambda a: to_numpy(a) if get_array_module(a) is xp else a    # noqa: E731
    to_xp = lambda a: xp.asarray(a) if isinstance(a, np.ndarray) else a    # noqa: E731

    def host(*args, **kwargs):
        return each(fn(*each(args, to_host), **kwargs), to_xp)
    return host


class StudentLikelihood:
    """The model's likelihood, its nll_and_grad the learner's (mean, grad_x stay minivae's)."""

    def __init__(self, inner, fn):
        self.inner, self.fn = inner, fn

    def nll_and_grad(self, out, x, scale=1.0):
        if self.inner.name == "gaussian":
            nll, grad = self.fn(out, x, self.inner.std, 1.0 if scale is None else scale)
        else:
            nll, grad = self.fn(out, x, 1.0 if scale is None else scale)
        return nll, None if scale is None else grad

    def nll(self, out, x):
        return self.nll_and_grad(out, x, None)[0]

    def __getattr__(self, name):         # name, mean, grad_x, output_activation: minivae's
        return getattr(self.inner, name)


def all_layers(model):
    """Every layer object of the model, wrappers (InputLayer, Chain) opened."""
    out, todo = [], list(model.encoder) + [model.mu_head, model.logvar_head] + list(model.decoder)
    while todo:
        layer = todo.pop()
        if isinstance(layer, InputLayer):
            todo.append(layer.layer)
        elif isinstance(layer, Chain):
            todo += layer.layers
        else:
            out.append(layer)
    return out


def is_default_shape(model) -> bool:
    """True for the model exercise 7 writes: D -> H -> Z -> H -> D, ReLU, Bernoulli, [0, 1]."""
    return (type(model) is VAE and model.arch == "dense" and len(model.hidden_dims) == 1
            and model.decoder_hidden_dims == model.hidden_dims and model.activation == "relu"
            and model.decoder_activation in (None, "relu") and model.pixel_range == "unit"
            and model.likelihood.name == "bernoulli" and not getattr(model, "free_bits", 0))


def needed(model, optimizer="adam") -> list:
    """The exercises this model would run: each must pass before training."""
    numbers = {LAYERS[cls][1] for layer in all_layers(model) for cls in type(layer).__mro__
               if cls in LAYERS}                                     # swapped or not
    numbers |= {5, 6} | ({8} if optimizer == "adam" else set())
    if model.likelihood.name in LIKELIHOODS:
        numbers.add(LIKELIHOODS[model.likelihood.name][1])
    if is_default_shape(model):
        numbers.add(7)
    return sorted(numbers)


def with_student_functions(model, workspace, optimizer="adam"):
    """``model`` with the learner's functions in place of minivae's, once those exercises pass."""
    if type(model) is not VAE:
        raise RunError(f"--exercises trains a VAE with one sample of z (--model vae, --k 1); "
                       f"this run builds a {type(model).__name__}")
    numbers = needed(model, optimizer)
    with workspace_on_path(workspace) as path:
        loaded = load(path)
        results = grade_functions(loaded.functions, numbers, files=loaded.files,
                                  problems=loaded.problems)
    failing = [r for r in results if r.status != "passing"]
    if failing:
        names = ", ".join(f"{r.n} ({r.status})" for r in failing)
        raise RunError(f"--exercises {workspace}: this model needs exercises "
                       f"{', '.join(map(str, numbers))}, and these do not pass yet: {names}; "
                       f"see python -m minivae.exercises check {workspace}")
    fns = namespace({name: on_device(fn, model.xp) for name, fn in loaded.functions.items()})
    for layer in all_layers(model):
        plain = next((cls for cls in type(layer).__mro__ if cls in LAYERS), None)   # or a GPU form
        if plain is not None:
            layer.__class__, layer.fns = LAYERS[plain][0], fns
    if model.likelihood.name in LIKELIHOODS:
        model.likelihood = StudentLikelihood(model.likelihood,
                                             getattr(fns, LIKELIHOODS[model.likelihood.name][0]))
    model.ops = model.params.ops = StudentOps(model.xp, fns)     # the optimizer reads params.ops
    if 7 in numbers:
        model.loss_and_grads = student_step(model, fns.vae_loss_and_grads)
    print(f"Training with your functions from {workspace}: "
          + ", ".join(f"{BY_NUMBER[n].short} (ex{n})" for n in numbers))
    return model


def student_step(model, vae_loss_and_grads):
    """model.loss_and_grads as exercise 7's function: eps drawn by the model, grads written back."""
    def loss_and_grads(x, eps=None, input_grad=False, beta=None):
        if input_grad:
            raise ValueError("exercise 7's loss_and_grads gives no dloss/dx (input_grad)")
        x = model._as_input(x)                                       # (B, D)
        if eps is None:
            eps = model.rng.normal((x.shape[0], model.latent_dim), dtype=model.dtype)   # (B, Z)
        beta = model.beta if beta is None else beta                  # a KL warm-up's step weight
        loss, parts, grads = vae_loss_and_grads(dict(model.params), x, eps, beta)
        for name, g in grads.items():
            model.grads[name][...] = g
        xp = model.xp
        return xp.asarray(loss), {k: xp.asarray(v) for k, v in parts.items()}
    return loss_and_grads
