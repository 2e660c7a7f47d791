"""The settings of a training run: one dataclass, with a default and a comment each.

:class:`TrainConfig` lists every setting. The command line of ``python -m
minivae.train`` is generated from its fields (minivae/run/train_cli.py), so an
option cannot be documented in one place and parsed differently in another.
``read_config_file`` reads the same settings from a TOML file or a run's
config.json, each value checked as its option would be (``check_value``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass, field, fields

from ..backend import DEVICES, DTYPES
from .checkpoints import MODEL_CLASSES, RUN_CHECKPOINT
from ..layers import INITS
from ..likelihoods import LIKELIHOODS
from .presets import PRESETS
from .values import (activation_names, dataset_name, existing_dir, flag, int_list,
                     nonnegative_float, nonnegative_int, optional_activations, optional_int_list,
                     optional_label_list, optional_path, positive_float, positive_int,
                     unit_interval, width_list)
from ..iwae import OBJECTIVES
from ..fast.threads import THREADS_HELP, thread_count
from ..files.metadata import shown

CHECKPOINT = RUN_CHECKPOINT   # what a run writes into its directory after each epoch


def preset_name(value):
    """A name of minivae/run/presets.py, or None (null in a run's config.json): no preset."""
    if value in (None, ""):
        return None
    if value not in PRESETS:
        raise argparse.ArgumentTypeError(f"invalid choice {shown(value)} (choose from "
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
    train_labels: tuple | None = option(None, "train only on the training images of these "
                                        "labels, e.g. 0,1,2,3,4: the normal class of anomaly "
                                        "detection; the test set keeps every image, and "
                                        "evaluate --per-image scores the others as anomalies",
                                        parse=optional_label_list, metavar="L[,L...]")
    # Model: the defaults are the PyTorch example's 784-400-20 VAE
    preset: str | None = option(None, "a published setup, parameter for parameter: "
                                + ", ".join(PRESETS) + " (minivae/run/presets.py); other options "
                                "still override it", parse=preset_name, metavar="NAME")
    model: str = option("vae", "vae; cvae, the conditional VAE (the image's label joined to the "
                        "encoder's and the decoder's input; needs a labelled data set); or ae "
                        "for the deterministic autoencoder baseline",
                        choices=tuple(MODEL_CLASSES))
    num_classes: int = option(0, "cvae only: the number C of classes, labels 0..C-1; 0: the "
                              "data set's (10 for mnist and fashion-mnist, else 1 + the largest "
                              "training label)", parse=nonnegative_int, metavar="C")
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
                           "(the decoder mirrors them unless --decoder-hidden is given); "
                           "with --arch conv the Dense layers after the convolutions "
                           "('' for none)", parse=width_list,
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
                              "2x-1, the decoder ends in tanh; needs mse or gaussian)",
                              choices=("unit", "symmetric"))
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
    kl_warmup: int = option(0, "epochs over which the KL's weight rises linearly, step by step, "
                            "from 0 to --beta (Bowman et al. 2016); 0: no warm-up",
                            parse=nonnegative_int, metavar="EPOCHS")
    free_bits: float = option(0.0, "nats of KL per latent dimension that are not penalised "
                              "(Kingma et al. 2016): a dimension whose batch-mean KL is below "
                              "it is charged LAMBDA and gets no push towards the prior; 0: none",
                              parse=nonnegative_float, metavar="LAMBDA")
    k: int = option(1, "samples of z per example (Burda et al. 2015): with --objective elbo the "
                    "ELBO averaged over them, with iwae the bound log (1/k) sum_i w_i",
                    parse=positive_int, metavar="K")
    objective: str = option("elbo", "what training maximises: elbo, or iwae (the importance-"
                            "weighted bound, docs/math.md §12)", choices=OBJECTIVES)
    dtype: str = option("float32", "floating-point type of parameters and data",
                        choices=DTYPES)
    init: str = option("pytorch", "the starting weights: pytorch (W and b ~ U(+-1/sqrt(fan_in)), "
                       "PyTorch's default) or glorot (W ~ U(+-sqrt(6 / (fan_in + fan_out))), "
                       "b = 0: Keras's default)", choices=INITS)
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
    # Learning by building: minivae/exercises/ (swap.py swaps the functions in, reference.py
    # compares the curve); a resumed run keeps the workspace it started with
    exercises: str | None = option(None, "train with your own functions from an exercise "
                                   "workspace (python -m minivae.exercises start DIR) in place of "
                                   "minivae's, once the exercises this model needs pass; the "
                                   "curve is compared with the PyTorch reference band",
                                   parse=existing_dir, metavar="DIR")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)   # JSON has lists, not tuples
        d["decoder_hidden"] = None if self.decoder_hidden is None else list(self.decoder_hidden)
        d["channels"] = list(self.channels)
        return d


FIELDS = {f.name: f for f in fields(TrainConfig)}
ARCHITECTURE = ("model", "hidden", "decoder_hidden", "latent_dim", "likelihood", "gaussian_std",
                "activation", "dtype", "preset", "arch", "channels", "kernel_size", "stride",
                "padding", "pixel_range", "decoder_activation", "k", "objective", "num_classes")


def check_value(name, value):
    """``value`` parsed and checked as field ``name``; raises ArgumentTypeError."""
    m = FIELDS[name].metadata
    if value is None and FIELDS[name].default is None:   # e.g. "preset": null in config.json
        return None
    if m["parse"] is not None:
        value = m["parse"](value)
    if m["choices"] is not None and value not in m["choices"]:
        raise argparse.ArgumentTypeError(
            f"invalid choice {shown(value)} (choose from {', '.join(m['choices'])})")
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
    except RecursionError:                          # [[[[...]]]] 10**5 deep: the parsers recurse
        raise ValueError(f"config file {path}: cannot be read (its values nest too deeply "
                         "for Python's parser; a setting is a number, a word or a list of "
                         "them)") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path}: expected a table of settings")
    settings = {}
    for key, value in raw.items():
        if key not in FIELDS:
            raise ValueError(f"config file {path}: unknown key {shown(key)} "
                             f"(known keys: {', '.join(FIELDS)})")
        try:
            settings[key] = check_value(key, value)
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"config file {path}: key {shown(key)}: {e}") from None
    return settings
