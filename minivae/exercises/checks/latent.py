"""Exercises 5 and 6: the KL term and the reparameterization (docs/math.md §3, §4).

Two checks here are the ones a gradient check cannot replace. The
distribution test draws 20,000 eps and asks whether z = reparameterize(mu,
logvar, eps) has mean mu and variance exp(logvar), each within 5 standard
errors: a sampler that uses exp(logvar) as the standard deviation, with a
backward to match, passes every gradient check and fails this one. The
noise test asks whether z is made from the eps it is given.
Shapes: B batch, Z latent size.
"""

from __future__ import annotations

import numpy as np

from ..compare import Wrong, close, gradient_agrees, returned, unpack
from ..registry import call, check, normal, rng
from .layers import DTYPES

B, Z = 4, 3
N = 20000                     # draws of the distribution test


def latent_inputs(dtype=np.float64, seed=9):
    r = rng(seed)
    return (normal(r, (B, Z), dtype), normal(r, (B, Z), dtype, 0.7),
            normal(r, (B, Z), dtype), normal(r, (B, Z), dtype))          # mu, logvar, eps, dz


def two(f, name, args, names, dtype=np.float64):
    """The two (B, Z) arrays ``name`` returns, checked."""
    out = unpack(call(f, name, *args), names, name)
    return [returned(a, n, (B, Z), dtype, name) for a, n in zip(out, names)]


def kl_of(f, mu, logvar, dtype=np.float64):
    return returned(call(f, "gaussian_kl", mu, logvar), "kl", (B,), dtype, "gaussian_kl")


@check(5, "shapes", "kl (B,); dmu, dlogvar (B, Z); float32 in, float32 out")
def kl_shapes(f, ref):
    for dtype in DTYPES:
        mu, logvar, _, _ = latent_inputs(dtype)
        kl_of(f, mu, logvar, dtype)
        two(f, "gaussian_kl_backward", (mu, logvar), ("dmu", "dlogvar"), dtype)


@check(5, "values", "kl, dmu, dlogvar equal minivae's on random mu, logvar")
def kl_values(f, ref):
    mu, logvar, _, _ = latent_inputs()
    as_std = 0.5 * (mu**2 + np.exp(2 * logvar) - 2 * logvar - 1).sum(axis=1)
    close(kl_of(f, mu, logvar), ref.gaussian_kl(mu, logvar), "kl", "gaussian_kl",
          scales={"Z": Z, "B": B},
          variants={"exp(logvar) used as the standard deviation (logvar is log sigma^2)": as_std})
    for got, want, name in zip(two(f, "gaussian_kl_backward", (mu, logvar), ("dmu", "dlogvar")),
                               ref.gaussian_kl_backward(mu, logvar), ("dmu", "dlogvar")):
        close(got, want, name, "gaussian_kl_backward", scales={"Z": Z, "B": B})


@check(5, "property", "KL >= 0 everywhere, and 0 exactly at mu = 0, logvar = 0")
def kl_property(f, ref):
    mu, logvar, _, _ = latent_inputs(seed=10)
    kl = kl_of(f, 3 * mu, 3 * logvar)
    if (kl < 0).any():
        i = int(np.argmin(kl))
        raise Wrong(f"gaussian_kl returned {kl[i]:.6g} for example {i}: a KL divergence is never "
                    "negative; it looks like the sign (KL = +1/2 sum(mu^2 + e^logvar - logvar "
                    "- 1))")
    zero = kl_of(f, np.zeros((B, Z)), np.zeros((B, Z)))
    if np.abs(zero).max() > 1e-12:
        raise Wrong(f"gaussian_kl returned {zero[0]:.6g} at mu = 0, logvar = 0, where q is the "
                    "prior and the KL is 0")


def kl_gradient(f, forward, whose):
    mu, logvar, _, _ = latent_inputs(seed=11)
    dmu, dlogvar = two(f, "gaussian_kl_backward", (mu, logvar), ("dmu", "dlogvar"))
    kl_of(forward, mu, logvar)
    gradient_agrees(lambda: forward.gaussian_kl(mu.copy(), logvar.copy()).sum(),
                    {"mu": mu, "logvar": logvar}, {"mu": dmu, "logvar": dlogvar}, whose,
                    "gaussian_kl_backward")


@check(5, "grad-own", "dmu, dlogvar against central differences of your summed KL")
def kl_grad_own(f, ref):
    kl_gradient(f, f, "your")


@check(5, "grad-minivae", "dmu, dlogvar against central differences of minivae's KL")
def kl_grad_minivae(f, ref):
    kl_gradient(f, ref, "minivae's")


# -- exercise 6 ------------------------------------------------------------------

WRONG_Z = ("exp(logvar) used as the standard deviation: std = exp(logvar / 2), since logvar is "
           "log sigma^2")


@check(6, "shapes", "z, std (B, Z); dmu, dlogvar (B, Z); float32 in, float32 out")
def reparam_shapes(f, ref):
    for dtype in DTYPES:
        mu, logvar, eps, dz = latent_inputs(dtype)
        z, std = two(f, "reparameterize", (mu, logvar, eps), ("z", "std"), dtype)
        two(f, "reparameterize_backward", (dz, eps, std, mu, logvar, 0.25), ("dmu", "dlogvar"),
            dtype)


@check(6, "values", "z, std, and the backward with c = 0.25, equal minivae's")
def reparam_values(f, ref):
    mu, logvar, eps, dz = latent_inputs()
    z, std = two(f, "reparameterize", (mu, logvar, eps), ("z", "std"))
    wrong = {WRONG_Z: mu + np.exp(logvar) * eps, "z = mu: no sampling": mu}
    want_z, want_std = ref.reparameterize(mu, logvar, eps)
    close(z, want_z, "z", "reparameterize", variants=wrong)
    close(std, want_std, "std", "reparameterize", variants={WRONG_Z: np.exp(logvar)})
    got = two(f, "reparameterize_backward", (dz, eps, want_std, mu, logvar, 0.25),
              ("dmu", "dlogvar"))
    for g, w, name in zip(got, ref.reparameterize_backward(dz, eps, want_std, mu, logvar, 0.25),
                          ("dmu", "dlogvar")):
        close(g, w, name, "reparameterize_backward", scales={"B": B})


@check(6, "noise", "z is made from the eps given: the same eps, the same z; another, another")
def reparam_noise(f, ref):
    mu, logvar, eps, _ = latent_inputs()
    first = two(f, "reparameterize", (mu, logvar, eps), ("z", "std"))[0]
    again = two(f, "reparameterize", (mu, logvar, eps.copy()), ("z", "std"))[0]
    if not np.array_equal(first, again):
        raise Wrong("reparameterize gave another z for the same eps: it draws noise of its own. "
                    "Use the eps it is given: the backward receives that eps, and a fresh eps in "
                    "the forward with the stored one in the backward trains on the wrong gradient")
    other = two(f, "reparameterize", (mu, logvar, -eps), ("z", "std"))[0]
    if np.array_equal(first, other):
        raise Wrong("reparameterize gave the same z for eps and -eps: z does not depend on the "
                    "noise (z = mu: no sampling, where the ELBO needs z ~ q(z|x))")


@check(6, "property", "20,000 samples of z: mean mu, variance exp(logvar), to 5 standard errors")
def reparam_distribution(f, ref):
    mu = np.array([0.5, -1.0, 2.0])
    logvar = np.array([-1.5, 0.0, 1.2])
    eps = rng(12).standard_normal((N, 3))
    out = call(f, "reparameterize", np.tile(mu, (N, 1)), np.tile(logvar, (N, 1)), eps)   # (N, 3)
    z = returned(unpack(out, ("z", "std"), "reparameterize")[0], "z", (N, 3), np.float64,
                 "reparameterize")
    var = np.exp(logvar)
    mean, sample_var = z.mean(axis=0), z.var(axis=0, ddof=1)
    se_mean, se_var = np.sqrt(var / N), var * np.sqrt(2 / (N - 1))
    for j in range(3):
        if abs(mean[j] - mu[j]) > 5 * se_mean[j]:
            raise Wrong(f"reparameterize: dimension {j} of z has mean {mean[j]:.4f} over {N} "
                        f"draws; mu is {mu[j]:g} (5 standard errors: +-{5 * se_mean[j]:.4f})")
    for j in range(3):
        if abs(sample_var[j] - var[j]) > 5 * se_var[j]:
            seen = sample_var[j]
            hint = (WRONG_Z if abs(seen - var[j] ** 2) < 5 * var[j] ** 2 * np.sqrt(2 / N)
                    else "z = mu: no sampling" if seen < 1e-12 else "")
            raise Wrong(f"reparameterize: dimension {j} of z has variance {seen:.4f} over {N} "
                        f"draws; exp(logvar) is {var[j]:.4f} (5 standard errors: "
                        f"+-{5 * se_var[j]:.4f})"
                        + (f"; it looks like {hint}" if hint else ""))


def reparam_gradient(f, forward, whose, c):
    mu, logvar, eps, G = latent_inputs(seed=13)
    std = two(forward, "reparameterize", (mu, logvar, eps), ("z", "std"))[1]
    dmu, dlogvar = two(f, "reparameterize_backward", (G, eps, std, mu, logvar, c),
                       ("dmu", "dlogvar"))

    def loss():   # L = sum(G z) + c sum_b KL_b, so dL/dz = G
        m, lv = mu.copy(), logvar.copy()
        kl = forward.gaussian_kl(m, lv).sum() if c else 0.0
        return (G * forward.reparameterize(m, lv, eps)[0]).sum() + c * kl
    gradient_agrees(loss, {"mu": mu, "logvar": logvar}, {"mu": dmu, "logvar": dlogvar}, whose,
                    "reparameterize_backward")


@check(6, "grad-own", "dmu, dlogvar (c = 0) against central differences of your reparameterize")
def reparam_grad_own(f, ref):
    reparam_gradient(f, f, "your", 0.0)


@check(6, "grad-minivae", "dmu, dlogvar (c = 0.25) against central differences of minivae's")
def reparam_grad_minivae(f, ref):
    reparam_gradient(f, ref, "minivae's", 0.25)
