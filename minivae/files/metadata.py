"""What a minivae file's metadata may hold, checked field by field before it is used.

A checkpoint's metadata is a JSON object (see serialize.py). Everything a
command does with a checkpoint starts from it: the model is built from
``config``, metrics.csv is cut back to ``epoch``, the data order resumes at
``data``. A hand-edited or damaged value must therefore be refused with a
message naming the field, before any of that happens: ``epoch = -5`` would
otherwise cut away the whole metrics history, and ``input_dim = 10**12``
would try to allocate terabytes.

    validate_meta(meta, path)                  # a file from model.save()
    validate_meta(meta, path, arrays)          # ... and its arrays against it
    validate_meta(meta, path, training=True)   # a training checkpoint: every field
"""

from __future__ import annotations

import math

import numpy as np


class CheckpointError(ValueError):
    """A file that is not a readable minivae file, or belongs to another model."""


ADAM_V = "optim/v."   # Adam's second moments in a checkpoint: "optim/v.<param>"
TRAINING_KEYS = ("epoch", "checkpoint_version", "optimizer", "data", "train_config",
                 "image_shape")


class _Fields:
    """Checks on the fields of one JSON object; every error names the file and the field."""

    def __init__(self, obj, where: str, path):
        self.path, self.where = path, where
        if not isinstance(obj, dict):
            self.fail(where, f"must be a JSON object, got {shown(obj)}")
        self.obj = obj

    def fail(self, key, why):
        raise CheckpointError(f"{self.path}: metadata field {key!r} {why}. The file was damaged "
                              "or edited; use a checkpoint written by minivae")

    def get(self, key):
        if key not in self.obj:
            self.fail(self._name(key), "is missing")
        return self.obj[key]

    def _name(self, key):
        return f"{self.where}.{key}" if self.where else key

    def int(self, key, low=0, high=None, optional=False):
        value = self.obj.get(key) if optional else self.get(key)
        if optional and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low or \
                (high is not None and value > high):
            limits = f">= {low}" + (f" and <= {high}" if high is not None else "")
            self.fail(self._name(key), f"must be an integer {limits}, got {shown(value)}")
        return value

    def choice(self, key, choices):
        value = self.get(key)
        if not isinstance(value, str) or value not in choices:
            self.fail(self._name(key), f"must be one of {choices}, got {shown(value)}")
        return value

    def number(self, key, low, strict=False):
        value = self.get(key)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value) and (value > low if strict else value >= low))
        if not ok:
            self.fail(self._name(key), f"must be a finite number {'>' if strict else '>='} "
                                       f"{low}, got {shown(value)}")
        return float(value)

    def bool(self, key):
        value = self.get(key)
        if not isinstance(value, bool):
            self.fail(self._name(key), f"must be true or false, got {shown(value)}")
        return value

    def int_list(self, key, lengths=None):
        value = self.get(key)
        if not isinstance(value, list) or (lengths and len(value) not in lengths) or \
                not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            what = f"a list of {' or '.join(map(str, lengths))} " if lengths else "a list of "
            self.fail(self._name(key), f"must be {what}positive integers, got {shown(value)}")
        return value


def cut(text: str, limit: int = 60) -> str:
    """``text``, or its first ``limit`` - 3 characters and "..." if it is longer."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value, limit: int = 60) -> str:
    """repr(value) cut to ``limit`` characters, for an error message.

    A value read from a file may be megabytes long (a 200 MB string, a list
    of 100,000 layer widths); the message shows enough to recognise it. A
    long string or list is cut before repr, so no huge text is built.
    """
    if isinstance(value, (str, list, tuple)) and len(value) > limit:
        value = value[:limit]
    return cut(repr(value), limit)


def _check_config(f: _Fields) -> dict:
    """The model settings: only their form here. Their values are the model's to check
    (its constructor names a bad one; ``BaseModel.from_arrays`` turns that into a
    CheckpointError), and the size they describe is checked against the file's own
    parameters before anything is allocated (``params.param_budget``)."""
    kind = f.get("model")
    if not isinstance(kind, str):
        f.fail("config.model", f"must be the name of a model kind, got {shown(kind)}")
    for key in f.obj:
        if not isinstance(key, str):
            f.fail("config", f"has a setting named {shown(key)}")
    return f.obj


def _check_training(meta: dict, f: _Fields, config: dict) -> None:
    epoch = f.int("epoch", low=1)
    if f.int("checkpoint_version", low=1) != 1:
        f.fail("checkpoint_version", f"is {meta['checkpoint_version']}, but this minivae "
                                     "reads version 1; update minivae")
    opt = _Fields(f.get("optimizer"), "optimizer", f.path)
    if opt.get("name") not in ("Adam", "SGD"):
        opt.fail("optimizer.name", f"must be 'Adam' or 'SGD', got {shown(opt.obj['name'])}")
    opt.int("t", low=epoch)                         # at least one step per epoch
    data = _Fields(f.get("data"), "data", f.path)
    if data.int("epoch") != epoch:
        data.fail("data.epoch", f"must equal the checkpoint's epoch {epoch}, got "
                                f"{shown(data.obj['epoch'])}")
    data.int("n", low=1)
    data.int("batch_size", low=1)
    data.int("seed")
    data.bool("shuffle")
    data.bool("binarize")
    _Fields(f.get("train_config"), "train_config", f.path)   # its values: runs.py
    if "dataset_fingerprint" in meta:             # a file data set's size and sha256
        fp = _Fields(meta["dataset_fingerprint"], "dataset_fingerprint", f.path)
        fp.int("bytes")
        digest = fp.get("sha256")
        if not (isinstance(digest, str) and len(digest) == 64
                and all(c in "0123456789abcdef" for c in digest)):
            fp.fail("dataset_fingerprint.sha256", f"must be 64 hex digits, got {shown(digest)}")
    shape = f.int_list("image_shape", lengths=(2, 3))
    if math.prod(shape) != config.get("input_dim"):
        f.fail("image_shape", f"{shape} holds {math.prod(shape)} pixels, but the model's "
                              f"input_dim is {shown(config.get('input_dim'))}")


def _check_arrays(arrays: dict, config: dict, path) -> None:
    """Numeric, finite param/ and optim/ arrays; Adam's v never negative."""
    for name, a in arrays.items():
        if not name.startswith(("param/", "optim/")):
            continue
        if a.dtype.kind != "f":
            raise CheckpointError(f"{path}: array {name} has dtype {a.dtype}; parameters "
                                  "and optimizer state are floating-point numbers")
        if not np.isfinite(a).all():
            what = ("the optimizer state" if name.startswith("optim/") else "a parameter")
            raise CheckpointError(f"{path}: {name} ({what}) contains NaN or infinite values; "
                                  "the run diverged before this was saved. Start a new run "
                                  "(another --out), e.g. with a smaller --lr")
        if name.startswith(ADAM_V) and (a < 0).any():
            # v is a running mean of squared gradients; one below 0 would make sqrt(v)
            # NaN at the first step, and a resume would then look like a diverged run.
            raise CheckpointError(f"{path}: {name} (Adam's v, a mean of squared gradients) "
                                  f"holds {int((a < 0).sum())} negative values (the lowest "
                                  f"{float(a.min()):.3g}), which Adam never writes; the file was "
                                  "damaged or edited. Resume from an intact copy, or start a "
                                  "new run (another --out)")


def validate_meta(meta, path, arrays=None, training=False) -> dict:
    """Check every field of a minivae file's metadata; raise CheckpointError naming the first bad one.

    ``arrays`` (name -> array, as loaded): also check that they are finite
    floats and large enough for the layers the metadata describes.
    ``training``: require the fields of a training checkpoint (epoch,
    optimizer, data position...); without it they are checked when present.
    Returns ``meta`` unchanged.
    """
    f = _Fields(meta, "", path)
    if meta.get("format") != "minivae":
        raise CheckpointError(f"{path} was not written by minivae (no 'format': 'minivae' "
                              "in its metadata)")
    f.int("version", low=1, high=1)
    config = _check_config(_Fields(f.get("config"), "config", path))
    if training or any(key in meta for key in TRAINING_KEYS):
        _check_training(meta, f, config)
    if arrays is not None:
        _check_arrays(arrays, config, path)
    return meta
