"""``python -m minivae.evaluate RUN --iw-sweep``: an NLL a learner can trust.

:func:`iw_sweep` computes and :func:`sweep_report` prints the importance-weighted
bound L_K (Burda et al. 2015; docs/math.md §9) at K = 1, 10, 100, 1000, 5000,
from the same 5000 samples per image (L_K uses the first K), with

* its standard error over the images, s / sqrt(N): how far the mean over
  these N test images may be from the mean over all images like them;
* the effective sample size of the K weights, (sum w)^2 / sum w^2 (§12):
  near 1 when one sample carries all the weight, so that L_K rests on one
  draw and a larger K still has room to move;
* the check that L_K rises with K (Burda's Theorem 1), image by image: the
  mean of L_K' - L_K over the images must not fall below -2 standard errors
  of that mean. Because the estimates share their samples, these
  differences are measured far more precisely than L_K itself;

and beside them the published numbers of the matching setting (Burda et al.
2015, Table 1), or what differs from it. A CVAE's bound is on log p(x | y)
(docs/math.md §13).

Shapes: N images, K importance samples.
"""

from __future__ import annotations

import math
import os
import textwrap
import time

import numpy as np

from ..backend import Generator, to_numpy
from .evaluation import eval_generator, evaluate_elbo, given_labels, require_vae
from .importance import iw_k_chunk, log_sums, log_weight_chunks

SWEEP_IMAGES = 1000   # test images the sweep uses by default: under a minute on 2 cores

# Burda, Grosse & Salakhutdinov 2015, Table 1: dynamically binarized MNIST, test -log p(x)
# with K = 5000, one stochastic layer 784-200-200-50 (tanh), 3280 passes, batch 20.
BURDA_SETTING = {"dataset": "mnist", "binarize": True, "hidden": [200, 200],
                 "decoder_hidden": None, "latent_dim": 50, "activation": "tanh",
                 "likelihood": "bernoulli", "arch": "dense"}
BURDA_TABLE1 = {("elbo", 1): 86.76, ("elbo", 5): 86.47, ("elbo", 50): 86.35,   # "VAE k"
                ("iwae", 1): 86.76, ("iwae", 5): 85.54, ("iwae", 50): 84.78}   # "IWAE k"
BURDA_PASSES = 3280
SWEEP_KS = (1, 10, 100, 1000, 5000)   # evaluate --iw-sweep


def iw_sweep(model, x, ks=SWEEP_KS, rng: Generator | None = None, batch_size: int = 100,
             labels=None) -> dict:
    """L_K for every K in ``ks``, image by image, from one set of max(ks) samples per image.

    Returns {K: (L_K (N,), ESS_K (N,))} as NumPy float64: L_K(x) = logsumexp of the
    first K log-weights - log K (§9), ESS_K their effective sample size (§12). The
    estimates for the different K share their samples (the first K of max(ks)), so
    their differences are measured far more precisely than independent estimates
    would be: the sweep's check that L_K rises with K compares them image by image.
    """
    require_vae(model, "the importance-weighted bound")
    ks = sorted(set(int(k) for k in ks))
    K, xp = ks[-1], model.xp
    rng = rng or eval_generator(model, 0)
    k_chunk = iw_k_chunk(model, batch_size)
    bounds = {k: [] for k in ks}
    for start in range(0, x.shape[0], batch_size):
        s = slice(start, start + batch_size)               # a batch of images
        log_w = xp.concatenate(list(log_weight_chunks(model, x[s], K, rng, k_chunk,
                                                      given_labels(model, labels, s))))   # (K, B)
        for k in ks:
            lse, lse2 = log_sums(log_w[:k], xp)             # (B,) each, one (k, B) array made
            bounds[k].append(xp.stack([lse - math.log(k), xp.exp(2 * lse - lse2)]))   # (2, B)
    return {k: tuple(to_numpy(xp.concatenate(v, axis=1))) for k, v in bounds.items()}


def differences(run: dict) -> list[str]:
    """The settings of a run (its train_config) that differ from Burda et al.'s Table 1."""
    out = []
    for key, want in BURDA_SETTING.items():
        got = run.get(key)
        got = list(got) if isinstance(got, tuple) else got
        if key == "decoder_hidden" and got in (None, [200, 200]):
            continue
        if got != want:
            shown = os.path.basename(got) if key == "dataset" and isinstance(got, str) else got
            out.append(f"{key} {shown} (theirs: {want})")
    if run.get("model", "vae") != "vae":
        out.append(f"model {run.get('model')} (theirs: vae)")
    return out


def published_lines(run: dict, epochs) -> list[str]:
    """The published numbers beside the sweep: for this run's setting, or saying it differs."""
    objective, k = run.get("objective", "elbo"), run.get("k", 1)
    lines = ["  published: Burda et al. 2015, Table 1 (dynamically binarized MNIST, "
             "784-200-200-50 tanh,", "    K = 5000, 3280 passes): VAE 86.76, IWAE k=50 84.78 nats"]
    diffs = differences(run)
    if diffs:
        text = "Not this run's setting, so not comparable: " + "; ".join(diffs) + "."
        return lines + textwrap.wrap(text, 98, initial_indent="    ", subsequent_indent="    ")
    name = ("VAE" if objective == "elbo" else "IWAE") + f" k={k}"
    if (objective, k) in BURDA_TABLE1:
        lines.append(f"    this run's setting: {name}, {BURDA_TABLE1[(objective, k)]:.2f} nats")
    else:
        lines.append(f"    this run's setting, but Table 1 has no {name} (k = 1, 5, 50)")
    if isinstance(epochs, int) and epochs < BURDA_PASSES:
        lines.append(f"    after {BURDA_PASSES} passes; this run trained {epochs}, so expect a "
                     "higher number")
    return lines


def sweep_report(model, x, labels, run: dict, epochs, seed: int, ks=SWEEP_KS,
                 images: int | None = SWEEP_IMAGES, batch_size: int = 100) -> list[str]:
    """The lines ``evaluate --iw-sweep`` prints: the ELBO, L_K per K, the check, the paper.

    x: (N, D) test images on the model's device (labels: a CVAE's (N,)); the
    first ``images`` of them (None: all) are used.
    """
    total = x.shape[0]
    n = total if images is None else min(images, total)
    x, labels = x[:n], None if labels is None else labels[:n]
    what = "-log p(x | y)" if model.kind == "cvae" else "-log p(x)"
    elbo = evaluate_elbo(model, x, rng=eval_generator(model, seed), labels=labels)
    start = time.perf_counter()
    sweep = iw_sweep(model, x, ks, rng=eval_generator(model, seed + 2), batch_size=batch_size,
                     labels=labels)                      # {K: (L_K (n,), ESS (n,))}
    seconds = time.perf_counter() - start
    scope = f"all {n}" if n == total else f"the first {n} of {total}"
    lines = [f"  L_K on {scope} test images, the same {max(sweep)} samples for every K "
             f"({seconds:.1f} s)",
             f"  test ELBO (analytic KL, one z per image): -ELBO {elbo['loss']:.2f} nats",
             f"  {'K':>6}  {'-L_K':>9}  {'s.e.':>5}  {'ESS':>8}  {'-L_K - (-L_K before)':>22}"]
    previous, falls = None, []
    for k in sorted(sweep):
        bound, ess = sweep[k]
        mean, se = -bound.mean(), bound.std() / math.sqrt(n)
        step = ""
        if previous is not None:
            d = bound - previous                         # (n,) L_K - L_K_before, each image
            d_mean, d_se = d.mean(), d.std() / math.sqrt(n)
            step = f"{-d_mean:+9.3f} +- {d_se:.3f}"
            if d_mean < -2 * d_se:
                falls.append(k)
        lines.append(f"  {k:6d}  {mean:9.2f}  {se:5.2f}  {ess.mean():8.1f}  {step:>22}".rstrip())
        previous = bound
    lines.append("  check: L_K rises with K within error (Burda et al. 2015, Theorem 1)"
                 if not falls else
                 f"  check FAILED: L_K falls at K = {falls} by more than 2 standard errors")
    last = max(sweep)
    ess = sweep[last][1]
    bound = sweep[last][0]                              # (n,) L_K of the largest K
    lines.append(f"  {what} ~ {-bound.mean():.2f} +- {bound.std() / math.sqrt(n):.2f} nats "
                 f"(K = {last}); ESS {np.median(ess):.1f} (median) of {last}")
    return lines + published_lines(run, epochs)
