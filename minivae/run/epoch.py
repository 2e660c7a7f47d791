"""One epoch of training, and the measurement that follows it: what train.py repeats.

    for x in batches:                          # x: (B, D) on the device
        loss, parts = model.loss_and_grads(x)  # negative ELBO, nats per image
        opt.step(model.grads)

``train_epoch`` runs that loop, records every step's loss without waiting
for the GPU, and stops between two steps on Ctrl-C or SIGTERM (signals.py)
or on a loss that is NaN or exploding (divergence.py). ``measure`` then
measures the test set (evaluation.py) and returns the epoch's row of metrics.csv.
"""

from __future__ import annotations

import math
import time

import numpy as np
from tqdm.auto import tqdm

from ..backend import Generator, derived_seed, to_numpy
from ..fast.gpu import HostCopy
from .config import TrainConfig
from .divergence import NonFiniteLoss, check_losses, loss_limit
from .evaluation import eval_generator, iw_log_likelihood, test_set_metrics
from .schedule import kl_weight
from .signals import Interrupted
from ..fast.threads import BlasThreads

NOISE_STREAM = 1   # derived_seed(seed, epoch, 1) seeds an epoch's eps; (seed, epoch) its shuffling
LOG_EVERY = 50   # steps between two readings of the running loss for the progress bar


def measure(model, data, cfg: TrainConfig, epoch: int, train_stats: dict, start: float) -> dict:
    """The epoch's row of metrics.csv; raises NonFiniteLoss rather than let NaN be saved."""
    # One pass over the test set for both (evaluation.py); it ends by reading its
    # sums back to the host, so all the GPU work queued so far has finished and
    # "seconds" counts it.
    test, quality = test_set_metrics(model, data.x_test, data.image_shape,
                                     rng=eval_generator(model, cfg.seed), labels=data.y_test)
    if getattr(model, "objective", None) == "iwae":   # the bound it trains on, and its weights
        bound, ess = iw_log_likelihood(model, data.x_test, model.k, ess=True,
                                       rng=eval_generator(model, cfg.seed))
        test.update(iwae=-float(bound.mean()), ess=float(ess.mean()))
    if not (math.isfinite(test["loss"]) and bool(model.xp.isfinite(model.params.flat).all())):
        raise NonFiniteLoss("the test loss or the parameters became NaN or infinite in "
                            f"epoch {epoch}")
    if abs(test["loss"]) > loss_limit(model):
        raise NonFiniteLoss(f"the test loss exploded to {test['loss']:.3g} nats per image in "
                            f"epoch {epoch} (more than {loss_limit(model):.3g}: the run diverged)")
    return {"epoch": epoch, **{f"train_{k}": v for k, v in train_stats.items()},
            **{f"test_{k}": v for k, v in test.items()}, **quality,
            "seconds": time.perf_counter() - start}


def train_epoch(model, opt, batches, epoch: int, cfg: TrainConfig, stop,
                threads: BlasThreads | None = None) -> dict:
    """One pass over the training set; returns the mean loss, recon and KL per image.

    A batch is x, or (x, y) for a CVAE. With --kl-warmup each step gets its own
    KL weight beta_t (schedule.kl_weight), and the epoch's last one is returned
    as "beta"; with --free-bits the KL the objective charged, "kl_penalty".

    Each step's (loss, recon, kl) is written into a device array, not read:
    reading a number from the GPU waits for it. The array is read once at the
    end, where it also tells at which step a NaN first appeared. The progress
    bar's running loss comes from a HostCopy queued every LOG_EVERY steps and
    shown once it has arrived: on the CPU at once, on the GPU a few steps
    later, and the loop never waits for the GPU. ``threads`` (auto) follows
    the machine's load between two steps (threads.py).
    """
    xp, n_steps = model.xp, len(batches)
    # The epoch's noise eps comes from a generator seeded by (seed, epoch), like
    # its shuffling: a resumed run draws exactly what an uninterrupted one would,
    # on the GPU too (where a generator's state cannot be saved).
    model.rng = Generator(xp, derived_seed(cfg.seed, epoch, NOISE_STREAM))
    names = ("loss", "recon", "kl", "ess") if getattr(model, "objective", "") == "iwae" else \
        ("loss", "recon", "kl")                             # what each step records
    if getattr(model, "free_bits", 0):
        names += ("kl_penalty",)                            # beta sum_j max(lambda, KL_j)
    step, beta = {}, None                                   # the warm-up's beta_t, if any
    per_step = xp.zeros((n_steps, len(names)), dtype=xp.float64)   # (steps, names)
    sizes = np.zeros(n_steps)                               # (steps,) batch sizes
    bar = tqdm(total=n_steps, desc=f"epoch {epoch}/{cfg.epochs}", unit="step", leave=False,
               disable=True if cfg.quiet else None)         # None: only on a terminal
    done, reading, limit = 0, None, loss_limit(model)
    # np.errstate: a diverging loss would make NumPy print overflow warnings
    # from deep inside the model; the check after the loop says it better.
    with bar, np.errstate(over="ignore", invalid="ignore"):
        for i, batch in enumerate(batches):                 # x (B, D), or (x, y (B,))
            if stop.requested:
                raise Interrupted(f"epoch {epoch} step {i}/{n_steps}", stop.signum)
            if threads is not None:
                threads.tick()
            data = batch if isinstance(batch, tuple) else (batch,)
            if cfg.kl_warmup:                               # beta rises from 0, step by step
                beta = kl_weight(cfg.beta, cfg.kl_warmup, epoch, i, n_steps)
                step = {"beta": beta}
            loss, parts = model.loss_and_grads(*data, **step)
            opt.step(model.grads)
            row = per_step[i]                               # (names,), a view
            for j, name in enumerate(names):
                row[j] = loss if name == "loss" else parts[name]
            sizes[i], done = data[0].shape[0], i + 1
            if done % LOG_EVERY == 0 or done == n_steps:
                bar.update(done - bar.n)
                reading = HostCopy(per_step[:done, 0].mean())   # running loss, queued, not awaited
            if reading is not None and reading.ready():
                value, reading = float(reading.value), None
                bar.set_postfix(loss=f"{value:.2f}")
                if not (math.isfinite(value) and abs(value) <= limit):
                    break                                   # the check below names the step
    values = to_numpy(per_step[:done])                      # (done, names): the one read per epoch
    check_losses(values, epoch, n_steps, limit)
    # Mean per image = sum over batches of (batch mean x batch size) / N, as PyTorch's example.
    means = (values * sizes[:done, None]).sum(axis=0) / sizes[:done].sum()
    return {**dict(zip(names, map(float, means))), **({} if beta is None else {"beta": beta})}
