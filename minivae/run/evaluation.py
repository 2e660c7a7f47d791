"""Measuring a trained model on held-out images.

Four measurements, each over a whole test set in batches:

* :func:`evaluate_elbo`: the loss the model trains on (negative ELBO, with one
  sample of z per image) and its two parts, in nats per image. The PyTorch
  example reports exactly this as its "Test set loss".
  :func:`per_example_loss` gives the same terms image by image.
* :func:`reconstruction_metrics`: MSE, PSNR and SSIM between each image and
  its reconstruction from the posterior mean, decode(mu(x)).
* :func:`iw_log_likelihood`: the importance-weighted estimate of log p(x)
  (Burda, Grosse & Salakhutdinov 2015), which tightens towards the true
  log-likelihood as the number K of samples grows. Its log importance
  weights, chunk by chunk, are importance.py's.
* :func:`active_units`: how many latent dimensions the encoder uses, and
  :func:`latent_diagnostics`: that and each dimension's KL (posterior collapse).

A CVAE's measurements take the test labels (``labels``, (N,) on the model's
device) and are conditional: its ELBO and L_K bound log p(x | y).

Sums are accumulated on the model's device and read back once at the end:
on a GPU, reading a number forces the CPU to wait for the GPU.

Shapes: N images, B batch, D pixels, Z latent size, K importance samples.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import Generator, get_array_module, to_numpy
from ..data import binarize
from ..vae import VAE
from .importance import iw_k_chunk, iw_log_sums
from .metrics import mse, psnr_from_mse, ssim

EVAL_SEED_OFFSET = 1_000_003   # evaluation noise is seeded apart from the training noise


def eval_generator(model, seed: int) -> Generator:
    """A generator for evaluation noise that leaves the training generator untouched.

    Drawing the test-set eps from ``model.rng`` would change the noise of the
    following training steps, so a resumed run would drift from an
    uninterrupted one. A fresh generator, with the same seed at every
    evaluation, also makes epoch-to-epoch changes in the test loss reflect the
    model rather than the luck of the draw.
    """
    return Generator(model.xp, seed + EVAL_SEED_OFFSET)


def binarize_test_set(x, seed: int):
    """The one fixed binarization of a test set that a --binarize run of ``seed`` uses.

    train.py measures each epoch on it and evaluate.py repeats the measurement,
    so both must draw exactly the same 0/1 pixels: x (N, D) -> (N, D) of 0/1.
    """
    return binarize(x, seed + EVAL_SEED_OFFSET + 1)


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def require_vae(model, what: str) -> None:
    if model.kind not in ("vae", "cvae"):
        raise ValueError(f"{what} needs a VAE (an autoencoder has no q(z|x) and no prior)")


def given_labels(model, labels, s):
    """What a model reads besides x for rows ``s``: (y,) for a CVAE, () for the others."""
    if model.kind != "cvae":
        return ()
    if labels is None:
        raise ValueError("a CVAE is measured with its test labels: pass labels=")
    return (labels[s],)


def reconstruct(model, x, labels=None):
    """model.reconstruct(x), or (x, y) for a CVAE: (B, D) -> (B, D)."""
    return model.reconstruct(x, *given_labels(model, labels, slice(None)))


def per_example_loss(model, x, batch_size: int = 1000, rng: Generator | None = None,
                     labels=None):
    """The loss of every row of ``x`` (N, D), one z ~ q(z|x) each, on the model's device.

    Returns (loss (N,), {"recon": (N,), "kl": (N,)}), nats per image, with
    loss = recon + beta * KL as in training. For an Autoencoder z is its code
    and the KL is 0. The noise comes from ``rng`` (default: a fixed
    evaluation generator), so training's noise is left untouched.
    """
    rng = rng or eval_generator(model, 0)
    batches = []
    for s in _batches(x.shape[0], batch_size):
        xb = x[s]                                          # (B, D)
        B = xb.shape[0]
        eps = rng.normal((B, model.latent_dim), dtype=model.dtype) if model.kind != "ae" else None
        # One sample and the analytic KL, also for an IWAE: the VAE's (or the AE's) own loss.
        one_sample = VAE.loss if model.kind == "vae" else type(model).loss   # an IWAE's too
        loss, parts = one_sample(model, xb, *given_labels(model, labels, s), eps,
                                 reduce=False)             # (B,), {"recon", "kl"}: (B,)
        batches.append((loss, parts["recon"], parts["kl"]))
    loss, recon, kl = (model.xp.concatenate(column) for column in zip(*batches))   # (N,) each
    return loss, {"recon": recon, "kl": kl}


def evaluate_elbo(model, x, batch_size: int = 1000, rng: Generator | None = None,
                  labels=None) -> dict:
    """Mean loss, recon and KL per image over ``x`` (N, D), one z sample each.

    The loss is recon + beta * KL as in training, so for beta = 1 it is the
    negative ELBO: an upper bound on -log p(x).
    """
    loss, parts = per_example_loss(model, x, batch_size, rng, labels)    # (N,) each
    return _mean_terms(model.xp, loss, parts["recon"], parts["kl"])


def _mean_terms(xp, loss, recon, kl) -> dict:
    """The means of three (N,) arrays, in float64, read back once."""
    terms = xp.stack([loss, recon, kl]).astype(xp.float64)   # (3, N)
    loss, recon, kl = to_numpy(terms.mean(axis=1))         # one read per evaluation
    return {"loss": float(loss), "recon": float(recon), "kl": float(kl)}


def reconstruction_metrics(model, x, image_shape, batch_size: int = 1000, labels=None) -> dict:
    """Mean MSE, PSNR (dB) and SSIM of decode(mu(x)) against x, over ``x`` (N, D).

    SSIM needs images at least 7 pixels on a side (its window); smaller
    images get NaN for it.
    """
    totals = model.xp.zeros(3, dtype=model.xp.float64)    # sums of mse, psnr, ssim
    for s in _batches(x.shape[0], batch_size):
        xb = model._as_input(x[s])                         # (B, D), on the model's device
        rb = model.reconstruct(xb, *given_labels(model, labels, s))   # (B, D)
        totals += _quality_sums(xb, rb, image_shape)
    return _quality_means(totals, x.shape[0], image_shape)


def _quality_sums(xb, rb, image_shape):
    """Sums over a batch of MSE, PSNR and SSIM (0 without SSIM): (B, D) x2 -> (3,)."""
    xp = get_array_module(xb)
    ims = xb.reshape(-1, *image_shape)                     # (B, H, W[, C])
    rec = rb.reshape(-1, *image_shape)
    err = mse(ims, rec)                                    # (B,)
    per_image = [err, psnr_from_mse(err, data_range=1.0)]  # each (B,)
    has_ssim = min(tuple(image_shape)[:2]) >= 7
    per_image.append(ssim(ims, rec, data_range=1.0) if has_ssim else xp.zeros_like(err))
    return xp.stack([p.sum() for p in per_image])


def _quality_means(totals, n, image_shape) -> dict:
    m, p, s = to_numpy(totals) / n
    has_ssim = min(tuple(image_shape)[:2]) >= 7
    return {"mse": float(m), "psnr": float(p), "ssim": float(s) if has_ssim else math.nan}


def test_set_metrics(model, x, image_shape, batch_size: int = 1000, rng: Generator | None = None,
                     labels=None):
    """(evaluate_elbo(...), reconstruction_metrics(...)) of ``x`` (N, D) in one pass.

    The same numbers as the two functions, in about 3/4 of their time: the
    encoder runs once per batch for both, its mu decoded for the
    reconstruction and z = mu + std eps for the loss (what model.loss does,
    with the same eps). train.py measures the test set with it every epoch.
    """
    if model.kind == "ae":
        return (evaluate_elbo(model, x, batch_size, rng),
                reconstruction_metrics(model, x, image_shape, batch_size))
    xp, rng = model.xp, rng or eval_generator(model, 0)
    totals = xp.zeros(3, dtype=xp.float64)                 # sums of mse, psnr, ssim
    terms = []
    for s in _batches(x.shape[0], batch_size):
        xb = model._as_input(x[s])                         # (B, D)
        eps = rng.normal((xb.shape[0], model.latent_dim), dtype=model.dtype)   # as per_example_loss
        eps = xp.asarray(eps)                              # a NumPy generator's, uploaded
        given = given_labels(model, labels, s)                   # (y,) for a CVAE
        y1h = tuple(model.one_hot(y) for y in given)       # (B, C)
        mu, logvar, _, _, out = model._forward(xb, *y1h, eps)   # as model.loss: (B, Z) x4, (B, D)
        recon = model.likelihood.nll(out, xb)              # (B,)
        kl = model.ops.gaussian_kl(mu, logvar)             # (B,)
        terms.append((recon + model.beta * kl, recon, kl))
        totals += _quality_sums(xb, model.decode(mu, *given), image_shape)   # reconstruct(xb)
    loss, recon, kl = (xp.concatenate(column) for column in zip(*terms))   # (N,) each
    return _mean_terms(xp, loss, recon, kl), _quality_means(totals, x.shape[0], image_shape)


def iw_log_likelihood(model, x, k: int, rng: Generator | None = None, batch_size: int = 100,
                      k_chunk: int | None = None, ess: bool = False, labels=None):
    """Importance-weighted estimate of log p(x) for each row of ``x``, shape (N,).

    Burda et al. (2015), eq. (8): with z_1..z_K drawn from q(z|x),

        log p(x) >= L_K = log (1/K) sum_k w_k,   w_k = p(x|z_k) p(z_k) / q(z_k|x)

    L_1 is the ELBO (with the KL estimated by sampling), and L_K increases
    towards log p(x) as K grows. The weights are far too small to hold in
    floating point (log w ~ -100), so everything stays in log space: each
    chunk of samples gives a log-sum-exp (importance.py's ``log_sums``), and the
    chunks are added in log space, log(e^a + e^b) = logaddexp(a, b)
    (docs/math.md §9).

    ess=True also returns the effective sample size of the K normalised
    weights, (sum w)^2 / sum w^2 = exp(2 logsumexp(log w) - logsumexp(2 log w)),
    (N,) in [1, K]: (log p, ess). Memory grows with batch_size * k_chunk * D.
    """
    require_vae(model, "the importance-weighted log-likelihood")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    xp = model.xp
    rng = rng or eval_generator(model, 0)
    out = []
    for s in _batches(x.shape[0], batch_size):
        out.append(iw_log_sums(model, x[s], k, rng, k_chunk or iw_k_chunk(model, batch_size),
                               given_labels(model, labels, s)))
    lse, lse2 = (xp.concatenate(column) for column in zip(*out))   # (N,) each
    log_px = lse - math.log(k)                              # (N,)
    return (log_px, xp.exp(2 * lse - lse2)) if ess else log_px





ACTIVE_THRESHOLD = 0.01   # Burda et al. 2015, Sec. 5.2: a unit is active above this variance


def latent_activity(means):
    """Var over the data of each dimension's posterior mean, (N, Z) -> (Z,), in float64.

    Var_x[mu_j(x)] is ~0 for a collapsed dimension j, whose q(z_j|x) is the
    same whatever x: it carries no information and costs no KL.
    """
    return means.astype(get_array_module(means).float64).var(axis=0)   # (N, Z) -> (Z,)


def active_units(model, x, threshold: float = ACTIVE_THRESHOLD, batch_size: int = 1000,
                 labels=None):
    """(count, variances): the latent dimensions j with Var_x[mu_j(x)] > threshold.

    Burda et al. (2015), Sec. 5.2: a unit is active when its posterior mean
    moves with the input; the others have collapsed to the prior ("posterior
    collapse"). ``variances`` is :func:`latent_activity` over ``x`` (N, D),
    a NumPy (Z,) array.
    """
    require_vae(model, "counting active units")
    mu = model.xp.concatenate([model.encode(x[s], *given_labels(model, labels, s))[0]
                               for s in _batches(x.shape[0], batch_size)])   # (N, Z)
    variances = to_numpy(latent_activity(mu))              # (Z,)
    return int((variances > threshold).sum()), variances


def latent_diagnostics(model, x, labels=None, threshold: float = ACTIVE_THRESHOLD,
                       batch_size: int = 1000) -> dict:
    """Posterior collapse, measured on ``x`` (N, D): what a run writes into latents.csv.

    {"active_units": how many dimensions have Var_x E_q[z_j] > threshold (Burda et
    al. 2015), "kl": the mean KL per image, "kl_dims": (Z,) each dimension's mean KL,
    in nats (docs/math.md §4, §14)}. One pass of the encoder; read back once.
    """
    require_vae(model, "the latent diagnostics")
    xp, means = model.xp, []
    kl = xp.zeros(model.latent_dim, dtype=xp.float64)                # (Z,) sums over images
    for s in _batches(x.shape[0], batch_size):
        mu, logvar = model.encode(x[s], *given_labels(model, labels, s))   # (B, Z) each
        kl += model.ops.gaussian_kl_per_dim(mu, logvar).astype(xp.float64).sum(axis=0)
        means.append(mu)
    variances = to_numpy(latent_activity(xp.concatenate(means)))    # (Z,)
    kl_dims = to_numpy(kl) / x.shape[0]                              # (Z,)
    return {"active_units": int((variances > threshold).sum()), "kl": float(kl_dims.sum()),
            "kl_dims": kl_dims}


def pick_examples(labels, n: int, count: int = 10) -> np.ndarray:
    """Indices of ``count`` of ``n`` images to show.

    With labels: the first image of each class, in class order (the smallest
    ``count`` labels); with fewer classes than ``count`` (faces and non-faces),
    then the next images in order until there are ``count``. Without labels:
    the first ``count``.
    """
    if labels is None:
        return np.arange(min(count, n))
    _, first = np.unique(np.asarray(labels)[:n], return_index=True)   # sorted by label
    rest = np.setdiff1d(np.arange(n), first)[:max(0, count - len(first))]   # in order
    return np.concatenate([first[:count], rest]).astype(np.int64)
