"""Learn a VAE by building it: exercises graded by gradient checks, and the field's bugs caught.

    python -m minivae.exercises start DIR [--ci]    a workspace of stubs (workspace.py)
    python -m minivae.exercises check DIR [N ...]   grade them (grading.py, checks/)
    python -m minivae.exercises bugs                the bug gallery (gallery.py)
    python -m minivae.train --exercises DIR         train with the learner's functions (swap.py)

The files, in the order a reader needs them:

    catalog.py     the eleven exercises, in course order
    stubs/         what a learner starts from: signatures, minivae's docstrings, NotImplementedError
    answers.py     minivae's own functions, called as the stubs are: what every grader compares with
    registry.py    how a check is written and filed; how it calls a learner's function
    compare.py     the comparisons, and the common mistakes they recognise
    checks/        every exercise's checks
    loading.py     importing a workspace; the learner's own line when their code raises
    grading.py     running the checks under a time limit; one verdict per exercise
    report.py      what ``check`` prints
    workspace.py   ``start``: the files of a workspace, never overwritten
    mutations.py   the field's real bugs, each in a copy of one part of minivae
    gallery.py     the bug table: which checks catch each bug, from running them
    swap.py        a model whose layers, ops and likelihood run the learner's functions
    reference.py   a run's curve against the PyTorch reference band
    cli.py         the command line

docs/exercises.md is the course, exercise by exercise.
"""

from .grading import assert_passing, grade

__all__ = ["assert_passing", "grade"]
