"""Train a VAE: ``python -m minivae.train`` (``--help`` lists every option).

The defaults reproduce the PyTorch example (pytorch/examples, vae/main.py):
784-400-20, ReLU, Bernoulli likelihood, Adam 1e-3, batch 128, 10 epochs,
seed 1, MNIST in [0, 1]. One epoch is

    for x in batches:                          # x: (B, 784) on the device
        loss, parts = model.loss_and_grads(x)  # negative ELBO, nats per image
        opt.step(model.grads)

then the test set is measured and everything is saved (train_data.py: the
batches and the test set; epoch.py: one epoch and its measurement; runs.py:
the run directory; evaluation.py: the measurements). Three things can stop a
run early, and each leaves the last good checkpoint in place:

* Ctrl-C, or SIGTERM (kill, timeout, a batch scheduler): the current step
  finishes and the run exits (status 130, or 143 for SIGTERM) telling you
  how to resume; a second one aborts at once (signals.py).
* a loss that is NaN or infinite, or finite but exploding (see
  divergence.py): reported with its epoch and step, no
  checkpoint is written (status 1).
* being killed (even SIGKILL): every file is written atomically, so
  ``--resume DIR`` continues from the last finished epoch.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from ..autoencoder import Autoencoder
from ..backend import get_xp, resolve_device, to_numpy
from .config import CHECKPOINT, TrainConfig
from .console import (collapse_warning, epoch_line, final_line, flush_every_line, header_lines,
                      plural)
from ..data import DataError
from .divergence import NonFiniteLoss, advice, check_gaussian_std
from .epoch import measure, train_epoch
from .evaluation import latent_diagnostics, reconstruct
from .schedule import learning_rate as scheduled_rate
from .signals import (MEMORY_ADVICE, Interrupted, StopOnSignal, TerminateAsInterrupt,
                      aborted_status, out_of_memory, ran_out_of_memory)
from ..optim import SGD, Adam
from .presets import check_fits
from .run_tables import (append_latents, append_metrics, metric_columns, read_latents,
                         read_metrics, truncate_latents, truncate_metrics, write_reconstructions)
from .runs import (RunError, check_same_data, check_same_run, create_run_dir, default_run_dir,
                   load_checkpoint, lock_run_dir, restore, save_checkpoint, write_config)
from ..files.serialize import CheckpointError, WriteError
from ..fast.gpu import enable_tf32
from ..fast.threads import BlasThreads, restore_original
from .train_cli import parse_args
from .train_data import load_data
from .budget import check_steps, check_training, held_bytes, in_option_words
from ..files.budget import OverBudget
from ..params import param_budget
from ..cvae import CVAE
from ..iwae import IWAE
from ..vae import VAE

def main(argv=None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit status."""
    flush_every_line()                      # every line reaches a pipe or a log at once
    with TerminateAsInterrupt():            # SIGTERM aborts like Ctrl-C, not silently
        try:
            return command(argv)
        except KeyboardInterrupt as e:      # outside the steps, or a second one during them
            print("\nAborted.", file=sys.stderr)
            return aborted_status(e)        # 130 for Ctrl-C, 143 for SIGTERM


def command(argv) -> int:
    """The command itself: parse ``argv``, train, and turn the expected errors into one line."""
    cfg, resume_dir = parse_args(argv)      # bad options: argparse exits with status 2
    try:
        device = resolve_device(cfg.device)  # "auto" -> "cuda" or "cpu"
        return run(cfg, resume_dir, device)
    except (DataError, CheckpointError, RunError, OSError) as e:   # OSError: e.g. unwritable --out
        print(f"error: {e}", file=sys.stderr)
        saved = cfg.out and os.path.exists(os.path.join(cfg.out, CHECKPOINT))
        if isinstance(e, WriteError) and saved:
            print(f"The last finished epoch is safe in {cfg.out}; once the file can be written, "
                  f"continue with: python -m minivae.train --resume {cfg.out}", file=sys.stderr)
        return 1
    except (MemoryError, RuntimeError) as e:
        if out_of_memory(e):                # one the budget did not foresee: on a GPU, CuPy's
            print(f"error: {ran_out_of_memory(e)}\n{MEMORY_ADVICE}", file=sys.stderr)
            if cfg.out and os.path.exists(os.path.join(cfg.out, CHECKPOINT)):
                print(f"The last finished epoch is safe in {cfg.out}; once the memory is free, "
                      f"continue with: python -m minivae.train --resume {cfg.out}",
                      file=sys.stderr)
            return 1
        if cfg.device != "cuda":            # a RuntimeError: --device cuda without CuPy or a
            raise                           # GPU is said in one line, anything else raised
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        restore_original()                  # the BLAS threads as they were before the run


def build_model(cfg: TrainConfig, input_dim: int, device: str, image_shape=None,
                num_classes=None):
    """The model cfg describes, for images of ``image_shape`` ((H, W) or (H, W, C)).

    ``num_classes``: a CVAE's classes, from its data set (``load_data``).

    Options that do not fit the data (a preset for other images, a kernel
    larger than the feature maps...) raise RunError with the reason.
    """
    kwargs = dict(input_dim=input_dim, hidden_dims=cfg.hidden, latent_dim=cfg.latent_dim or None,
                  decoder_hidden_dims=cfg.decoder_hidden,
                  likelihood=cfg.likelihood, gaussian_std=cfg.gaussian_std,
                  activation=cfg.activation, dtype=cfg.dtype,
                  device=device, seed=cfg.seed, init=cfg.init)
    kwargs.update(decoder_activation=cfg.decoder_activation, pixel_range=cfg.pixel_range)
    try:
        check_fits(cfg.preset, image_shape or (input_dim, 1))
        if cfg.likelihood == "gaussian":
            check_gaussian_std(cfg.gaussian_std, cfg.dtype, input_dim)
        if cfg.arch == "conv":
            H, W, C = (*(image_shape or (input_dim, 1)), 1)[:3]   # the loaders' (H, W[, C])
            kwargs.update(arch="conv", image_shape=(C, H, W), channels=cfg.channels,
                          kernel_size=cfg.kernel_size, stride=cfg.stride, padding=cfg.padding)
        if cfg.model == "ae":
            return Autoencoder(**kwargs)
        if cfg.k > 1 or cfg.objective == "iwae":             # k samples of z per example
            return IWAE(beta=cfg.beta, k=cfg.k, objective=cfg.objective, **kwargs)
        if cfg.model == "cvae":                              # q(z|x,y), p(x|z,y)
            return CVAE(beta=cfg.beta, free_bits=cfg.free_bits,
                        num_classes=num_classes or cfg.num_classes or 10, **kwargs)
        return VAE(beta=cfg.beta, free_bits=cfg.free_bits, **kwargs)
    except OverBudget as e:                 # its layers or parameters: params.py
        raise RunError(str(in_option_words(e, cfg))) from None
    except ValueError as e:
        raise RunError(f"the model options do not fit: {e}") from None


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch`` (1-based): constant, or the IWAE paper's stages."""
    return scheduled_rate(cfg.lr_schedule, cfg.lr, epoch)


def run(cfg: TrainConfig, resume_dir: str | None, device: str, held=None) -> int:
    if held is None:   # held: an ExitStack that keeps the run directory locked
        with contextlib.ExitStack() as held:
            return run(cfg, resume_dir, device, held)
    say = (lambda *a: None) if cfg.quiet else print
    if cfg.tf32 and device == "cuda":
        enable_tf32()                       # before the first GEMM: see fast/gpu.py
    elif cfg.tf32:
        print("note: --tf32 has no effect on the CPU (--device auto found no GPU)", file=sys.stderr)
    data = load_data(cfg, get_xp(device))
    in_use = held_bytes([data.batches.data, data.x_test])         # counted with all the rest
    check_steps(cfg, data, in_use)          # a step and a test batch, before the model
    held.enter_context(param_budget(held=in_use))    # the model's size: params.py
    model = build_model(cfg, data.x_test.shape[1], device, data.image_shape, data.num_classes)
    if cfg.exercises:   # the learner's own functions in place of minivae's: minivae/exercises/
        from ..exercises.swap import with_student_functions
        model = with_student_functions(model, cfg.exercises, cfg.optimizer)
    check_training(cfg, model, data)        # with the optimizer's state and a step: budget.py
    opt = (Adam(model.params, lr=cfg.lr, eps=cfg.adam_eps) if cfg.optimizer == "adam"
           else SGD(model.params, lr=cfg.lr, momentum=cfg.momentum))
    run_dir, done = open_run(cfg, resume_dir, model, opt, data.batches, held, data.fingerprint)
    threads = BlasThreads(cfg.threads).start()   # NumPy's matrix-product threads: threads.py
    if done:   # reconstructions.csv of the checkpoint's model (a kill may have left it behind)
        write_reconstructions(run_dir, data.examples, to_numpy(data.x_examples),
                              to_numpy(reconstruct(model, data.x_examples, data.y_examples)))

    for line in header_lines(cfg, model, data, device, run_dir, resumed=done > 0):
        say(line)
    say(f"  threads: {threads.describe()}; --threads N fixes it")
    if done >= cfg.epochs:
        say(f"{run_dir} has already finished {plural(done, 'epoch')}; raise --epochs to train "
            "longer.")

    epoch = done
    try:
        with StopOnSignal() as stop:          # Ctrl-C, SIGTERM: stop after the step
            for epoch in range(done + 1, cfg.epochs + 1):
                start = time.perf_counter()
                opt.lr = learning_rate(cfg, epoch)
                train_stats = train_epoch(model, opt, data.batches, epoch, cfg, stop, threads)
                row = measure(model, data, cfg, epoch, train_stats, start)
                append_metrics(run_dir, row)        # the row first, then the checkpoint: see runs.py
                if model.kind != "ae":              # each latent dimension's KL, active units
                    append_latents(run_dir, {"epoch": epoch, **latent_diagnostics(
                        model, data.x_test, labels=data.y_test)})
                write_reconstructions(run_dir, data.examples, to_numpy(data.x_examples),
                                      to_numpy(reconstruct(model, data.x_examples,
                                                           data.y_examples)))
                save_checkpoint(run_dir, model, opt, epoch, data.batches.state(), cfg,
                                data.image_shape, data.fingerprint)
                say(epoch_line(cfg, row, model.input_dim))
                for line in collapse_warning(read_latents(run_dir)):   # posterior collapse
                    print(line, file=sys.stderr)
                note = threads.news()               # auto changed the thread count
                if note:
                    say(note)
    except Interrupted as e:
        last = (f"the last checkpoint (epoch {epoch - 1}) is in {run_dir}; resume with: "
                f"python -m minivae.train --resume {run_dir}") if epoch > 1 else \
            "no epoch had finished, so there is no checkpoint yet; run the command again"
        print(f"{e.headline()}; {last}", file=sys.stderr)
        return e.status                     # 130 for Ctrl-C, 143 for SIGTERM
    except NonFiniteLoss as e:
        kept = (f"the last good checkpoint (epoch {epoch - 1}) in {run_dir} is kept unchanged"
                if epoch > 1 else "no checkpoint was written")
        print(f"error: {e}; training stopped and {kept}. {advice(resume_dir is not None)}",
              file=sys.stderr)
        return 1
    finish(model, cfg, run_dir, data)
    return 0


def open_run(cfg: TrainConfig, resume_dir, model, opt, batches, held, fingerprint=None):
    """(run directory, epochs already done): a new directory, or the state of a resumed run.

    ``fingerprint``: the data file's size and sha256, refused if the run read another.

    Either way the directory is locked until ``held`` (an ExitStack) closes.
    """
    if resume_dir is None:
        cfg.out = cfg.out or default_run_dir(cfg)
        lock = create_run_dir(cfg.out, cfg, held)
    else:
        load_checkpoint(resume_dir)             # a damaged or foreign file: refused, nothing written
        lock = lock_run_dir(resume_dir, held)   # then lock, and read it again below
    if lock.note:
        print(lock.note, file=sys.stderr)
    if resume_dir is None:
        return cfg.out, 0
    arrays, meta = load_checkpoint(resume_dir)
    path = os.path.join(resume_dir, CHECKPOINT)
    done = restore(model, opt, arrays, meta, path)   # refuses another architecture
    check_same_run(meta, cfg, path)                  # and another run's other settings
    check_same_data(meta, fingerprint, cfg.dataset, path, "resuming would go on with other "
                    "images. Put the original file back, or start a new run (another --out)")
    try:
        batches.set_state(meta["data"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: its data position does not fit this dataset ({e})") from None
    kept = truncate_metrics(resume_dir, done, metric_columns(cfg))   # drop a row written after
    if kept < done:                                  # the checkpoint; say if rows are missing
        print(f"note: {os.path.join(resume_dir, 'metrics.csv')} holds the rows of {kept} of the "
              f"{done} epochs done (it was cut short or deleted); the epochs trained from now on "
              "are added to it", file=sys.stderr)
    truncate_latents(resume_dir, done)
    cfg.epochs = max(cfg.epochs, done)       # a lower --epochs trains no more, and undoes nothing
    write_config(resume_dir, cfg)            # records a raised --epochs
    return resume_dir, done


def finish(model, cfg, run_dir, data) -> None:
    """Draw the figures (unless --no-plots) and say where everything is."""
    rows = read_metrics(run_dir)
    if cfg.plots and rows:
        try:
            from .plots import make_all_figures             # imports matplotlib: only when wanted
        except ImportError as e:
            print(f"warning: figures skipped ({e}); install matplotlib or pass --no-plots",
                  file=sys.stderr)
        else:
            make_all_figures(model, data.x_test, data.test_labels, rows, run_dir, data.image_shape,
                             cfg.to_dict(), latent_rows=read_latents(run_dir))
    if rows:
        print(final_line(cfg, rows[-1], model.input_dim))
    if rows and cfg.exercises:   # the learner's curve against PyTorch's: minivae/exercises/
        from ..exercises.reference import band_report
        band_report(rows, cfg, run_dir)
    print(f"Run directory {run_dir}:")               # a path of its own: the line stays short
    print(f"  config.json, metrics.csv, {CHECKPOINT}, reconstructions.csv"
          + (", figures and report.html" if cfg.plots and rows else ""))
    if cfg.model == "cvae":
        print(f"  new images:     python -m minivae.sample {run_dir} --label 7 -n 64 "
              "--out sevens.png")
        print(f"  log-likelihood: python -m minivae.evaluate {run_dir} --iw-sweep")
    if cfg.model == "vae":
        print(f"  new images:     python -m minivae.sample {run_dir} -n 64 --out grid.png")
        print(f"  log-likelihood: python -m minivae.evaluate {run_dir} --iw 100")

