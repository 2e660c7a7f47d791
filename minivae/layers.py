"""Layers, each with a forward pass and, right beside it, its backward pass.

Shapes, one alphabet for the whole package:
    B  batch size        D  input size (784 for MNIST)
    H  a hidden width    Z  latent size
    K  samples of z      Y  classes (a CVAE's one-hot label)
    I, O  a Dense layer's input and output sizes
    C, H, W  a conv layer's channels, image height and width (conv.py)

Every layer follows one protocol (as in numpy-ml and micrograd):

    y  = layer.forward(x)    # caches what backward needs
    dx = layer.backward(dy)  # dy = dLoss/dy  ->  dx = dLoss/dx;
                             # writes dLoss/dW into layer.dW (and db)

A layer with parameters receives them when it is built: views of the
model's flat parameter and gradient vectors (minivae/params.py). Backward
writes into them (``out=``); rebinding ``self.dW = ...`` raises an error
that says so.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .backend import Generator
from .params import ParamStore, view_attribute


def sigmoid(x, xp=np):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2: the same function, never overflowing."""
    return 0.5 + 0.5 * xp.tanh(0.5 * x)


def forward_through(layers, x):
    """x through each layer in turn, y = f_n(... f_1(x)); each layer caches for its backward."""
    for layer in layers:
        x = layer.forward(x)
    return x


class Layer:
    """Base class: a layer with no parameters."""

    def __init__(self, xp=np):
        self.xp = xp

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)


class Dense(Layer):
    """Affine layer y = x @ W + b, W (I, O), b (O,).

    Initialisation is PyTorch's ``nn.Linear`` default, W, b ~ U(-k, k) with
    k = 1/sqrt(I), so minivae's loss curves are comparable with the PyTorch
    reference from the first step. Built alone (no ``store``), it owns a small
    store of its own; inside a model, W, b, dW, db are views of the model's
    flat vectors, named "<name>.W" and "<name>.b".
    """

    W, b = view_attribute("W", "parameter"), view_attribute("b", "parameter")
    dW, db = view_attribute("dW", "gradient"), view_attribute("db", "gradient")

    @staticmethod
    def shapes(name: str, in_dim: int, out_dim: int) -> dict:
        """The parameters this layer needs: {"<name>.W": (I, O), "<name>.b": (O,)}."""
        return {f"{name}.W": (in_dim, out_dim), f"{name}.b": (out_dim,)}

    def __init__(self, in_dim: int, out_dim: int, rng=None, dtype="float32", xp=np,
                 store: ParamStore | None = None, name: str = "dense"):
        super().__init__(xp)
        if store is None:
            store = ParamStore(self.shapes(name, in_dim, out_dim), xp, dtype)
        self._W, self._b = store.params[f"{name}.W"], store.params[f"{name}.b"]   # (I, O), (O,)
        self._dW, self._db = store.grads[f"{name}.W"], store.grads[f"{name}.b"]   # (I, O), (O,)
        self.name = name
        rng = rng if rng is not None else Generator(xp, 0)
        k = 1.0 / math.sqrt(in_dim)
        self._W[...] = rng.uniform(self._W.shape, -k, k, dtype=self._W.dtype)
        self._b[...] = rng.uniform(self._b.shape, -k, k, dtype=self._b.dtype)
        self.x = None

    def forward(self, x):
        self.x = x                               # (B, I), kept for dW
        return x @ self._W + self._b             # (B, I) @ (I, O) -> (B, O)

    def backward(self, dy, need_dx: bool = True):
        # y_bo = sum_i x_bi W_io + b_o, so (docs/math.md §2)
        #   dL/dW_io = sum_b x_bi dy_bo   -> dW = x.T @ dy        (I, O)
        #   dL/db_o  = sum_b dy_bo        -> db = dy.sum(axis=0)  (O,)
        #   dL/dx_bi = sum_o dy_bo W_io   -> dx = dy @ W.T        (B, I)
        self.xp.matmul(self.x.T, dy, out=self._dW)   # (I, B) @ (B, O) -> (I, O), into the view
        dy.sum(axis=0, out=self._db)                  # (B, O) -> (O,)
        if not need_dx:                               # a model's first layer: x needs no gradient,
            return None                               # so skip the GEMM
        return dy @ self._W.T                         # (B, O) @ (O, I) -> (B, I)


INITS = ("pytorch", "glorot")   # a model's init: each layer's own (PyTorch's), or Keras's


def glorot_uniform(layer, rng) -> None:
    """Keras's default initialisation (Glorot & Bengio 2010), written over ``layer``'s W and b.

    W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), and b = 0. For a Dense
    W (I, O), fan_in + fan_out = I + O; a conv kernel, W (O, C, k, k) or
    (C, O, k, k), counts each channel k^2 times: (C + O) k^2, as Keras does.
    Its weights are larger than PyTorch's U(+-1/sqrt(I)) where I >> O (784 -> 144:
    a = 0.080 against 0.036).
    """
    W = layer.W                                           # (I, O), or (O, C, k, k) / (C, O, k, k)
    a = math.sqrt(6.0 / ((W.shape[0] + W.shape[1]) * math.prod(W.shape[2:])))
    W[...] = rng.uniform(W.shape, -a, a, dtype=W.dtype)
    layer.b[...] = 0


class ReLU(Layer):
    """y = max(x, 0)."""

    def forward(self, x):
        self.active = x > 0              # (B, H) bool, kept for backward
        return x * self.active           # max(x, 0); a NaN in x stays NaN, so divergence shows

    def backward(self, dy):
        # dy/dx = 1 where x > 0 else 0 (we take 0 at the kink x = 0).
        return dy * self.active


class LeakyReLU(Layer):
    """y = x if x > 0 else slope * x."""

    def __init__(self, xp=np, slope: float = 0.01):
        super().__init__(xp)
        self.slope = slope

    def forward(self, x):
        self.positive = x > 0            # (B, H) bool
        return self.xp.where(self.positive, x, self.slope * x)

    def backward(self, dy):
        # dy/dx = 1 where x > 0 else slope.
        return self.xp.where(self.positive, dy, self.slope * dy)


class Tanh(Layer):
    """y = tanh(x)."""

    def forward(self, x):
        self.y = self.xp.tanh(x)
        return self.y

    def backward(self, dy):
        # d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2, from the cached output.
        return dy * (1 - self.y * self.y)


class Sigmoid(Layer):
    """y = sigmoid(x)."""

    def forward(self, x):
        self.y = sigmoid(x, self.xp)
        return self.y

    def backward(self, dy):
        # d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x)) = y (1 - y).
        return dy * self.y * (1 - self.y)


class Identity(Layer):
    """y = x: the code of an autoencoder whose code is the encoder's output itself."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def make_activation(name: str, xp=np) -> Layer:
    """A new activation layer from its name ("relu", "leaky_relu", "tanh", "sigmoid")."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name](xp)


# -- listing a model's layers ----------------------------------------------------

class Spec(NamedTuple):
    """One layer as a model lists it, before it is built.

        Spec("enc0", Dense, (784, 400))    a layer with parameters "enc0.W", "enc0.b"
        Spec(None, ReLU)                   a layer without parameters

    A model lists every layer first, so that it can allocate one flat vector
    for all the parameters (params.py) before any layer is built.
    """

    name: str | None
    cls: type
    args: tuple = ()
    kwargs: dict | None = None

    def build(self, xp=np, store=None, rng=None, dtype="float32", forms=None) -> Layer:
        """The layer itself; one with parameters takes its views from ``store``.

        ``forms``: {layer class: a faster form of it}, built in its place (the same
        maths in fewer GPU launches: a fast set's ``layer_forms``, fast/cuda_kernels.py).
        """
        cls = forms.get(self.cls, self.cls) if forms else self.cls
        if self.name is None:
            return cls(*self.args, xp=xp, **(self.kwargs or {}))
        return cls(*self.args, **(self.kwargs or {}), rng=rng, dtype=dtype, xp=xp,
                   store=store, name=self.name)


def activation_spec(name: str) -> Spec:
    """The Spec of an activation layer; "none" is the Identity (no activation)."""
    return Spec(None, Identity if name == "none" else ACTIVATIONS[name])


# -- layers of layers ----------------------------------------------------------

class Chain(Layer):
    """Layers run one after the other as one layer: e.g. an autoencoder's code head and its
    activation."""

    def __init__(self, layers, xp=np):
        super().__init__(xp)
        self.layers = list(layers)

    def forward(self, x):
        return forward_through(self.layers, x)

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy
