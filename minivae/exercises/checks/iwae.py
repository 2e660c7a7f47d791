"""Exercises 10 and 11: log-sum-exp, the importance-weighted NLL and its gradient (§9, §12).

K = 4 samples of z for B = 3 examples. Log-weights of a trained model are
hundreds of nats from 0, so the stability check feeds log-weights of +-1000:
sum_i e^a_i overflows or underflows there unless the max is taken out first.
Shapes: K samples, B batch, Z latent size.
"""

from __future__ import annotations

import math

import numpy as np

from ..compare import Wrong, close, gradient_agrees, returned, unpack
from ..mutations import weights_differentiated, weights_uniform
from ..registry import call, check, normal, rng
from .layers import DTYPES

K, B, Z = 4, 3, 2


def iwae_inputs(dtype=np.float64, seed=26):
    r = rng(seed)
    nll = r.uniform(2, 6, (K, B)).astype(dtype)
    return nll, normal(r, (K, B, Z), dtype), normal(r, (K, B, Z), dtype), normal(r, (B, Z), dtype)


def lse_of(f, a, dtype=np.float64):
    lse, wn = unpack(call(f, "logsumexp_softmax", a), ("lse", "wn"), "logsumexp_softmax")
    return (returned(lse, "lse", a.shape[1:], dtype, "logsumexp_softmax"),
            returned(wn, "wn", a.shape, dtype, "logsumexp_softmax"))


def nll_of(f, args, dtype=np.float64):
    return returned(call(f, "iwae_nll", *args), "nll", (args[0].shape[1],), dtype, "iwae_nll")


@check(10, "shapes", "lse (B,), wn (K, B); log_prior_ratio (K, B); iwae_nll (B,); float32 too")
def iwae_shapes(f, ref):
    for dtype in DTYPES:
        nll, z, eps, logvar = iwae_inputs(dtype)
        lse_of(f, nll, dtype)
        returned(call(f, "log_prior_ratio", z, eps, logvar), "log_prior_ratio", (K, B), dtype,
                 "log_prior_ratio")
        nll_of(f, (nll, z, eps, logvar), dtype)


@check(10, "values", "logsumexp_softmax, log_prior_ratio, iwae_nll equal minivae's")
def iwae_values(f, ref):
    nll, z, eps, logvar = iwae_inputs()
    a = -nll
    for got, want, name in zip(lse_of(f, a), ref.logsumexp_softmax(a), ("lse", "wn")):
        close(got, want, name, "logsumexp_softmax")
    lpr = returned(call(f, "log_prior_ratio", z, eps, logvar), "log_prior_ratio", (K, B),
                   np.float64, "log_prior_ratio")
    close(lpr, ref.log_prior_ratio(z, eps, logvar), "log_prior_ratio", "log_prior_ratio")
    close(nll_of(f, (nll, z, eps, logvar)), ref.iwae_nll(nll, z, eps, logvar), "nll", "iwae_nll",
          variants={"the log K left out (the bound is log of the MEAN of the weights)":
                    ref.iwae_nll(nll, z, eps, logvar) - math.log(K)})


@check(10, "stability", "log-weights of +-1000: log-sum-exp and weights finite and exact")
def iwae_extremes(f, ref):
    a = np.array([[1000.0, -1000.0, 0.0], [999.0, -1001.0, -800.0], [990.0, -1003.0, -5.0]])
    with np.errstate(all="ignore"):
        out = call(f, "logsumexp_softmax", a)
    lse, wn = unpack(out, ("lse", "wn"), "logsumexp_softmax")
    if not (isinstance(lse, np.ndarray) and np.isfinite(lse).all()):
        raise Wrong(f"logsumexp_softmax of log-weights near +-1000 returned {lse}: e^1000 "
                    "overflows and e^-1000 underflows to 0; subtract the max of each column "
                    "before exp")
    want = ref.logsumexp_softmax(a)
    close(returned(lse, "lse", (3,), np.float64, "logsumexp_softmax"), want[0], "lse at +-1000",
          "logsumexp_softmax")
    close(returned(wn, "wn", (3, 3), np.float64, "logsumexp_softmax"), want[1], "wn at +-1000",
          "logsumexp_softmax")


@check(10, "property", "weights >= 0 summing to 1 per example; K = 1 is the one-sample ELBO")
def iwae_property(f, ref):
    nll, z, eps, logvar = iwae_inputs(seed=27)
    _, wn = lse_of(f, -nll)
    if (wn < 0).any() or not np.allclose(wn.sum(axis=0), 1.0, rtol=1e-12):
        raise Wrong(f"logsumexp_softmax: the weights of each example must be >= 0 and sum to 1 "
                    f"over the K samples (axis 0); they sum to "
                    f"{np.round(wn.sum(axis=0), 6).tolist()}")
    one = (nll[:1], z[:1], eps[:1], logvar)
    elbo = nll[0] - returned(call(f, "log_prior_ratio", z[:1], eps[:1], logvar), "log_prior_ratio",
                             (1, B), np.float64, "log_prior_ratio")[0]
    close(nll_of(f, one), elbo, "nll with K = 1 (it must be nll - log_prior_ratio)", "iwae_nll")


@check(11, "shapes", "loss a number; dnll (K, B), dz (K, B, Z), dlogvar (B, Z); float32 too")
def grad_shapes(f, ref):
    for dtype in DTYPES:
        grads_of(f, *iwae_inputs(dtype), dtype=dtype)


def grads_of(f, nll, z, eps, logvar, dtype=np.float64):
    name = "iwae_loss_and_grads"
    loss, dnll, dz, dlogvar = unpack(call(f, name, nll, z, eps, logvar),
                                     ("loss", "dnll", "dz", "dlogvar"), name)
    loss = returned(loss, "loss", (), dtype, name)
    return (loss, returned(dnll, "dnll", nll.shape, dtype, name),
            returned(dz, "dz", z.shape, dtype, name),
            returned(dlogvar, "dlogvar", logvar.shape, dtype, name))


@check(11, "values", "the loss and its gradients equal minivae's IWAE (§12)")
def grad_values(f, ref):
    args = iwae_inputs(seed=28)
    got, want = grads_of(f, *args), ref.iwae_loss_and_grads(*args)
    nll, z, eps, logvar = args
    log_w = -nll + ref.log_prior_ratio(z, eps, logvar)
    wn = ref.logsumexp_softmax(log_w)[1]
    wrong = {"each sample weighted 1/K, not by its normalised weight wn: the averaged ELBO's "
             "gradient": -weights_uniform(wn, log_w, B),
             "the weights differentiated through, where the estimator holds them constant":
             -weights_differentiated(wn, log_w, B)}
    for g, w, name in zip(got, want, ("loss", "dnll", "dz", "dlogvar")):
        close(g, w, name, "iwae_loss_and_grads", scales={"B": B, "K": K},
              variants=wrong if name == "dnll" else None)


def iwae_gradient(f, forward, whose):
    nll, z, eps, logvar = iwae_inputs(seed=29)
    _, dnll, dz, dlogvar = grads_of(f, nll, z, eps, logvar)
    grads_of(forward, nll, z, eps, logvar)
    fwd = forward.iwae_loss_and_grads
    gradient_agrees(lambda: float(fwd(nll.copy(), z.copy(), eps, logvar.copy())[0]),
                    {"nll": nll, "z": z, "logvar": logvar},
                    {"nll": dnll, "z": dz, "logvar": dlogvar}, whose, "iwae_loss_and_grads")


@check(11, "grad-own", "dnll, dz, dlogvar against central differences of your loss (eps fixed)")
def grad_own(f, ref):
    iwae_gradient(f, f, "your")


@check(11, "grad-minivae", "dnll, dz, dlogvar against central differences of minivae's bound")
def grad_minivae(f, ref):
    iwae_gradient(f, ref, "minivae's")
