"""The command line of ``python -m minivae.train``, generated from TrainConfig's fields.

    cfg, resume_dir = parse_args(["--epochs", "20", "--hidden", "512,256"])
    cfg.epochs, cfg.hidden, resume_dir      # 20, (512, 256), None

Where a value comes from, lowest priority first:

    1. the defaults of config.TrainConfig (the PyTorch example: 784-400-20, Adam 1e-3, ...)
    2. a preset (``--preset``, minivae/run/presets.py)
    3. ``--config FILE`` (TOML, or a run's config.json; keys = field names)
    4. options on the command line

With ``--resume DIR`` the base is DIR/config.json instead, and only options
that do not change what is being trained (``--epochs``, ``--device``...)
may differ from it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

from .config import ARCHITECTURE, CHECKPOINT, FIELDS, TrainConfig, read_config_file
from ..data.custom import SUFFIXES
from ..files.metadata import cut
from .presets import PRESETS


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
    """A setting as the command line spells it: 512,256 for a list; cut short for a message
    (a config file may hold a list of a million widths)."""
    if isinstance(value, (tuple, list)):
        return cut(",".join(map(str, value[:40])) + (",..." if len(value) > 40 else ""), 120)
    return cut(str(value), 120)


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
    _check_cvae_and_kl_options(parser, cfg)
    if cfg.objective == "iwae" and cfg.beta != 1:
        parser.error(f"--objective iwae is a bound on log p(x) with no KL weight: use --beta 1 "
                     f"(got {cfg.beta:g}) or --objective elbo")
    if cfg.arch == "dense" and not cfg.hidden:    # the models build no dense net without one
        parser.error("--hidden '': a dense model needs at least one hidden layer, e.g. --hidden "
                     "400 ('' means no Dense layer after the convolutions of --arch conv)")
    if cfg.latent_dim == 0 and not (cfg.arch == "conv" and cfg.model == "ae"):
        parser.error("--latent-dim 0: the size of the latent code must be a positive integer, "
                     "e.g. --latent-dim 20 (0, the code being the last feature map itself, is only "
                     "for --arch conv --model ae)")
    if cfg.tf32 and cfg.device == "cpu":
        parser.error("--tf32 needs --device cuda or auto: TF32 is a mode of GPU tensor cores")
    if cfg.dataset.endswith(SUFFIXES):
        cfg.dataset = os.path.abspath(cfg.dataset)
    cfg.data_dir = cfg.data_dir and os.path.abspath(cfg.data_dir)
    return cfg, resume


def _check_cvae_and_kl_options(parser, cfg) -> None:
    """The options of the conditional VAE, the KL warm-up and free bits, against the others."""
    if cfg.num_classes and cfg.model != "cvae":
        parser.error(f"--num-classes {cfg.num_classes} is for --model cvae: only the "
                     "conditional VAE reads labels")
    if cfg.model == "cvae" and (cfg.k > 1 or cfg.objective != "elbo"):
        parser.error("--k and --objective: a cvae trains on the one-sample ELBO (--k 1 "
                     "--objective elbo)")
    for name, value, flag in (("kl_warmup", cfg.kl_warmup, "--kl-warmup"),
                              ("free_bits", cfg.free_bits, "--free-bits")):
        if not value:
            continue
        if cfg.model == "ae":
            parser.error(f"{flag} {value:g} needs a VAE (--model vae or cvae): the autoencoder "
                         "has no KL term")
        if cfg.objective != "elbo":
            parser.error(f"{flag} {value:g} acts on the ELBO's analytic KL; the iwae bound "
                         "has none: use it with --objective elbo")
        if name == "free_bits" and cfg.k > 1:
            parser.error(f"{flag} {value:g} acts on the analytic KL of the one-sample ELBO; "
                         "use it with --k 1")
    if cfg.kl_warmup > cfg.epochs:
        parser.error(f"--kl-warmup {cfg.kl_warmup} is longer than the run (--epochs "
                     f"{cfg.epochs}): beta would never reach {cfg.beta:g}. Warm up over fewer "
                     "epochs, or train for more")


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
