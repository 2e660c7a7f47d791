"""The bug gallery: the field's real VAE bugs, applied to minivae, and the checks that catch each.

    python -m minivae.exercises bugs               the table
    python -m minivae.exercises bugs --markdown    the same, as docs/exercises.md shows it

Each bug swaps one of minivae's parts for its mutated copy (mutations.py),
in memory: minivae's answers are built from the mutated part, and every
check of every exercise runs against them, exactly as against a learner.
The table is the checks' verdicts, nothing written by hand; ``caught_by``
is the check docs/exercises.md names for each bug, and tests/exercises
asserts that this check does catch it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .answers import make_answers
from .grading import grade_functions
from .mutations import (ClippedLogSigmoid, FreshEps, KLSignFlipped, PixelMean, StdIsExpLogvar,
                        ZIsMu, weights_differentiated, weights_uniform)
from .registry import KINDS


class Bug(NamedTuple):
    key: str
    what: str            # the bug, in a few words (the table's row)
    where: str           # who shipped it
    caught_by: str       # the check the docs name: "ex6 property"
    parts: dict          # make_answers(**parts)


BUGS = (
    Bug("std-exp-logvar", "std = exp(logvar)",
        "DeZero's examples/vae.py (should be exp(logvar / 2))", "ex6 property",
        {"ops": StdIsExpLogvar(np)}),
    Bug("fresh-eps", "fresh eps in forward", "kwj2104/Simple-Variational-Autoencoder (backward "
        "uses the stored eps)", "ex7 noise", {"vae": FreshEps}),
    Bug("kl-sign", "KL sign flipped", "pytorch/examples #824", "ex5 property",
        {"ops": KLSignFlipped(np)}),
    Bug("bce-clipped", "BCE from clipped sigmoid", "log(sigmoid(l)) with clipping, not from logits",
        "ex3 stability", {"bernoulli": ClippedLogSigmoid}),
    Bug("iwae-weights-differentiated", "IWAE weights differentiated",
        "AntixK/PyTorch-VAE #34 (the estimator holds them constant)", "ex11 grad-own",
        {"weight_grad": weights_differentiated}),
    Bug("iwae-weights-dropped", "IWAE weights dropped (1/K)",
        "the reverse of #34: every sample weighted 1/K", "ex11 grad-own",
        {"weight_grad": weights_uniform}),
    Bug("recon-mean", "recon mean over pixels", "pytorch/examples #290, #817 (the KL summed)",
        "ex3 values", {"bernoulli": PixelMean}),
    Bug("z-is-mu", "z = mu (no sampling)", "pytorch/examples PR #419", "ex6 property",
        {"ops": ZIsMu(np)}),
)


def caught(bug: Bug, reference=None) -> dict:
    """{check name: status} of every check, run on minivae with ``bug`` applied."""
    results = grade_functions(make_answers(**bug.parts), reference=reference)
    return {c.name: c.status for r in results for c in r.checks}


def table(bugs=BUGS) -> list:
    """[(bug, {kind: [exercises whose check of that kind fails]})], from running every check."""
    rows = []
    for bug in bugs:
        failed = {kind: [] for kind in KINDS}
        for name, status in caught(bug).items():
            if status != "pass":
                n, kind = name.split(" ")
                failed[kind].append(n[2:])
        rows.append((bug, failed))
    return rows


def table_lines(rows, markdown=False) -> list:
    """The table: a row per bug, a column per kind of check, the exercises whose check fails.

    In text, a * marks the check docs/exercises.md names for the bug; Markdown
    adds where each bug comes from and that check, as columns.
    """
    if markdown:
        head = ["bug", "where", *KINDS, "named in the docs"]
        body = [[b.what, b.where, *(", ".join(failed[k]) or "-" for k in KINDS), b.caught_by]
                for b, failed in rows]
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
               ["| " + " | ".join(r) + " |" for r in body]

    def cell(bug, failed, kind):
        named = [f"{n}*" if bug.caught_by == f"ex{n} {kind}" else n for n in failed[kind]]
        return ",".join(named) or "-"
    head = ["bug", *KINDS]
    body = [[b.what, *(cell(b, failed, k) for k in KINDS)] for b, failed in rows]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()   # noqa: E731
    return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body] + [
        "",
        "A cell lists the exercises whose check of that kind fails with the bug applied (-: none);",
        "* marks the check docs/exercises.md names for it. grad-own: the backward against central",
        "differences of the code's own forward, what a gradient check alone does.",
        ""] + [f"  {b.what}: {b.where}" for b, _ in rows]
