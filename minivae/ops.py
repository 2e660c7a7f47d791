"""Fast forms of the training step's elementwise work: fewer passes, in place.

NumPy evaluates an expression such as ``p -= lr * m / (xp.sqrt(v) + eps)``
one operator at a time: every operator is a full pass over memory that
writes a new temporary array (and on a GPU, one more kernel launch). The
GEMMs of a step cannot be made cheaper, but this elementwise work can.
Two ops here carry almost all of it on the CPU:

    bernoulli_nll_and_grad   the loss value and d loss / d logits from one tanh
    adam_update              Adam on the flat parameter vector, chunk by chunk

and three more are the short chains around the latent code and the hidden
layers, which on a GPU cost a launch per operator:

    relu                     y = max(x, 0) and the mask backward needs
    reparameterize           z = mu + exp(logvar / 2) eps
    reparameterize_backward  d loss / d mu and d loss / d logvar, KL term included

Each docstring gives the plain formula (the one a learner meets in losses.py,
optim.py and vae.py); tests/test_ops.py checks that both forms agree in
float32 and float64. benchmarks/README.md records what each change saved.

Every op takes NumPy or CuPy arrays and starts with
``xp = get_array_module(a)``. A GPU backend can swap in a fused kernel
(``cupy.ElementwiseKernel``, ``cupy.fuse``) for any op, with the same
signature, without touching its callers:

    ops.register("adam_update", "cupy", my_fused_adam)

minivae's own are in minivae/backend/cuda_kernels.py, registered when a
model is built on the GPU.

Shapes: B batch, D pixels, Z latent size, H hidden width, P parameters.
"""

from __future__ import annotations

import math

import numpy as np

from .backend import get_array_module

# Adam runs over the flat vector in chunks of this many elements: the twelve
# passes of the update then reread a chunk (p, g, m, v and one scratch array,
# 1.3 MB in float32) from the L2 cache instead of rereading the whole 2.6 MB
# vectors from L3 or memory each time. For the default model on the 2-core
# machine of benchmarks/README.md: 0.64 ms per step, against 0.73 for the
# same passes over whole vectors and 0.85 for the plain form with temporaries
# (chunks of 32k to 128k elements all time within 6% of 64k; 16k is 23% slower).
ADAM_CHUNK = 65536

OPS = ("bernoulli_nll_and_grad", "adam_update", "relu", "reparameterize",
       "reparameterize_backward")
_KERNELS: dict = {}   # (op name, array module name) -> replacement function


def register(name: str, module_name: str, fn) -> None:
    """Use ``fn`` for op ``name`` when its arrays come from ``module_name`` ("cupy")."""
    if name not in OPS:
        raise ValueError(f"no op named {name!r} in minivae.ops")
    _KERNELS[(name, module_name)] = fn


def unregister(name: str, module_name: str) -> None:
    """Go back to the plain form of op ``name`` for ``module_name``'s arrays."""
    _KERNELS.pop((name, module_name), None)


def _kernel(name: str, xp):
    """The registered replacement of op ``name`` for module ``xp``, or None."""
    return _KERNELS.get((name, xp.__name__)) if _KERNELS else None


def bernoulli_nll_and_grad(logits, x, scale=1.0):
    """Bernoulli NLL per example and ``scale`` times its gradient, sharing one tanh.

    Plain form (losses.bernoulli_nll and losses.bernoulli_nll_grad):
        nll  = sum_d [ softplus(l_d) - x_d l_d ]           (B,)
        grad = scale * (sigmoid(l) - x)                    (B, D)

    Both come from t = tanh(l / 2), the one transcendental pass besides a log:
        sigmoid(l)  = (1 + t) / 2
        softplus(l) = log(1 + e^l) = max(l, 0) - log sigmoid(|l|)
                    = max(l, 0) - log((1 + |t|) / 2)        (tanh is odd)
    sigmoid(|l|) lies in [1/2, 1], so the log never sees 0 and needs no
    clipping; softplus is exact to rounding for any finite logit. This
    replaces ``logaddexp(0, l)``, which NumPy evaluates one element at a
    time with exp and log1p: 0.7 to 1.9 ms for (128, 784) float32 values on
    one core here, against 0.16 ms for the whole of this function.

    logits, x: (B, D)  ->  (nll (B,), grad (B, D))
    """
    xp = get_array_module(logits)
    fast = _kernel("bernoulli_nll_and_grad", xp)
    if fast is not None:
        return fast(logits, x, scale)
    t = xp.multiply(logits, 0.5)             # (B, D)  l / 2
    xp.tanh(t, out=t)                        #         t = tanh(l / 2)

    # softplus(l) - x l, elementwise, in two scratch arrays a and b:
    a = xp.abs(t)                            # (B, D)  |t|
    a += 1
    a *= 0.5                                 #         sigmoid(|l|) = (1 + |t|) / 2, in [1/2, 1]
    xp.log(a, out=a)                         #         log sigmoid(|l|), in [-log 2, 0]
    b = xp.abs(logits)                       # (B, D)
    b += logits
    b *= 0.5                                 #         max(l, 0) = (l + |l|) / 2, exactly
    b -= a                                   #         softplus(l)
    b -= xp.multiply(x, logits, out=a)       #         softplus(l) - x l
    nll = b.sum(axis=1)                      # (B, D) -> (B,)

    grad = t                                 # t's memory becomes scale ((1 + t) / 2 - x)
    grad *= 0.5 * scale
    grad += 0.5 * scale                      # (B, D)  scale * sigmoid(l)
    grad -= xp.multiply(x, scale, out=a)     #         - scale * x
    return nll, grad


def adam_update(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0,
                chunk=ADAM_CHUNK):
    """One Adam step, in place on p, m and v (all the same shape, e.g. (P,)).

    Plain form (optim.Adam, torch.optim.Adam), t = step:
        g <- g + weight_decay * p
        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    Fast form, the same maths with the constants gathered so that each line
    is one pass, all written into one scratch array:
        m += (1 - beta1) (g - m)
        v += (1 - beta2) (g^2 - v)
        p -= a m / (sqrt(v) + e),  a = lr sqrt(1 - beta2^t) / (1 - beta1^t),
                                   e = eps sqrt(1 - beta2^t)
    On the CPU it runs ``chunk`` elements at a time (see ADAM_CHUNK) when all
    four arrays are contiguous, else on the whole arrays. ``g`` is never written.
    """
    xp = get_array_module(p)
    fast = _kernel("adam_update", xp)
    if fast is not None:
        return fast(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                    weight_decay=weight_decay)
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step
    a = lr * math.sqrt(bc2) / bc1
    e = eps * math.sqrt(bc2)
    arrays = (p, g, m, v)
    if xp is not np or not all(arr.flags.c_contiguous for arr in arrays):
        # GPU: one launch per pass, no chunks (and odd layouts: whole arrays).
        _adam_pass(xp, *arrays, xp.empty_like(p), beta1, beta2, a, e, weight_decay)
        return
    p, g, m, v = (arr.reshape(-1) for arr in arrays)    # views, (P,)
    work = xp.empty((min(chunk, p.size),), dtype=p.dtype)
    for lo in range(0, p.size, chunk):
        hi = min(lo + chunk, p.size)
        _adam_pass(xp, p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], work[:hi - lo],
                   beta1, beta2, a, e, weight_decay)


def _adam_pass(xp, p, g, m, v, tmp, beta1, beta2, a, e, weight_decay):
    """The fast form of :func:`adam_update` on one chunk; ``tmp`` is scratch."""
    if weight_decay:
        g = g + weight_decay * p                # a new array: the caller's g is left alone
    xp.subtract(g, m, out=tmp)
    tmp *= 1 - beta1
    m += tmp                                    # m += (1 - beta1) (g - m)
    xp.square(g, out=tmp)
    tmp -= v
    tmp *= 1 - beta2
    v += tmp                                    # v += (1 - beta2) (g^2 - v)
    xp.sqrt(v, out=tmp)
    tmp += e
    xp.divide(m, tmp, out=tmp)
    tmp *= a
    p -= tmp                                    # p -= a m / (sqrt(v) + e)


def relu(x):
    """ReLU and the mask its backward pass needs: (y, active).

    Plain form (layers.ReLU):
        active = x > 0                                     (B, H) bool
        y      = x * active                                (B, H)  max(x, 0)

    ``x * active`` rather than ``maximum(x, 0)``: 1.6x faster in NumPy, and a
    NaN in x stays NaN in y (NaN * 0 = NaN), so a diverging run is caught.
    """
    xp = get_array_module(x)
    fast = _kernel("relu", xp)
    if fast is not None:
        return fast(x)
    active = x > 0
    return x * active, active


def reparameterize(mu, logvar, eps):
    """The reparameterization trick: (z, std), each (B, Z).

        std = exp(logvar / 2)                              sigma, logvar = log sigma^2
        z   = mu + std * eps                               eps ~ N(0, I)
    """
    xp = get_array_module(mu)
    fast = _kernel("reparameterize", xp)
    if fast is not None:
        return fast(mu, logvar, eps)
    std = xp.exp(0.5 * logvar)
    return mu + std * eps, std


def reparameterize_backward(dz, eps, std, mu, logvar, c):
    """Gradients at mu and logvar: (dmu, dlogvar), each (B, Z).

    dz = d loss / d z arrives from the decoder; the KL term, weighted by
    c = beta / B, adds its own gradient (Kingma & Welling 2013, App. B):
        dmu     = dz + c * mu                              dz/dmu = 1, dKL/dmu = mu
        dlogvar = dz * eps * std / 2 + c * (exp(logvar) - 1) / 2
                  (dz/dlogvar = eps exp(logvar/2) / 2;  dKL/dlogvar = (exp(logvar) - 1) / 2)
    exp(logvar) - 1 is computed as expm1(logvar): exact near logvar = 0.
    """
    xp = get_array_module(dz)
    fast = _kernel("reparameterize_backward", xp)
    if fast is not None:
        return fast(dz, eps, std, mu, logvar, c)
    dmu = dz + c * mu
    dlogvar = dz * eps * (0.5 * std) + c * (0.5 * xp.expm1(logvar))
    return dmu, dlogvar
