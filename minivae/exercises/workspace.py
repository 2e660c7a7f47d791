"""``start``: a learner's workspace, written once and never overwritten.

    DIR/README.md            what to do, in which order, and how to be graded
    DIR/ex01_dense.py ...    the eleven stubs (stubs/), in course order
    DIR/test_exercises.py    the grader as a pytest run, one marker per exercise
    DIR/pytest.ini           the markers ex1 ... ex11
    DIR/.github/workflows/minivae-exercises.yml   with --ci: grading in a course's CI

A file already in DIR is left exactly as it is (a learner's work), and
``start`` says which it kept and which it wrote.
"""

from __future__ import annotations

import os

from .catalog import EXERCISES

STUBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stubs")
CI_FILE = os.path.join(".github", "workflows", "minivae-exercises.yml")

README = """\
# VAE exercises (minivae)

Build a Variational Autoencoder yourself, piece by piece, in NumPy. Each file is one
exercise: the signature and the docstring of minivae's own function (the maths,
every shape, the section of minivae's docs/math.md that derives it), and a body
that raises NotImplementedError until you write it. Do them in order:

{table}

Grade one exercise, or all of them:

    python -m minivae.exercises check . 3
    python -m minivae.exercises check .

or with pytest, one marker per exercise: `python -m pytest -m ex3`.
Each exercise is "not started", "wrong" or "passing". The checks compare shapes
and dtypes, your values with minivae's on random inputs, your backward with
central differences of your own forward and of minivae's, and what a gradient
check cannot see (the distribution of your sampled z, for one). A failure names
the entry that is off, by how much, and the common mistake it looks like.

When exercises 1, 2, 3, 5, 6, 7 and 8 pass, train minivae's default model on MNIST
with your functions in place of minivae's, and compare your curve with PyTorch's:

    python -m minivae.train --exercises .
    python -m minivae.train --exercises . --arch conv      (once exercise 9 passes too)

`python -m minivae.exercises bugs` shows which checks catch the bugs found in
public VAEs, and which do not. The course, exercise by exercise: minivae's
docs/exercises.md.
"""

TEST_FILE = '''\
"""Grading as a pytest run: python -m pytest (every exercise), python -m pytest -m ex3 (one).

Each test runs minivae's grader on one exercise; python -m minivae.exercises check . N
prints the same words. No network and no data: the grader makes its own inputs.
"""

import os

import pytest

from minivae.exercises import assert_passing

HERE = os.path.dirname(os.path.abspath(__file__))
{tests}'''

TEST = '''

@pytest.mark.ex{n}
def test_ex{n}_{name}():
    assert_passing(HERE, {n})
'''

PYTEST_INI = "[pytest]\n# one marker per exercise: python -m pytest -m ex3\nmarkers =\n{markers}"

CI = """\
# Grades the minivae exercises on every push, one step per exercise, so the run's
# page shows which pass. Written by: python -m minivae.exercises start --ci DIR.
# Put it in the course repository's .github/workflows/; if the exercises are not
# at the repository's root, set working-directory below to their folder.
# Grading needs no network beyond pip, and no data download.
name: minivae exercises
on: [push, pull_request]
env:
  MINIVAE: minivae   # what pip installs: the course's copy of minivae (a git URL, a path...)
defaults:
  run:
    working-directory: .
jobs:
  grade:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install "$MINIVAE" pytest
{steps}"""

CI_STEP = """      - name: "exercise {n}: {title}"
        if: always()
        run: python -m pytest -q -p no:cacheprovider -m ex{n}
"""


def files(ci=False) -> dict:
    """{relative path: text} of a new workspace."""
    table = "\n".join(f"    {e.n:>2}  {e.file:<24} {e.title} (docs/math.md {e.section})"
                      for e in EXERCISES)
    out = {"README.md": README.format(table=table)}
    for e in EXERCISES:
        with open(os.path.join(STUBS, e.file), encoding="utf-8") as f:
            out[e.file] = f.read()
    tests = "".join(TEST.format(n=e.n, name=e.file[5:-3]) for e in EXERCISES)
    out["test_exercises.py"] = TEST_FILE.format(tests=tests)
    markers = "".join(f"    ex{e.n}: exercise {e.n}, {e.title}\n" for e in EXERCISES)
    out["pytest.ini"] = PYTEST_INI.format(markers=markers)
    if ci:
        out[CI_FILE] = CI.format(steps="".join(CI_STEP.format(n=e.n, title=e.title)
                                               for e in EXERCISES))
    return out


def start(path, ci=False) -> tuple:
    """Write the workspace's missing files into ``path``: (written, kept), relative paths."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"{path} is a file, not a directory: name a folder for the "
                                 "exercises")
    written, kept = [], []
    for rel, text in files(ci).items():
        target = os.path.join(path, rel)
        if os.path.lexists(target):
            kept.append(rel)
            continue
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with open(target, "x", encoding="utf-8") as f:   # "x": never over a file made meanwhile
            f.write(text)
        written.append(rel)
    return written, kept
