"""minivae's own functions, given as the answers, pass every grader: from memory, from a
workspace's files and through the command; one exercise grades in under 5 s, all in under 60."""

import time

import pytest

from minivae.exercises.answers import make_answers
from minivae.exercises.catalog import EXERCISES
from minivae.exercises.cli import main
from minivae.exercises.grading import grade, grade_functions
from minivae.exercises.registry import CHECKS, KINDS
from minivae.exercises.report import exercise_lines

from handwritten import FILES
from workspaces import fresh, handwritten, replace, solved  # noqa: F401 (fixtures)


def test_every_exercise_has_checks_of_the_kinds_it_needs():
    for e in EXERCISES:
        kinds = [c.kind for c in CHECKS[e.n]]
        assert kinds[0] == "shapes" and "values" in kinds, e.n
        assert len(kinds) == len(set(kinds)), f"exercise {e.n} has two {kinds} checks"
        assert set(kinds) <= set(KINDS)
    backward = {1, 2, 3, 4, 5, 6, 7, 9, 11}          # every exercise with a backward pass:
    for n in backward:                               # both gradient checks
        assert {"grad-own", "grad-minivae"} <= {c.kind for c in CHECKS[n]}, n
    assert "property" in {c.kind for c in CHECKS[6]} and "noise" in {c.kind for c in CHECKS[7]}


@pytest.mark.parametrize("n", [e.n for e in EXERCISES])
def test_minivae_passes_each_exercise_in_under_5_seconds(n):
    start = time.perf_counter()
    (result,) = grade_functions(make_answers(), [n])
    assert result.status == "passing", [c for c in result.checks if c.status != "pass"]
    assert all(c.status == "pass" for c in result.checks)
    assert time.perf_counter() - start < 5


def test_a_solved_workspace_passes_in_under_60_seconds(solved, capsys):
    start = time.perf_counter()
    assert main(["check", str(solved)]) == 0
    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    assert "11 of 11 passing, 0 wrong, 0 not started" in out, out
    assert seconds < 60
    assert main(["check", str(solved), "3", "9"]) == 0
    assert "2 of 2 passing" in capsys.readouterr().out


def test_an_edited_file_is_read_again(solved):
    (solved / "ex08_adam.py").write_text(
        "def adam_update(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):\n"
        "    raise NotImplementedError('exercise 8: adam_update')\n")
    assert grade(str(solved), [8])[0].status == "not started"
    (solved / "ex08_adam.py").write_text(
        "from minivae.exercises.answers import make_answers\n"
        "adam_update = make_answers()['adam_update']\n")
    assert grade(str(solved), [8])[0].status == "passing"


def test_half_an_exercise_is_wrong_and_names_what_is_left(fresh):
    (fresh / "ex02_activations.py").write_text(
        (fresh / "ex02_activations.py").read_text()
        + "\ndef relu_forward(x):\n    return x * (x > 0)\n")
    (result,) = grade(str(fresh), [2])
    assert result.status == "wrong"
    assert result.unwritten == ["relu_backward", "sigmoid_forward", "sigmoid_backward",
                                "tanh_forward", "tanh_backward"]
    assert "still to write: relu_backward, sigmoid_forward" in "\n".join(exercise_lines(result))


def test_a_learners_own_numpy_passes_every_grader(fresh):
    """Answers written from the docstrings, not from minivae's code, pass: no check asks
    for minivae's exact formulas or rounding."""
    for name, source in FILES.items():
        (fresh / name).write_text(source)
    results = grade(str(fresh))
    assert [r.status for r in results] == ["passing"] * len(EXERCISES), \
        [c.message for r in results for c in r.checks if c.status != "pass"]


def test_a_float64_number_in_float32_code_is_explained(fresh):
    (fresh / "ex10_logsumexp.py").write_text(
        FILES["ex10_logsumexp.py"].replace("math.log(nll.shape[0])", "np.log(nll.shape[0])"))
    (result,) = grade(str(fresh), [10])
    assert "iwae_nll returned nll as float64 for float32 inputs; keep the inputs' dtype: a NumPy " \
           "float64 number (np.log(K)" in result.checks[0].message
