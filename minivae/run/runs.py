"""The run directory: what a training run leaves on disk, and how it resumes.

    runs/mnist-vae-20250101-120000/
        config.json          every setting (python -m minivae.train --config config.json reruns it)
        metrics.csv          one row per finished epoch (run_tables.py: its columns)
        checkpoint.npz       model, optimizer, data position, epoch: rewritten after each epoch
        reconstructions.csv  a few test images and their reconstructions, pixel by pixel
        *.png, report.html   the figures (unless --no-plots)
        .minivae-run         the marker: minivae made this directory (see rundir.py)
        .minivae-lock        exists while a run trains here: a second one is refused

Every file is replaced atomically (written under a temporary name, then
renamed), so a run killed at any instant, even by SIGKILL, leaves the last
complete version of each file. Order matters: an epoch's row goes into
metrics.csv and its reconstructions.csv is written *before* its checkpoint,
which commits the epoch; a resume drops the rows after the checkpoint's epoch
and rewrites reconstructions.csv from the checkpoint's model. So whatever the
moment of the kill, the resumed run's files equal an uninterrupted run's.
Temporary files a kill leaves behind are removed when a run (re)starts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from ..backend import resolve_device
from .checkpoints import model_from_arrays
from .config import CHECKPOINT, FIELDS, TrainConfig, check_value
from .divergence import check_gaussian_std
from .rundir import RunError, RunLock, check_new_run_dir, mark  # noqa: F401  (RunError re-exported)
from .run_tables import metric_columns
from ..files.metadata import cut, shown   # values from a file, cut for a message
from ..files.serialize import (CheckpointError, clean_temporary_files, load_npz, validate_meta,
                        write_error, write_text)

CHECKPOINT_VERSION = 1


def default_run_dir(cfg: TrainConfig) -> str:
    """runs/<dataset>-<model>-<date>-<time>; a file dataset is named by its stem."""
    name = os.path.splitext(os.path.basename(cfg.dataset))[0]
    base = os.path.join("runs", f"{name}-{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}")
    path, n = base, 1
    while os.path.exists(path):   # two runs started in the same second
        n += 1
        path = f"{base}-{n}"
    return path


def create_run_dir(run_dir: str, cfg: TrainConfig, held) -> RunLock:
    """Make ``run_dir`` for a new run, lock it and write its config.json; never overwrite a run.

    An existing directory is accepted only if it is empty or carries minivae's
    marker without a checkpoint (a run killed in its first epoch), so the
    user's own files are never replaced. ``held`` (a contextlib.ExitStack)
    keeps the lock until the run ends.
    """
    check_new_run_dir(run_dir)
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as e:
        raise write_error(e, run_dir) from None
    lock = held.enter_context(RunLock(run_dir))
    check_new_run_dir(run_dir)          # again, now that no other run can be writing here
    mark(run_dir)
    clean_temporary_files(run_dir)
    write_config(run_dir, cfg)
    write_text(os.path.join(run_dir, "metrics.csv"), ",".join(metric_columns(cfg)) + "\n")
    return lock


def lock_run_dir(run_dir: str, held) -> RunLock:
    """Lock an existing run for --resume, mark it (older runs have no marker), tidy it."""
    lock = held.enter_context(RunLock(run_dir))
    mark(run_dir)
    clean_temporary_files(run_dir)
    return lock


def write_config(run_dir: str, cfg: TrainConfig) -> None:
    """config.json: the settings, keyed by option name (so --config config.json reruns them)."""
    write_text(os.path.join(run_dir, "config.json"), json.dumps(cfg.to_dict(), indent=2) + "\n")


# -- the checkpoint -------------------------------------------------------

def checkpoint_path(path: str) -> str:
    """A run directory's checkpoint, or ``path`` itself if it is a file."""
    return os.path.join(path, CHECKPOINT) if os.path.isdir(path) else path


def save_checkpoint(run_dir, model, opt, epoch: int, data_state, cfg: TrainConfig,
                    image_shape, fingerprint=None) -> None:
    """Everything needed to continue after ``epoch``, in one atomically written file.

    ``fingerprint``: the size and sha256 of a data set from a file (data/custom.py).
    """
    opt_state = opt.state_dict()
    meta = {
        "epoch": int(epoch),
        "checkpoint_version": CHECKPOINT_VERSION,
        "optimizer": {"name": type(opt).__name__, "t": int(opt_state["t"])},
        "data": data_state,                  # the shuffling of the next epoch
        "train_config": cfg.to_dict(),
        "image_shape": [int(s) for s in image_shape],
        **({"dataset_fingerprint": fingerprint} if fingerprint else {}),
    }
    arrays = {f"optim/{k}": v for k, v in opt_state.items() if k != "t"}
    model.save(checkpoint_path(run_dir), extra_arrays=arrays, extra_meta=meta)


def load_checkpoint(path):
    """(arrays, meta) of a training checkpoint (a run directory or an .npz file), or a clear error."""
    file = checkpoint_path(path)
    if not os.path.exists(file):
        where = f"{path} has no {CHECKPOINT}" if os.path.isdir(path) else f"{path}: no such file"
        raise RunError(f"{where} (a run writes its checkpoint after each finished epoch)")
    arrays, meta = load_npz(file)            # CheckpointError if damaged or not ours
    validate_meta(meta, file, arrays)        # every field, and the arrays against them
    if "train_config" in meta:
        check_train_config(meta["train_config"], file)
    return arrays, meta


def check_train_config(settings: dict, path) -> None:
    """Refuse a checkpoint's train_config with an unknown key or a value training would reject."""
    for key, value in settings.items():
        if key not in FIELDS:
            raise CheckpointError(f"{path}: metadata field 'train_config.{cut(str(key))}' is not a "
                                  "setting of minivae.train; the file was damaged or edited")
        try:
            if value is None and FIELDS[key].default is not None:
                raise ValueError("must not be null")
            if key in ("data_dir", "out"):          # paths: they may have moved since
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"must be a path, got {shown(value)}")
            elif value is not None:
                check_value(key, value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: metadata field 'train_config.{key}': {e}; the "
                                  "file was damaged or edited") from None


def _describe(c: dict) -> str:
    """"vae 784-400-20 (relu, bernoulli, float32)"; cut short for a file's 100,000 layers."""
    hidden = c.get("hidden_dims") or []
    dims = [c.get("input_dim"), *hidden[:8], *(["..."] if len(hidden) > 8 else []),
            c.get("latent_dim")]
    return cut(f"{c.get('model')} {'-'.join(map(str, dims))} ({c.get('activation')}, "
               f"{c.get('likelihood')}, {c.get('dtype')})", 120)


def check_architecture(meta: dict, model, path) -> None:
    """Refuse a checkpoint whose model differs from ``model``, naming every difference."""
    saved, wanted = meta["config"], model.config()
    saved, wanted = {"arch": "dense", **saved}, {"arch": "dense", **wanted}   # older: dense only
    conv = saved["arch"] == wanted["arch"] == "conv"          # then its layers' shapes too
    keys = ("model", "arch", "input_dim", "hidden_dims", "decoder_hidden_dims", "latent_dim",
            "likelihood", "activation", "dtype", "gaussian_std") + (
        ("channels", "kernel_size", "stride", "padding") if conv else ())
    diffs = [f"{k}: checkpoint {shown(saved.get(k))}, config {shown(wanted.get(k))}"
             for k in keys if saved.get(k) != wanted.get(k)]
    if diffs:
        raise CheckpointError(
            f"{path} holds a {_describe(saved)}, but this run builds a {_describe(wanted)}; "
            f"they differ in " + "; ".join(diffs) + ". A checkpoint only resumes the run "
            "that wrote it: start a new run with another --out")


def check_same_run(meta: dict, cfg: TrainConfig, path) -> None:
    """Refuse a checkpoint whose run settings differ from config.json's (files of two runs)."""
    saved, now = meta.get("train_config", {}), cfg.to_dict()
    same = lambda k: (os.path.abspath(saved[k]) == os.path.abspath(now[k])   # noqa: E731
                      if k == "dataset" and saved[k] != now[k] else saved[k] == now[k])
    diffs = [f"{k}: checkpoint {shown(saved[k])}, config.json {shown(now[k])}" for k in saved
             if not FIELDS[k].metadata["resumable"] and k != "out" and not same(k)]
    if diffs:
        raise CheckpointError(f"{path} and the config.json beside it come from different runs ("
                              + "; ".join(diffs) + "); resume refused. Start a new run with "
                              "another --out")


def check_same_data(meta: dict, fingerprint, dataset, path, remedy: str) -> None:
    """Refuse when ``dataset`` (a file) is not the one the checkpoint was trained on.

    ``fingerprint``: the file's size and sha256 now; the checkpoint's were
    recorded at training (checkpoints written before that have none: no check).
    """
    saved = meta.get("dataset_fingerprint")
    if not saved or not fingerprint or saved == fingerprint:
        return
    raise CheckpointError(
        f"{dataset} changed since {path} was trained on it: the run read "
        f"{saved['bytes']:,} bytes of sha256 {saved['sha256'][:16]}..., the file now holds "
        f"{fingerprint['bytes']:,} bytes of sha256 {fingerprint['sha256'][:16]}...; {remedy}")


def restore(model, opt, arrays, meta, path) -> int:
    """Load a checkpoint into ``model`` and ``opt``; return the epoch it was written after."""
    validate_meta(meta, path, arrays, training=True)   # NaN in params or optimizer state too
    check_architecture(meta, model, path)
    model.load_params(arrays, path)
    opt_state = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
    try:
        opt.load_state_dict({**opt_state, "t": meta["optimizer"]["t"]})
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: the optimizer state does not fit this model ({e})") from None
    return int(meta["epoch"])


def add_checkpoint_args(parser) -> None:
    """The options every command reading a trained model shares: CKPT and --device."""
    parser.add_argument("checkpoint", metavar="CKPT",
                        help="a run directory or a checkpoint .npz file")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="where to run: cpu, cuda, or auto (cuda when a GPU is found; "
                             "default: auto)")


def open_checkpoint(args):
    """(model, image_shape, meta) for ``args.checkpoint`` on ``args.device``, or None
    after printing "error: ..." (a missing or damaged file, or no GPU for --device cuda)."""
    try:
        device = resolve_device(args.device)   # RuntimeError: --device cuda without a GPU
        return load_model(args.checkpoint, device)
    except (RunError, CheckpointError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def load_model(path, device="cpu"):
    """(model, image_shape, meta) from a run directory or a checkpoint file, or a clear error."""
    arrays, meta = load_checkpoint(path)
    model = model_from_arrays(arrays, meta, checkpoint_path(path), device=device)
    if model.likelihood.name == "gaussian":    # a std whose loss is no number: refused here,
        try:                                   # not as "math domain error" in the first loss
            check_gaussian_std(model.gaussian_std, model.dtype.name, model.input_dim)
        except ValueError as e:
            raise CheckpointError(f"{checkpoint_path(path)}: metadata field 'config.gaussian_std'"
                                  f": {e}; the file was damaged or edited") from None
    shape = meta.get("image_shape")
    if not shape:   # a file from model.save(): assume square grey images
        side = math.isqrt(model.input_dim)
        shape = [side, side] if side * side == model.input_dim else [1, model.input_dim]
    return model, tuple(shape), meta
