"""Exercise 7: one whole loss_and_grads, against minivae's VAE (docs/math.md §1, §8).

The model is minivae's default shape at a small size (D = 12 pixels, H = 6,
Z = 3, B = 5 images), float64, with minivae's parameter names. The noise
check runs the eps=None path, the one training takes: it records every eps
drawn from the rng it passes, and the loss and gradients must be those of
calling again with the eps given. Drawing eps twice (one for the forward, one
kept for the backward) fails it; no gradient check can, since a gradient
check must fix eps and so never takes that path. The same check asks that the
loss change with eps at all: z = mu, no sampling, gives one loss for every eps.
"""

from __future__ import annotations

import numpy as np

from ..compare import Wrong, close, gradient_agrees, returned, unpack
from ..registry import check, normal, rng
from .layers import DTYPES

B, D, H, Z = 5, 12, 6, 3
SHAPES = {"enc0.W": (D, H), "enc0.b": (H,), "mu.W": (H, Z), "mu.b": (Z,), "logvar.W": (H, Z),
          "logvar.b": (Z,), "dec0.W": (Z, H), "dec0.b": (H,), "out.W": (H, D), "out.b": (D,)}
SCALES = {"B": B, "D": D}
ENTRIES = 24    # entries per parameter a gradient check draws (of up to 72): 4 losses each


def vae_inputs(dtype=np.float64, seed=14):
    r = rng(seed)
    params = {name: normal(r, shape, dtype, 0.5) for name, shape in SHAPES.items()}
    return params, r.uniform(0, 1, (B, D)).astype(dtype), normal(r, (B, Z), dtype)   # x, eps


def run(fn, params, x, eps, beta=1.0, generator=None, dtype=np.float64):
    """(loss, parts, grads) of ``fn``, every piece checked; the arrays passed are copies."""
    name = "vae_loss_and_grads"
    copies = {k: v.copy() for k, v in params.items()}
    eps = None if eps is None else eps.copy()
    loss, parts, grads = unpack(fn(copies, x.copy(), eps, beta, generator),
                                ("loss", "parts", "grads"), name)
    loss = returned(loss, "loss", (), dtype, name)
    if not isinstance(parts, dict) or set(parts) != {"recon", "kl"}:
        raise Wrong(f"{name} must return parts = {{'recon': ..., 'kl': ...}}; got {parts!r:.80}")
    parts = {k: returned(v, f"parts[{k!r}]", (), dtype, name) for k, v in parts.items()}
    if not isinstance(grads, dict) or set(grads) != set(SHAPES):
        got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise Wrong(f"{name} must return grads with the keys of params {sorted(SHAPES)}; got {got}")
    grads = {k: returned(grads[k], f"grads[{k!r}]", SHAPES[k], dtype, name) for k in SHAPES}
    return loss, parts, grads


@check(7, "shapes", "a number, {'recon', 'kl'}, a gradient per parameter in its shape; float32 too")
def vae_shapes(f, ref):
    for dtype in DTYPES:
        params, x, eps = vae_inputs(dtype)
        run(f.vae_loss_and_grads, params, x, eps, dtype=dtype)


NO_KL = "the KL left out: the loss is the reconstruction alone, where it is recon + beta * kl"
NO_BETA = "beta left out: recon + kl, where the loss is recon + beta * kl"
Z_IS_MU = "z = mu: no sampling, where z = mu + exp(logvar / 2) eps with the eps given"


@check(7, "values", "loss, parts and every gradient equal minivae's VAE, for beta 1 and 0.5")
def vae_values(f, ref):
    params, x, eps = vae_inputs()
    for beta in (1.0, 0.5):
        got, want = run(f.vae_loss_and_grads, params, x, eps, beta), \
            run(ref.vae_loss_and_grads, params, x, eps, beta)
        no_noise = run(ref.vae_loss_and_grads, params, x, np.zeros_like(eps), beta)   # z = mu
        recon, kl = want[1]["recon"], want[1]["kl"]
        wrong = {NO_KL: recon, Z_IS_MU: no_noise[0]}
        if beta != 1:
            wrong[NO_BETA] = recon + kl
        where = f" (beta {beta:g})"
        close(got[0], want[0], "loss", "vae_loss_and_grads", scales=SCALES, note=where,
              variants=wrong)
        for part in ("recon", "kl"):
            close(got[1][part], want[1][part], f"parts[{part!r}]", "vae_loss_and_grads",
                  scales=SCALES, note=where, variants={Z_IS_MU: no_noise[1][part]})
        for name in SHAPES:
            close(got[2][name], want[2][name], f"grads[{name!r}]", "vae_loss_and_grads",
                  scales=SCALES, note=where, variants={Z_IS_MU: no_noise[2][name]})


class Recording:
    """A numpy Generator that keeps every array it hands out (the eps drawn)."""

    def __init__(self, seed):
        self.rng, self.drawn = np.random.default_rng(seed), []

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        self.drawn.append(self.rng.standard_normal(size, dtype=dtype))
        return self.drawn[-1].copy()

    def normal(self, loc=0.0, scale=1.0, size=None):
        self.drawn.append(self.rng.normal(loc, scale, size))
        return self.drawn[-1].copy()

    def __getattr__(self, name):          # anything else: numpy's, unrecorded
        return getattr(self.rng, name)


@check(7, "noise", "with eps=None, eps is drawn once and the forward and backward both use it")
def vae_noise(f, ref):
    params, x, eps = vae_inputs()
    if run(f.vae_loss_and_grads, params, x, eps)[0] == run(f.vae_loss_and_grads, params, x,
                                                          -eps)[0]:
        raise Wrong("vae_loss_and_grads gave the same loss for eps and -eps: z does not depend "
                    "on the noise (z = mu: no sampling, where the ELBO needs z ~ q(z|x))")
    rec = Recording(15)
    loss, _, grads = run(f.vae_loss_and_grads, params, x, None, 1.0, rec)
    draws = [d for d in rec.drawn if np.shape(d) == (B, Z)]
    if not draws:
        raise Wrong("vae_loss_and_grads(params, x, eps=None, rng=rng) drew no (B, Z) array from "
                    "rng: draw the noise with eps = rng.standard_normal((B, Z))")
    for eps in draws:
        again, _, grads_again = run(f.vae_loss_and_grads, params, x, eps, 1.0)
        if np.allclose(again, loss, rtol=1e-12) and all(
                np.allclose(grads[k], grads_again[k], rtol=1e-10, atol=1e-14) for k in SHAPES):
            return
    if len(draws) > 1:
        raise Wrong(f"vae_loss_and_grads drew eps {len(draws)} times in one call, and its loss and "
                    "gradients are those of no single eps: a fresh eps in the forward while the "
                    "backward uses the stored one. Draw eps once and use it in both")
    raise Wrong("with eps=None, vae_loss_and_grads gives another loss or other gradients than "
                "with eps given as the very eps it drew: the forward and the backward must use it")


def vae_gradient(f, forward, whose):
    params, x, eps = vae_inputs(seed=16)
    _, _, grads = run(f.vae_loss_and_grads, params, x, eps)
    run(forward.vae_loss_and_grads, params, x, eps)              # its forward, checked once
    fwd = forward.vae_loss_and_grads
    gradient_agrees(lambda: float(fwd({k: v.copy() for k, v in params.items()}, x, eps.copy(), 1.0,
                                      None)[0]), params, grads, whose,
                    "vae_loss_and_grads", max_entries=ENTRIES)


@check(7, "grad-own", "every gradient against central differences of your loss (eps fixed)")
def vae_grad_own(f, ref):
    vae_gradient(f, f, "your")


@check(7, "grad-minivae", "every gradient against central differences of minivae's VAE.loss")
def vae_grad_minivae(f, ref):
    vae_gradient(f, ref, "minivae's")
