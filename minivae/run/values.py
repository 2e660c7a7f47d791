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
from ..files.metadata import shown   # a value cut for a message: it may be megabytes long

DATASETS = tuple(_CATALOG)   # ("mnist", "fashion-mnist")
MAX_PATH = 4096              # Linux's PATH_MAX: no longer path can be opened


def _number(value, kind):
    wrong = argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                       f"got {shown(value)}")
    if isinstance(value, bool) or (kind is int and isinstance(value, float)):
        raise wrong                   # TOML's true is not the number 1, and 2.5 epochs is not 2
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise wrong from None


def positive_int(value):
    n = _number(value, int)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {shown(value)}")
    return n


def nonnegative_int(value):
    n = _number(value, int)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {shown(value)}")
    return n


def positive_float(value):
    x = _number(value, float)
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {shown(value)}")
    return x


def nonnegative_float(value):
    x = _number(value, float)
    if not (math.isfinite(x) and x >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {shown(value)}")
    return x


def _number_list(value, parse, expected):
    """ "1,2" or [1, 2] -> (1, 2), each item through ``parse``; none, or a bad one, is an error."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        numbers = tuple(parse(str(v).strip()) for v in items)
    except argparse.ArgumentTypeError:
        numbers = ()
    if not numbers:
        raise argparse.ArgumentTypeError(f"expected {expected}; got {shown(value)}")
    return numbers


def int_list(value):
    """ "512,256" or [512, 256] -> (512, 256): the hidden layer widths."""
    return _number_list(value, positive_int,
                        "comma-separated positive integers such as 400 or 512,256")


def optional_int_list(value):
    """Like :func:`int_list`, but None (or "" on the command line) stays None: "not given"."""
    return None if value in (None, "") else int_list(value)


def optional_label_list(value):
    """ "0,1,2" or [0, 1, 2] -> (0, 1, 2): class labels (integers >= 0); None or "" stay None."""
    if value in (None, ""):
        return None
    return _number_list(value, nonnegative_int,
                        "comma-separated labels (integers >= 0) such as 0,1,2,3,4")


def unit_interval(value):
    """A number in [0, 1), e.g. a momentum."""
    x = _number(value, float)
    if not (0 <= x < 1):
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {shown(value)}")
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
            f"(one per layer, e.g. relu,relu,tanh); got {shown(value)}")
    return ",".join(names)


def optional_activations(value):
    return None if value in (None, "") else activation_names(value)


def dataset_name(value):
    """A known dataset name, or the path of a .npy/.npz file."""
    value = str(value)
    if value in DATASETS:
        return value
    if value.endswith(SUFFIXES):
        return _path(value)
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(DATASETS)} or a path ending "
                                     f"in .npy or .npz; got {shown(value)}")


def _path(path: str) -> str:
    """``path``, if a file system could open it at all (messages then show it whole)."""
    if len(path) > MAX_PATH:
        raise argparse.ArgumentTypeError(f"a path of {len(path):,} characters is longer than "
                                         f"any file system takes ({MAX_PATH:,}); got {shown(path)}")
    return path


def optional_path(value):
    if value in (None, ""):
        return None
    if not isinstance(value, (str, os.PathLike)):     # e.g. data_dir = 1 in a TOML file
        raise argparse.ArgumentTypeError(f"expected a path, got {shown(value)}")
    return _path(os.fspath(value))


def existing_dir(value):
    path = optional_path(value)
    if path is not None and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"no such directory: {path!r}")
    return path


def flag(value):
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected true or false, got {shown(value)}")
    return value


