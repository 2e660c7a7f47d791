"""``start``: a learner's workspace, written once and never overwritten.

    DIR/README.md            what to do, in which order, and how to be graded
    DIR/ex01_dense.py ...    the eleven stubs (stubs/), in course order
    DIR/test_exercises.py    the grader as a pytest run, one marker per exercise
    DIR/pytest.ini           the markers ex1 ... ex11
    DIR/.github/workflows/minivae-exercises.yml   with --ci: grading in a course's CI, which
                             pip-installs the minivae that wrote it (--minivae SPEC: another)

A file already in DIR is left exactly as it is (a learner's work), and
``start`` says which it kept and which it wrote.
"""

from __future__ import annotations

import os
import textwrap

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
  # What pip installs: a package name (minivae==0.1.0), a git URL
  # (git+https://github.com/OWNER/REPO@TAG) or an archive's URL.
{found}
  MINIVAE: "{spec}"
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
      - name: install minivae
        id: install
        run: |
          if [ -z "$MINIVAE" ]; then
            echo "::error::MINIVAE is empty: set it atop this workflow to what pip installs"
            exit 1
          fi
          pip install "$MINIVAE" pytest
{steps}"""

CI_STEP = """      - name: "exercise {n}: {title}"
        if: always() && steps.install.outcome == 'success'
        run: python -m pytest -q -p no:cacheprovider -m ex{n}
"""


def _https(url: str) -> str:
    """A git remote as pip reaches it from CI: git@host:path becomes https://host/path."""
    if "://" not in url and ":" in url and "@" in url.split(":")[0]:
        host, path = url.split("@", 1)[1].split(":", 1)
        return f"https://{host}/{path}"
    return url


def _origin(folder: str):
    """The https or ssh URL of the git checkout ``folder``'s origin, or None."""
    import subprocess
    try:
        out = subprocess.run(["git", "-C", folder, "remote", "get-url", "origin"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    url = out.stdout.strip()
    return _https(url) if out.returncode == 0 and url and not url.startswith(("/", ".", "file:")) \
        else None


def minivae_source() -> tuple:
    """(spec, how): what pip should install in CI to get the minivae running now, and how it
    was found; spec is "" when it came from a folder CI cannot reach (then the workflow says
    what to set)."""
    import importlib.metadata as metadata
    import json
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    local = ("", "Empty: the minivae that wrote this file runs from a folder CI cannot reach "
             "(no git origin); set it, or the first step stops with that error.")
    if os.path.exists(os.path.join(here, "pyproject.toml")):       # a checkout: pip install -e .
        origin = _origin(here)
        return (f"git+{origin}", "Set to the repository the minivae that wrote this file was "
                "cloned from (its git origin); add @TAG or @COMMIT to pin the grader.") \
            if origin else local
    try:
        dist = metadata.distribution("minivae")
    except metadata.PackageNotFoundError:
        return local
    direct = json.loads(dist.read_text("direct_url.json") or "null")
    if direct is None:                                               # from a package index
        return (f"minivae=={dist.version}", "Set to the version that wrote this file, from "
                "the package index it was installed from.")
    url, vcs = direct.get("url", ""), direct.get("vcs_info")
    if url.startswith("file:"):
        return local
    if vcs:
        return (f"{vcs['vcs']}+{url}@{vcs['commit_id']}", "Set to the commit that wrote this "
                "file, from the repository it was installed from.")
    return url, "Set to the archive the minivae that wrote this file was installed from."


def files(ci=False, minivae=None) -> dict:
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
        spec, how = (minivae, "Set by start --minivae.") if minivae else minivae_source()
        found = "\n".join(textwrap.wrap(how, 86, initial_indent="  # ",
                                        subsequent_indent="  # "))
        out[CI_FILE] = CI.format(spec=spec, found=found, steps="".join(
            CI_STEP.format(n=e.n, title=e.title) for e in EXERCISES))
    return out


def start(path, ci=False, minivae=None) -> tuple:
    """Write the workspace's missing files into ``path``: (written, kept), relative paths.

    minivae: what the CI workflow pip-installs (default: minivae_source()'s).
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"{path} is a file, not a directory: name a folder for the "
                                 "exercises")
    written, kept = [], []
    for rel, text in files(ci, minivae).items():
        target = os.path.join(path, rel)
        if os.path.lexists(target):
            kept.append(rel)
            continue
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with open(target, "x", encoding="utf-8") as f:   # "x": never over a file made meanwhile
            f.write(text)
        written.append(rel)
    return written, kept
