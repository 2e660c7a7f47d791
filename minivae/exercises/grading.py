"""Grading: every check of an exercise, run under a time limit, and one verdict.

    results = grade("my_workspace")              # every exercise, from the files
    results = grade("my_workspace", [3])         # exercise 3 only
    results = grade_functions(answers, [6, 7])   # functions by name (the bug gallery's way)

An exercise is "passing" when all its checks pass, "not started" while every
one of its functions is still the stub (a docstring, then raise
NotImplementedError), and "wrong" otherwise: a failing check, with its
message, or functions still to write. A check
never lets an exception out: the learner's raised -> their line; a stub not
written -> "not written"; a time limit -> where their code was when it ran
out. The time limit (SIGALRM, so only in the main thread of a Unix process)
stops a function that never returns.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .answers import make_answers
from .catalog import BY_NUMBER, EXERCISES
from .compare import Wrong
from .loading import is_stub, load, not_written, their_error, their_frame, workspace_on_path
from .registry import CHECKS, namespace
from . import checks  # noqa: F401  (files every check in CHECKS)

TIME_LIMIT = 10.0      # seconds per exercise; grading one takes well under 1 s


class TimeLimit(BaseException):
    """Raised in the learner's code when an exercise runs out of time.

    A BaseException, so that an ``except Exception`` in their code cannot swallow it.
    """


@dataclass
class CheckResult:
    name: str            # "ex6 property"
    kind: str
    status: str          # "pass", "fail", "todo" (a function not written yet), "not run"
    message: str = ""


@dataclass
class ExerciseResult:
    n: int
    title: str
    status: str = "not started"       # "passing", "wrong" or "not started"
    problem: str = ""                 # why it could not be graded at all (the file)
    unwritten: list = field(default_factory=list)   # its functions still as the stub has them
    checks: list = field(default_factory=list)
    seconds: float = 0.0

    def failures(self):
        return [c for c in self.checks if c.status == "fail"]


@contextlib.contextmanager
def time_limit(seconds):
    """TimeLimit raised wherever the code is after ``seconds`` (and every 0.5 s after)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimit(seconds)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_check(check, f, ref, files) -> CheckResult:
    """One check's verdict; TimeLimit passes through."""
    result = CheckResult(check.name, check.kind, "pass")
    try:
        check.run(f, ref)
    except Wrong as e:
        result.status, result.message = "fail", str(e)
    except NotImplementedError as e:
        n, name = not_written(e)
        if n in (0, check.exercise):
            result.status, result.message = "todo", f"{name} is not written yet"
        else:
            result.status = "fail"
            result.message = (f"it calls {name} of exercise {n}, which is not written yet: "
                              f"do exercise {n} first")
    except (Exception, SystemExit) as e:     # noqa: BLE001  (anything the learner's code raises)
        result.status = "fail"
        result.message = their_error(e, files, "the check could not use what came back")
    return result


def verdict(result: ExerciseResult) -> str:
    statuses = {c.status for c in result.checks}
    if len(result.unwritten) == len(BY_NUMBER[result.n].functions):
        return "not started"
    if statuses == {"pass"} and not result.unwritten:
        return "passing"
    return "wrong"                    # a failing check, or some functions not written yet


def grade_exercise(n, f, ref, files=frozenset(), seconds=TIME_LIMIT) -> ExerciseResult:
    result = ExerciseResult(n, BY_NUMBER[n].title)
    result.unwritten = [name for name in BY_NUMBER[n].functions if is_stub(getattr(f, name))]
    start = time.perf_counter()
    todo = list(CHECKS[n])
    if len(result.unwritten) == len(BY_NUMBER[n].functions):   # all still stubs: nothing to run
        result.checks, todo = [CheckResult(c.name, c.kind, "todo", "not written yet")
                               for c in todo], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")      # overflow warnings from the learner's NumPy
        try:
            with time_limit(seconds):
                while todo:
                    result.checks.append(run_check(todo[0], f, ref, files))
                    todo.pop(0)
        except TimeLimit as e:
            frame = their_frame(e, files)
            where = (f": your {frame[2]} was at {frame[0]}, line {frame[1]}: {frame[3]} "
                     "(a loop that never ends?)" if frame else "")
            result.checks.append(CheckResult(todo[0].name, todo[0].kind, "fail",
                                             f"still running after {seconds:g} s{where}"))
            result.checks += [CheckResult(c.name, c.kind, "not run") for c in todo[1:]]
    result.seconds = time.perf_counter() - start
    result.status = verdict(result)
    return result


def grade_functions(functions: dict, numbers=None, reference=None, files=frozenset(),
                    problems=None, seconds=TIME_LIMIT) -> list:
    """Grade the exercises ``numbers`` (default: all) of ``functions`` (name -> function)."""
    ref = namespace(reference or make_answers())
    out = []
    for n in numbers or [e.n for e in EXERCISES]:
        if problems and n in problems:
            out.append(ExerciseResult(n, BY_NUMBER[n].title, "wrong", problems[n]))
            continue
        out.append(grade_exercise(n, namespace(functions), ref, files, seconds))
    return out


def grade(workspace, numbers=None, seconds=TIME_LIMIT) -> list:
    """Grade the workspace's files: one ExerciseResult per exercise."""
    with workspace_on_path(workspace) as path:
        with time_limit(seconds):            # a top-level loop in a file that never ends
            try:
                loaded = load(path)
            except TimeLimit:
                raise TimeoutError(f"importing the files of {workspace} took more than "
                                   f"{seconds:g} s: does one run a loop at its top level?"
                                   ) from None
        return grade_functions(loaded.functions, numbers, files=loaded.files,
                               problems=loaded.problems, seconds=seconds)


def assert_passing(workspace, n, seconds=TIME_LIMIT):
    """For a workspace's test file: fail the pytest test of exercise n, with the grader's words."""
    import pytest                            # only the workspace's test run needs it
    from .report import exercise_lines
    (result,) = grade(workspace, [n], seconds)
    if result.status == "not started":
        names = ", ".join(BY_NUMBER[n].functions)
        pytest.fail(f"exercise {n} ({BY_NUMBER[n].file}) is not started: write {names}",
                    pytrace=False)
    if result.status != "passing":
        pytest.fail("\n".join(exercise_lines(result)), pytrace=False)
