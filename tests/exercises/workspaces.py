"""Workspaces for the exercises' tests: a fresh one (the stubs), a solved one, a handwritten one.

The test files import these fixtures by name (``from workspaces import fresh``):
a conftest.py here would take the module name ``conftest`` from tests/conftest.py.

The solved workspace's files hand out minivae's own answers (answers.py)
under the stubs' names, so it goes through everything a learner's files go
through: the import, the signature check, the time limit.
"""

import pytest

from minivae.exercises.catalog import EXERCISES
from minivae.exercises.workspace import start

SOLUTION = "from minivae.exercises.answers import make_answers\n_answers = make_answers()\n"


def write_solution(path, exercises=EXERCISES):
    for e in exercises:
        text = SOLUTION + "".join(f"{name} = _answers[{name!r}]\n" for name in e.functions)
        (path / e.file).write_text(text)
    return path


@pytest.fixture
def fresh(tmp_path):
    """A workspace just as ``start`` writes it."""
    start(str(tmp_path / "ws"))
    return tmp_path / "ws"


@pytest.fixture
def solved(fresh):
    """The same workspace with every exercise answered by minivae's own functions."""
    return write_solution(fresh)


@pytest.fixture
def handwritten(fresh):
    """The workspace with a learner's own NumPy answers (handwritten.py)."""
    from handwritten import FILES
    for name, source in FILES.items():
        (fresh / name).write_text(source)
    return fresh


def replace(path, name, source):
    """Overwrite one workspace file with ``source`` (a learner's attempt)."""
    (path / name).write_text(source)
    return path
