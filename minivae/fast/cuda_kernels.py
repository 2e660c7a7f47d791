"""Fused CuPy kernels for the elementwise work of a training step.

On a GPU every NumPy-style operator is a kernel launch: ``p -= lr * m /
(xp.sqrt(v) + eps)`` is five launches, each reading and writing whole arrays
in GPU memory, each costing the host several microseconds to issue. At
batch 128 the step's arrays are small (100k values at most), so those
launches, not the arithmetic, set the time. A fused kernel does a whole
chain in one launch: each thread reads its element once, keeps every
intermediate in registers, and writes only the results.

Each kernel below is a ``cupy.ElementwiseKernel``: a few lines of CUDA C++
run once per element, with a type placeholder T that CuPy fills in from the
arrays (float for float32, double for float64), so one source serves both
dtypes and the float64 gradient checks run through the same kernels. Every
literal is written (T)0.5, (T)1: a bare 0.5 is a double in C++ and would
silently turn float32 arithmetic into float64 (index arithmetic on ints, as
col2im's, keeps its 0s ints). Each kernel is built at its first use and kept
(functools.cache); CuPy compiles it once per dtype.

``CudaOps`` has the methods of ``minivae.ops.Ops`` it replaces, with the
same maths (the plain forms are in ops.py and likelihoods.py), and
``FusedBernoulli`` those of ``likelihoods.Bernoulli``. ``minivae.fast.forms.choose_ops``
picks CudaOps for a model or optimizer built on the GPU with fast=True; such a
model builds its Dense, ReLU and conv layers in the forms below them here
(``CudaOps.layer_forms``, built in place by ``layers.Spec.build``). Launches, by
reading the plain forms as CuPy runs them:

    function                  plain form on CuPy    fused
    Bernoulli nll + grad      14 (incl. row sum)    2 (kernel + row sum)
    adam_update               12 (14 with decay)    1
    reparameterize            3                     1
    reparameterize_backward   8                     1
    gaussian_kl               6 (incl. row sum)     2 (kernel + row sum)
    gaussian_kl_per_dim       5                     1
    Dense, forward + backward 2 + 3                 2 + 2 (the bias as a row of W)
    ReLU, forward + backward  2 + 1                 1 + 1
    col2im (conv layers)      k^2 + 1 (17 for k=4)  1 (a gather: each pixel sums its taps)

(counted on the CPU stand-in for CuPy, tests/fast/test_gpu_launches.py: the
default model's step is 85 launches in plain forms, 37 fused; the small conv
VAE's there, 131 with conv.py's col2im and 83 with the gather).

This module needs CuPy, which it takes from the backend (the only module that
imports it); minivae/fast/forms.py imports this one only for CuPy arrays.

Shapes: B batch, D pixels, Z latent size, H hidden width, P parameters,
I, O a Dense layer's input and output sizes; in col2im, conv.py's (C x H x W
an image, k x k the kernel, s the stride, p the padding, Ho x Wo the output).
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import cupy_module
from ..conv import Conv2d, ConvTranspose2d, output_size
from ..layers import Dense, ReLU
from ..likelihoods import LIKELIHOODS, Bernoulli
from ..ops import Ops, adam_constants
from ..params import ParamStore

if cupy_module() is None:
    raise ImportError("minivae.fast.cuda_kernels needs CuPy: pip install -e \".[gpu]\"")

# name -> (inputs, outputs, CUDA C++ run for each element). CuPy declares each
# non-scalar input as `const T &name = ...[i]` and each output as `T &name`,
# so an output may be read before it is written (Adam's p, m, v).
SPECS = {
    "bernoulli": (
        "T l, T x, T scale", "T nll, T grad",
        """
        const T t = tanh(l * (T)0.5);                    // t = tanh(l / 2)
        const T relu_l = (l + fabs(l)) * (T)0.5;         // max(l, 0), exactly
        nll = relu_l - log(((T)1 + fabs(t)) * (T)0.5)    // softplus(l) = max(l, 0)
              - x * l;                                   //   - log sigmoid(|l|), then - x l
        grad = scale * (((T)1 + t) * (T)0.5 - x);        // scale (sigmoid(l) - x)
        """),
    "adam": (
        "T g, T lr_t, T eps_t, T one_m_b1, T one_m_b2, T wd", "T p, T m, T v",
        """
        const T gw = (wd != (T)0) ? g + wd * p : g;      // g + weight_decay p; g is not written
        m += one_m_b1 * (gw - m);                        // m = b1 m + (1 - b1) g
        v += one_m_b2 * (gw * gw - v);                   // v = b2 v + (1 - b2) g^2
        p -= lr_t * (m / (sqrt(v) + eps_t));             // bias corrections folded into lr_t, eps_t
        """),
    "reparameterize": (
        "T mu, T logvar, T eps", "T z, T sigma",
        """
        sigma = exp(logvar * (T)0.5);                    // sigma = exp(logvar / 2)
        z = mu + sigma * eps;
        """),
    "reparameterize_backward": (
        "T dz, T eps, T sigma, T mu, T logvar, T c", "T dmu, T dlogvar",
        """
        dmu = dz + c * mu;
        dlogvar = dz * eps * ((T)0.5 * sigma) + c * ((T)0.5 * expm1(logvar));
        """),
    "relu": (
        "T x", "T y, bool active",
        """
        active = x > (T)0;                               // kept for the backward: dy * active
        y = x * (T)active;                               // max(x, 0); a NaN stays NaN, as in ReLU
        """),
    "gaussian_kl": (
        "T mu, T logvar", "T kl",
        """
        kl = (T)0.5 * (mu * mu + (expm1(logvar) - logvar));   // each dimension's KL, >= 0
        """),
    # conv.col2im as a gather: one thread per pixel (c, h, w, b) of x (C, H, W, B) sums the
    # entries of cols (C, k, k, Ho, Wo, B) copied from it: tap (u, v) of output (io, jo)
    # read pixel (s io + u - p, s jo + v - p), so for each tap io = (h + p - u) / s, where
    # that divides exactly and lands inside the output. No two threads write one pixel.
    "col2im": (
        "raw T cols, int32 H, int32 W, int32 B, int32 k, int32 s, int32 p, int32 Ho, int32 Wo",
        "T x",
        """
        const int b = i % B;                             // i: this pixel, in x's C order
        const int w = i / B % W;
        const int h = i / B / W % H;
        const ptrdiff_t c = i / B / W / H;               // 64-bit: the index into cols below
        T sum = (T)0;
        for (int u = 0; u < k; u++) {
            const int hs = h + p - u;                    // s io, for the output row io
            const int io = hs / s;
            if (hs >= 0 && hs % s == 0 && io < Ho) {     // the row io exists: its columns
                for (int v = 0; v < k; v++) {
                    const int ws = w + p - v;            // s jo, for the output column jo
                    const int jo = ws / s;
                    if (ws >= 0 && ws % s == 0 && jo < Wo)
                        sum += cols[((((c * k + u) * k + v) * Ho + io) * Wo + jo) * B + b];
                }
            }
        }
        x = sum;
        """),
}


def kernel(name: str):
    """The ElementwiseKernel ``name`` of SPECS, built at its first use."""
    return _build(cupy_module(), name)


@functools.cache
def _build(cupy, name):
    # Kept per CuPy module: the tests run these kernels on a CPU stand-in for CuPy too.
    inputs, outputs, body = SPECS[name]
    return cupy.ElementwiseKernel(inputs, outputs, body, f"minivae_{name}")


def _same_dtype(a, like):
    return a if a.dtype == like.dtype else a.astype(like.dtype)


class FusedBernoulli(Bernoulli):
    """likelihoods.Bernoulli with its value and gradient from one kernel (and a row sum)."""

    def nll_and_grad(self, logits, x, scale=1.0):
        if scale is None:                                   # the value alone: the plain form
            return super().nll_and_grad(logits, x, None)
        nll, grad = kernel("bernoulli")(logits, _same_dtype(x, logits), scale)   # (B, D), (B, D)
        return nll.sum(axis=1), grad                                              # (B,), (B, D)


# -- layers in fewer launches: the same maths as layers.py -------------------------

class BiasRowDense(Dense):
    """layers.Dense with its bias as one more row of W (the "bias trick"):

        [x, 1] (B, I+1) @ [W; b] (I+1, O)  =  x W + b                       one GEMM
        [x, 1]^T (I+1, B) @ dy (B, O)      =  [x^T dy; 1^T dy]  =  [dW; db]  one GEMM

    so the bias add of the forward and the bias gradient's sum of the backward
    ride on the GEMMs. W and b lie one after the other in the model's flat
    vector (params.py), so [W; b] is a view of it, not a copy, and so is
    [dW; db] of the gradient's. [x, 1] is x copied beside a column of ones, kept
    for the backward; the ones are written again only when the batch size changes.
    With TF32 (--tf32) b and db pass through the GEMMs too, so they are rounded as
    W and dW are (fast/gpu.py).
    """

    def __init__(self, in_dim: int, out_dim: int, rng=None, dtype="float32", xp=np,
                 store: ParamStore | None = None, name: str = "dense"):
        if store is None:
            store = ParamStore(self.shapes(name, in_dim, out_dim), xp, dtype)
        super().__init__(in_dim, out_dim, rng, dtype, xp, store, name)
        self._Wb, self._dWb = (bias_as_row(d, name) for d in (store.params, store.grads))
        self.x1 = None                               # [x, 1] (B, I+1), kept for [dW; db]

    @property
    def x(self):
        """The last input (B, I), as layers.Dense keeps it: a view of [x, 1]."""
        return None if self.x1 is None else self.x1[:, :-1]

    @x.setter
    def x(self, value):                              # Dense.__init__'s "nothing kept yet"
        if value is not None:
            raise AttributeError("BiasRowDense keeps its input in x1; forward writes it")
        self.x1 = None

    def forward(self, x):
        B, I = x.shape
        if self.x1 is None or self.x1.shape[0] != B:      # another batch size: the ones again
            self.x1 = self.xp.empty((B, I + 1), dtype=self._W.dtype)
            self.x1[:, I] = 1
        self.x1[:, :I] = x                                # (B, I) into (B, I+1), one copy
        return self.x1 @ self._Wb                         # (B, I+1) @ (I+1, O) -> (B, O)

    def backward(self, dy, need_dx: bool = True):
        self.xp.matmul(self.x1.T, dy, out=self._dWb)      # (I+1, B) @ (B, O) -> [dW; db]
        if not need_dx:
            return None
        return dy @ self._W.T                             # (B, O) @ (O, I) -> (B, I)


def bias_as_row(d, name: str):
    """[W; b] (I+1, O): the flat vector of ``d`` where "<name>.W" (I, O) and then "<name>.b"
    (O,) lie, as one matrix (a view)."""
    start, (I, O) = d.offsets[f"{name}.W"], d[f"{name}.W"].shape
    if d.offsets[f"{name}.b"] != start + I * O:
        raise ValueError(f"{name}.b does not follow {name}.W in the flat vector")
    return d.flat[start:start + (I + 1) * O].reshape(I + 1, O)


class FusedReLU(ReLU):
    """layers.ReLU with its forward in one kernel, which writes y and the mask together."""

    def forward(self, x):
        # The outputs in x's memory order (a conv layer's images keep the batch last), which
        # a kernel would not keep if it allocated them itself.
        y, self.active = self.xp.empty_like(x), self.xp.empty_like(x, dtype=bool)   # x's shape
        kernel("relu")(x, y, self.active)
        return y


class GatherCol2im:
    """A conv layer's col2im (conv.py) in one launch, the "col2im" kernel: one thread per
    pixel sums what the pixel's patches gave, where conv.col2im adds one tap at a time
    (k^2 launches) onto zeros (one more)."""

    def col2im(self, cols, shape):
        B, C, H, W = shape
        k, s, p = self.k, self.stride, self.padding
        x = self.xp.empty((C, H, W, B), dtype=cols.dtype)   # every pixel is written: no zeros
        kernel("col2im")(cols, H, W, B, k, s, p, output_size(H, k, s, p),
                         output_size(W, k, s, p), x)
        return x.transpose(3, 0, 1, 2)                      # (B, C, H, W), a view, as conv's


class FusedConv2d(GatherCol2im, Conv2d):
    """conv.Conv2d with its backward's col2im (dx) in one kernel."""


class FusedConvTranspose2d(GatherCol2im, ConvTranspose2d):
    """conv.ConvTranspose2d with its forward's col2im in one kernel."""


class CudaOps(Ops):
    """ops.Ops with each elementwise chain in one fused kernel."""

    name = "cuda-fused"
    description = "fused CUDA kernels (CuPy)"
    likelihoods = {**LIKELIHOODS, "bernoulli": FusedBernoulli}
    layer_forms = {Dense: BiasRowDense, ReLU: FusedReLU,     # the same layers, fewer launches
                   Conv2d: FusedConv2d, ConvTranspose2d: FusedConvTranspose2d}

    def reparameterize(self, mu, logvar, eps):
        return kernel("reparameterize")(mu, logvar, _same_dtype(eps, mu))   # (z, std), (B, Z)

    def reparameterize_backward(self, dz, eps, std, mu, logvar, c):
        return kernel("reparameterize_backward")(dz, _same_dtype(eps, dz), std, mu, logvar, c)

    def gaussian_kl(self, mu, logvar):
        return self.gaussian_kl_per_dim(mu, logvar).sum(axis=1)            # (B, Z) -> (B,)

    def gaussian_kl_per_dim(self, mu, logvar):
        return kernel("gaussian_kl")(mu, logvar)                            # (B, Z)

    def adam_update(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
        a, e = adam_constants(lr, beta1, beta2, eps, step)   # bias corrections folded in
        kernel("adam")(_same_dtype(g, p), a, e, 1 - beta1, 1 - beta2, weight_decay, p, m, v)
