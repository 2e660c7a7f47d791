"""Parsers from text (the command line) or a TOML/JSON value to a checked Python value.

Each raises ``argparse.ArgumentTypeError``; argparse then prints
"argument --lr: <message>" and exits with status 2. ``config.py`` checks the
training settings with them, and the other commands reuse them.
"""

from __future__ import annotations

import argparse
import math
import os

from ..data.catalog import DATASETS as _CATALOG
from ..data.custom import SUFFIXES

DATASETS = tuple(_CATALOG)   # ("mnist", "fashion-mnist")


def _number(value, kind):
    wrong = argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                       f"got {value!r}")
    if isinstance(value, bool) or (kind is int and isinstance(value, float)):
        raise wrong                   # TOML's true is not the number 1, and 2.5 epochs is not 2
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise wrong from None


def positive_int(value):
    n = _number(value, int)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return n


def nonnegative_int(value):
    n = _number(value, int)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value!r}")
    return n


def positive_float(value):
    x = _number(value, float)
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {value!r}")
    return x


def nonnegative_float(value):
    x = _number(value, float)
    if not (math.isfinite(x) and x >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value!r}")
    return x


def int_list(value):
    """ "512,256" or [512, 256] -> (512, 256): the hidden layer widths."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        widths = tuple(positive_int(str(v).strip()) for v in items)
    except argparse.ArgumentTypeError:
        widths = ()
    if not widths:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 400 or 512,256; got {value!r}")
    return widths


def optional_int_list(value):
    """Like :func:`int_list`, but None (or "" on the command line) stays None: "not given"."""
    return None if value in (None, "") else int_list(value)


def unit_interval(value):
    """A number in [0, 1), e.g. a momentum."""
    x = _number(value, float)
    if not (0 <= x < 1):
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {value!r}")
    return x


def width_list(value):
    """Like int_list, but "" or [] give (): no hidden Dense layer (a conv model's option)."""
    if value in ("", [], ()):
        return ()
    return int_list(value)


def activation_names(value):
    """ "relu" or "relu,relu,tanh" or ["relu", "tanh"] -> "relu,relu,tanh", names checked."""
    from ..layers import ACTIVATIONS          # the names live with the layers
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = [str(v).strip() for v in items]
    allowed = sorted(ACTIVATIONS) + (["none"] if len(names) > 1 else [])
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"expected activation names from {', '.join(allowed)}, one or comma-separated "
            f"(one per layer, e.g. relu,relu,tanh); got {value!r}")
    return ",".join(names)


def optional_activations(value):
    return None if value in (None, "") else activation_names(value)


def dataset_name(value):
    """A known dataset name, or the path of a .npy/.npz file."""
    value = str(value)
    if value in DATASETS or value.endswith(SUFFIXES):
        return value
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(DATASETS)} or a path ending in .npy or .npz; got {value!r}")


def optional_path(value):
    if value in (None, ""):
        return None
    if not isinstance(value, (str, os.PathLike)):     # e.g. data_dir = 1 in a TOML file
        raise argparse.ArgumentTypeError(f"expected a path, got {value!r}")
    return os.fspath(value)


def existing_dir(value):
    path = optional_path(value)
    if path is not None and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"no such directory: {path!r}")
    return path


def flag(value):
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value


