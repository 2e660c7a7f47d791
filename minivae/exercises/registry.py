"""The checks, exercise by exercise, and how a check calls a learner's function.

Every check is a function ``check(f, ref)``: ``f`` holds the functions under
test (the learner's, or a mutated minivae's in the bug gallery), ``ref``
minivae's own (answers.py), both by name (``f.dense_forward``). It returns
when the functions pass and raises ``compare.Wrong`` saying why when they do
not. ``@check(n, kind, what)`` files it under exercise n; the kinds are the
columns of the bug table:

    shapes        shapes and dtypes of what comes back (float32 and float64)
    values        the numbers against minivae's function, on random inputs
    stability     extreme inputs (logits of 1000, log-weights of -1000): finite and exact
    noise         the eps used is the eps given, once (the same eps in forward and backward)
    property      what a gradient check cannot see: z's distribution, KL >= 0, im2col's adjoint...
    grad-own      the backward against central differences of the learner's own forward
    grad-minivae  the backward against central differences of minivae's forward
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Callable, NamedTuple

import numpy as np

from .answers import make_answers
from .compare import Wrong

KINDS = ("shapes", "values", "stability", "noise", "property", "grad-own", "grad-minivae")


class Check(NamedTuple):
    exercise: int
    kind: str
    what: str            # one line: what it verifies
    run: Callable        # run(f, ref) -> None, or raises Wrong

    @property
    def name(self) -> str:
        return f"ex{self.exercise} {self.kind}"


CHECKS: dict[int, list[Check]] = {}

# The signature of every function the stubs define: minivae's answers have the stubs' own.
SIGNATURES = {name: inspect.signature(fn) for name, fn in make_answers().items()}


def check(n: int, kind: str, what: str):
    """Decorator: file ``run`` as exercise n's check of ``kind``."""
    assert kind in KINDS, kind

    def register(run):
        CHECKS.setdefault(n, []).append(Check(n, kind, what, run))
        return run
    return register


def namespace(functions: dict) -> SimpleNamespace:
    """Functions by name, as the checks read them: f.dense_forward."""
    return SimpleNamespace(**functions)


def call(f, name, *args, **kwargs):
    """f.<name>(*args, **kwargs), with Wrong if it changed one of its array arguments in place."""
    kept = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
    out = getattr(f, name)(*args, **kwargs)
    params = list(SIGNATURES[name].parameters)
    for i, (a, before) in enumerate(zip(args, kept)):
        if before is not None and not np.array_equal(a, before, equal_nan=True):
            raise Wrong(f"{name} changed its argument {params[i]} in place: the caller still needs "
                        f"it (a layer keeps x for its backward); compute a new array instead")
    return out


def rng(seed: int):
    return np.random.default_rng(seed)


def normal(r, shape, dtype=np.float64, scale=1.0):
    return (scale * r.standard_normal(shape)).astype(dtype)
