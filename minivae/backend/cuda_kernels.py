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
silently turn float32 arithmetic into float64. Each kernel is built at its
first use and kept (functools.cache); CuPy compiles it once per dtype.

The functions have the signatures of the ops they replace in minivae.ops,
and the same maths (the plain formula is in each docstring);
``minivae.backend.register_cuda_kernels`` plugs them in. Launches, by
reading the NumPy-style forms as CuPy runs them:

    op                        NumPy form on CuPy    fused
    bernoulli_nll_and_grad    17 (incl. row sum)    2 (kernel + row sum)
    adam_update               12 (14 with decay)    1
    relu                      2                     1
    reparameterize            4                     1
    reparameterize_backward   9                     1

This module imports CuPy at the top: only the backend imports it, and only
when CuPy is installed.

Shapes: B batch, D pixels, Z latent size, H hidden width, P parameters.
"""

from __future__ import annotations

import functools
import math

import cupy

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
    "relu": (
        "T x", "T y, bool active",
        """
        active = x > (T)0;
        y = x * (T)active;                               // NaN stays NaN, as in NumPy
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
}


@functools.cache
def kernel(name: str) -> cupy.ElementwiseKernel:
    """The ElementwiseKernel ``name`` of SPECS, built at its first use."""
    inputs, outputs, body = SPECS[name]
    return cupy.ElementwiseKernel(inputs, outputs, body, f"minivae_{name}")


def _same_dtype(a, like):
    return a if a.dtype == like.dtype else a.astype(like.dtype)


def bernoulli_nll_and_grad(logits, x, scale=1.0):
    """Bernoulli NLL per example and ``scale`` times its gradient: one kernel and a row sum.

        nll  = sum_d [ softplus(l_d) - x_d l_d ]          (B,)
        grad = scale * (sigmoid(l) - x)                   (B, D)

    with t = tanh(l / 2): sigmoid(l) = (1 + t) / 2 and softplus(l) =
    max(l, 0) - log((1 + |t|) / 2), as in ops.bernoulli_nll_and_grad.

    logits, x: (B, D)  ->  (nll (B,), grad (B, D))
    """
    nll, grad = kernel("bernoulli")(logits, _same_dtype(x, logits), scale)   # (B, D), (B, D)
    return nll.sum(axis=1), grad                                              # (B, D) -> (B,)


def adam_update(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
    """One Adam step in one kernel, in place on p, m and v; ``g`` is never written.

        g <- g + weight_decay * p
        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    computed as in ops.adam_update: p -= a m / (sqrt(v) + e) with
    a = lr sqrt(1 - beta2^t) / (1 - beta1^t) and e = eps sqrt(1 - beta2^t).
    p, g, m, v: the same shape, e.g. (P,).
    """
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step
    a = lr * math.sqrt(bc2) / bc1
    e = eps * math.sqrt(bc2)
    kernel("adam")(_same_dtype(g, p), a, e, 1 - beta1, 1 - beta2, weight_decay, p, m, v)


def relu(x):
    """(y, active): y = x * (x > 0) and the bool mask, in one kernel. x: (B, H)."""
    return kernel("relu")(x)


def reparameterize(mu, logvar, eps):
    """(z, std), std = exp(logvar / 2), z = mu + std * eps, in one kernel. Each (B, Z)."""
    return kernel("reparameterize")(mu, logvar, _same_dtype(eps, mu))


def reparameterize_backward(dz, eps, std, mu, logvar, c):
    """(dmu, dlogvar) in one kernel. Each (B, Z).

        dmu     = dz + c * mu
        dlogvar = dz * eps * std / 2 + c * (exp(logvar) - 1) / 2
    """
    return kernel("reparameterize_backward")(dz, _same_dtype(eps, dz), std, mu, logvar, c)


# op name in minivae.ops -> the fused function that replaces it for CuPy arrays
KERNELS = {
    "bernoulli_nll_and_grad": bernoulli_nll_and_grad,
    "adam_update": adam_update,
    "relu": relu,
    "reparameterize": reparameterize,
    "reparameterize_backward": reparameterize_backward,
}
