"""The settings of a training run, and the command line built from them.

One dataclass, :class:`TrainConfig`, lists every setting with its default and
a comment. The argparse parser is generated from its fields, so an option
cannot be documented in one place and parsed differently in another:

    cfg, resume_dir = parse_args(["--epochs", "20", "--hidden", "512,256"])
    cfg.epochs, cfg.hidden, resume_dir      # 20, (512, 256), None

Where a value comes from, lowest priority first:

    1. the defaults below (the PyTorch example: 784-400-20, Adam 1e-3, ...)
    2. ``--config FILE`` (TOML, or a run's config.json; keys = field names)
    3. options on the command line

With ``--resume DIR`` the base is DIR/config.json instead, and only options
that do not change what is being trained (``--epochs``, ``--device``...)
may differ from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field, fields

from .backend import DEVICES, DTYPES
from .checkpoints import MODEL_CLASSES
from .data.custom import SUFFIXES
from .likelihoods import LIKELIHOODS
from .presets import PRESETS
from .values import (activation_names, dataset_name, existing_dir, flag, int_list,
                     nonnegative_float, nonnegative_int, optional_activations, optional_int_list,
                     optional_path, positive_float, positive_int, unit_interval, width_list)
from .iwae import OBJECTIVES
from .threads import THREADS_HELP, thread_count

CHECKPOINT = "checkpoint.npz"


def preset_name(value):
    """A name of minivae/presets.py, or None (null in a run's config.json): no preset."""
    if value in (None, ""):
        return None
    if value not in PRESETS:
        raise argparse.ArgumentTypeError(f"invalid choice {value!r} (choose from "
                                         f"{', '.join(PRESETS)})")
    return value


def option(default, help, parse=None, choices=None, resumable=False, metavar=None):
    """A dataclass field carrying what argparse needs to build its option.
    resumable: may change on --resume (the resumed run still matches an uninterrupted one)."""
    meta = {"help": help, "parse": parse, "choices": choices, "resumable": resumable,
            "metavar": metavar}
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Everything a training run depends on. config.json stores one of these."""

    # Data
    dataset: str = option("mnist", "mnist, fashion-mnist, or a .npy/.npz file of images",
                          parse=dataset_name, metavar="NAME|FILE")
    data_dir: str | None = option(None, "where the dataset files are (default: $MINIVAE_DATA_DIR "
                                  "or the download cache)", parse=existing_dir, resumable=True,
                                  metavar="DIR")
    binarize: bool = option(False, "train on pixels resampled to 0/1 each epoch "
                            "(dynamic binarization) instead of grey levels in [0, 1]", parse=flag)
    # Model: the defaults are the PyTorch example's 784-400-20 VAE
    preset: str | None = option(None, "a published setup, parameter for parameter: "
                                + ", ".join(PRESETS) + " (minivae/presets.py); other options "
                                "still override it", parse=preset_name, metavar="NAME")
    model: str = option("vae", "vae, or ae for the deterministic autoencoder baseline",
                        choices=tuple(MODEL_CLASSES))
    arch: str = option("dense", "dense (MLP) or conv (Conv2d encoder, ConvTranspose2d decoder "
                       "for (C, H, W) images)", choices=("dense", "conv"))
    channels: tuple = option((32, 64), "conv only: channels of the encoder's conv layers "
                             "(the decoder mirrors them)", parse=int_list, metavar="C[,C...]")
    kernel_size: int = option(4, "conv only: kernel size k (k x k)", parse=positive_int,
                              metavar="K")
    stride: int = option(2, "conv only: stride of every conv layer", parse=positive_int,
                         metavar="S")
    padding: int = option(1, "conv only: zero padding of every conv layer",
                          parse=nonnegative_int, metavar="P")
    hidden: tuple = option((400,), "encoder hidden widths, e.g. 400 or 512,256 "
                           "(the decoder mirrors them unless --decoder-hidden is given); with --arch conv "
                           "the Dense layers "
                           "after the convolutions ('' for none)", parse=width_list,
                           metavar="W[,W...]")
    decoder_hidden: tuple | None = option(None, "decoder hidden widths, from z to the image, "
                                          "e.g. 256,512 (default: --hidden reversed)",
                                          parse=optional_int_list, metavar="W[,W...]")
    latent_dim: int = option(20, "size Z of the latent code; 0 with --arch conv --model ae: "
                             "the code is the last feature map itself", parse=nonnegative_int,
                             metavar="Z")
    likelihood: str = option("bernoulli", "the reconstruction loss: bernoulli (BCE on logits, "
                             "summed per image), gaussian (-log N(x; mean, s^2), see "
                             "--gaussian-std), or mse (the squared error summed per image, as "
                             "PyTorch labs print it; equal to gaussian with s^2 = 0.5 "
                             "less its constant 0.5 D log(pi), 448.73 for 784 pixels, so the "
                             "same gradients and training)",
                             choices=tuple(LIKELIHOODS))
    pixel_range: str = option("unit", "the range the model trains on: unit ([0, 1]), or "
                              "symmetric ([-1, 1], as some labs: the encoder reads "
                              "2x-1, the decoder ends in tanh; needs mse or gaussian)", choices=("unit", "symmetric"))
    gaussian_std: float = option(1.0, "the fixed std s of the gaussian likelihood: smaller s "
                                 "weighs reconstruction more against the KL",
                                 parse=positive_float, metavar="S")
    activation: str = option("relu", "hidden-layer nonlinearity (relu, leaky_relu, tanh, "
                             "sigmoid), or one per encoder layer, e.g. relu,relu,tanh; one more "
                             "than the layers puts the last on an autoencoder's code",
                             parse=activation_names, metavar="A[,A...]")
    decoder_activation: str | None = option(None, "the decoder's, one per layer, one more for "
                                            "the output (e.g. tanh,tanh,sigmoid); default: the "
                                            "encoder's, mirrored", parse=optional_activations,
                                            metavar="A[,A...]")
    beta: float = option(1.0, "weight of the KL term (1: the ELBO; other values: beta-VAE)",
                         parse=nonnegative_float)
    k: int = option(1, "samples of z per example (Burda et al. 2015): with --objective elbo the "
                    "ELBO averaged over them, with iwae the bound log (1/k) sum_i w_i",
                    parse=positive_int, metavar="K")
    objective: str = option("elbo", "what training maximises: elbo, or iwae (the importance-"
                            "weighted bound, docs/math.md §12)", choices=OBJECTIVES)
    dtype: str = option("float32", "floating-point type of parameters and data",
                        choices=DTYPES)
    # Optimisation
    epochs: int = option(10, "passes over the training set (raise it with --resume to train "
                         "longer)", parse=positive_int, resumable=True, metavar="N")
    batch_size: int = option(128, "examples per gradient step", parse=positive_int, metavar="B")
    optimizer: str = option("adam", "adam (Kingma & Ba 2014) or sgd (with --momentum)",
                            choices=("adam", "sgd"))
    lr: float = option(1e-3, "learning rate (with --lr-schedule burda: the first stage's)",
                       parse=positive_float)
    lr_schedule: str = option("constant", "constant, or burda: stage i = 0, 1, ... is 3^i "
                              "epochs at lr * 10^(-i/7) (Burda et al. 2015)",
                              choices=("constant", "burda"))
    adam_eps: float = option(1e-8, "Adam's epsilon (added to sqrt(v))", parse=positive_float,
                             metavar="EPS")
    momentum: float = option(0.0, "sgd only: heavy-ball momentum, e.g. 0.9",
                             parse=unit_interval)
    seed: int = option(1, "seeds initialisation, shuffling and the noise eps",
                       parse=nonnegative_int)
    # Where and how to run
    device: str = option("auto", "cpu (NumPy), cuda (CuPy), or auto: cuda when a GPU is found",
                         choices=DEVICES, resumable=True)
    threads: str | int = option("auto", THREADS_HELP, parse=thread_count, resumable=True,
                                metavar="N|auto")
    tf32: bool = option(False, "GPU only: float32 matrix products on TF32 tensor cores, trading "
                        "GEMM precision (10-bit mantissas) for speed", parse=flag, resumable=True)
    out: str | None = option(None, "run directory (default: runs/<dataset>-<model>-<time>)",
                             parse=optional_path, metavar="DIR")
    plots: bool = option(True, "draw the figures and report.html at the end (needs matplotlib)",
                         parse=flag, resumable=True)
    quiet: bool = option(False, "no progress bar and no per-epoch lines", parse=flag,
                         resumable=True)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)   # JSON has lists, not tuples
        d["decoder_hidden"] = None if self.decoder_hidden is None else list(self.decoder_hidden)
        d["channels"] = list(self.channels)
        return d


FIELDS = {f.name: f for f in fields(TrainConfig)}
ARCHITECTURE = ("model", "hidden", "decoder_hidden", "latent_dim", "likelihood", "gaussian_std",
                "activation", "dtype", "preset", "arch", "channels", "kernel_size", "stride",
                "padding", "pixel_range", "decoder_activation", "k", "objective")


def _flag_name(name):
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m minivae.train",
        description="Train a VAE (or an autoencoder) on MNIST-like images. The defaults "
                    "reproduce the PyTorch example: 784-400-20, ReLU, Bernoulli, Adam 1e-3, "
                    "batch 128, 10 epochs, seed 1.",
        allow_abbrev=False,                   # --lat is not --latent-dim: typos are errors
        argument_default=argparse.SUPPRESS)   # absent options stay absent: see parse_args
    p.add_argument("--config", metavar="FILE", help="read settings from a TOML file (or a run's "
                   "config.json); keys are the option names with underscores; the command "
                   "line overrides it")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last "
                   "checkpoint (with its config.json; --epochs may be raised)")
    for f in fields(TrainConfig):
        m = f.metadata
        default_note = "" if f.default is None else f" (default: {_show(f.default)})"
        if f.type in (bool, "bool"):
            p.add_argument(_flag_name(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                           help=m["help"] + default_note)
        else:
            p.add_argument(_flag_name(f.name), dest=f.name, type=m["parse"], choices=m["choices"],
                           metavar=m["metavar"], help=m["help"] + default_note)
    return p


def _show(value):
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value


def check_value(name, value):
    """``value`` parsed and checked as field ``name``; raises ArgumentTypeError."""
    m = FIELDS[name].metadata
    if value is None and FIELDS[name].default is None:   # e.g. "preset": null in config.json
        return None
    if m["parse"] is not None:
        value = m["parse"](value)
    if m["choices"] is not None and value not in m["choices"]:
        raise argparse.ArgumentTypeError(
            f"invalid choice {value!r} (choose from {', '.join(m['choices'])})")
    return value


def read_config_file(path) -> dict:
    """The settings in a TOML or JSON file, checked: unknown keys or bad values raise ValueError."""
    path = os.fspath(path)
    try:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
        else:
            try:
                import tomllib                      # Python >= 3.11
            except ModuleNotFoundError:             # pragma: no cover (Python 3.10)
                import tomli as tomllib             # pip install tomli
            with open(path, "rb") as f:
                raw = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file {path}: no such file") from None
    except (OSError, ValueError) as e:              # TOMLDecodeError, JSONDecodeError
        raise ValueError(f"config file {path}: cannot be read ({e})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path}: expected a table of settings")
    settings = {}
    for key, value in raw.items():
        if key not in FIELDS:
            raise ValueError(f"config file {path}: unknown key {key!r} "
                             f"(known keys: {', '.join(FIELDS)})")
        try:
            settings[key] = check_value(key, value)
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"config file {path}: key {key!r}: {e}") from None
    return settings


def parse_args(argv=None):
    """(TrainConfig, resume_dir or None) from the command line; exits 2 on a bad option.

    The dataset file and data directory come back as absolute paths, for new
    and resumed runs alike, so that config.json resumes from any directory.
    """
    parser = build_parser()
    ns = vars(parser.parse_args(argv))
    config_file, resume = ns.pop("config", None), ns.pop("resume", None)
    cli = ns                                        # only the options actually given
    if resume is not None:
        if config_file is not None:
            parser.error("--config and --resume cannot be used together: a resumed run "
                         "keeps the settings in its own config.json")
        cfg = _resumed(parser, resume, cli)
    else:
        try:
            base = {} if config_file is None else read_config_file(config_file)
        except ValueError as e:
            parser.error(str(e))
        _rerun_elsewhere(config_file, base, cli)
        preset = {**base, **cli}.get("preset")       # lowest priority after the defaults
        cfg = TrainConfig(**{**PRESETS.get(preset, {}), **base, **cli})
    if cfg.model == "ae" and (cfg.k > 1 or cfg.objective != "elbo"):
        parser.error("--k and --objective need a VAE: the autoencoder has no q(z|x) to sample")
    if cfg.objective == "iwae" and cfg.beta != 1:
        parser.error(f"--objective iwae is a bound on log p(x) with no KL weight: use --beta 1 "
                     f"(got {cfg.beta:g}) or --objective elbo")
    if cfg.tf32 and cfg.device == "cpu":
        parser.error("--tf32 needs --device cuda or auto: TF32 is a mode of GPU tensor cores")
    if cfg.dataset.endswith(SUFFIXES):
        cfg.dataset = os.path.abspath(cfg.dataset)
    cfg.data_dir = cfg.data_dir and os.path.abspath(cfg.data_dir)
    return cfg, resume


def _rerun_elsewhere(config_file, base: dict, cli: dict) -> None:
    """Drop a config file's ``out`` when that directory already holds a run.

    A run's config.json records its own directory, so ``--config
    runs/<run>/config.json`` (the way to rerun a run) would otherwise collide
    with the run it came from. The rerun gets a new default directory instead;
    ``--out`` on the command line still chooses one.
    """
    out = base.get("out")
    if out is None or "out" in cli or not os.path.exists(os.path.join(out, CHECKPOINT)):
        return
    del base["out"]
    print(f"note: {out} (the out of {config_file}) already holds a run; this run writes "
          "into a new directory (choose one with --out)", file=sys.stderr)


def _resumed(parser, run_dir, cli) -> TrainConfig:
    """The saved config of ``run_dir``, with the command-line changes a resume allows."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isdir(run_dir):
        parser.error(f"--resume {run_dir}: no such directory")
    if not os.path.exists(os.path.join(run_dir, CHECKPOINT)):
        parser.error(f"--resume {run_dir}: there is no {CHECKPOINT} in it (a run writes "
                     "one after each epoch; this one did not finish its first)")
    try:
        saved = read_config_file(path)
    except ValueError as e:
        parser.error(f"--resume {run_dir}: {e}")
    saved["out"] = run_dir                           # the run may have been moved
    for name, value in cli.items():
        old = saved.get(name, FIELDS[name].default)
        if FIELDS[name].metadata["resumable"] or _same(name, value, old):
            continue
        if name == "out":
            parser.error(f"--out {value}: a resumed run writes into its own directory {run_dir}")
        what = "changes the model's " + ("architecture" if name in ARCHITECTURE else "training")
        parser.error(f"{_flag_name(name)} {_show(value)}: the run in {run_dir} used {_show(old)}, "
                     f"and a resumed run must keep it (this option {what}); start a new run "
                     "with another --out instead")
    # Only the resumable options are taken from the command line: the others
    # equal the saved ones (checked above), perhaps spelled as a relative path.
    changes = {name: value for name, value in cli.items() if FIELDS[name].metadata["resumable"]}
    return TrainConfig(**{**saved, **changes})


def _same(name, a, b) -> bool:
    """Equal settings; paths are compared as absolute paths."""
    if name == "out" or (name == "dataset" and str(a).endswith(SUFFIXES)):
        return b is not None and os.path.abspath(a) == os.path.abspath(b)
    return a == b
