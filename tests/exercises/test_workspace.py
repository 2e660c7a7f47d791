"""start: the stubs in course order, never an overwritten file; an untouched workspace
reports every exercise "not started", with no traceback, from the command and from pytest."""

import os
import subprocess
import sys

import pytest

from minivae.exercises import workspace
from minivae.exercises.catalog import EXERCISES
from minivae.exercises.cli import main
from minivae.exercises.workspace import CI_FILE
from workspaces import fresh, solved  # noqa: F401 (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_start_writes_the_stubs_readme_tests_and_markers(tmp_path, capsys):
    assert main(["start", str(tmp_path / "ws")]) == 0
    names = sorted(os.listdir(tmp_path / "ws"))
    assert names == sorted([e.file for e in EXERCISES] + ["README.md", "pytest.ini",
                                                          "test_exercises.py"])
    out = capsys.readouterr().out
    assert "wrote 14 files" in out and "check" in out
    ini = (tmp_path / "ws" / "pytest.ini").read_text()
    assert all(f"ex{e.n}: exercise {e.n}" in ini for e in EXERCISES)
    tests = (tmp_path / "ws" / "test_exercises.py").read_text()
    assert tests.count("@pytest.mark.ex") == len(EXERCISES)
    for e in EXERCISES:     # every stub raises the stub's error, naming its exercise
        text = (tmp_path / "ws" / e.file).read_text()
        for name in e.functions:
            assert f'raise NotImplementedError("exercise {e.n}: {name}")' in text


def test_start_into_a_folder_with_files_writes_only_what_is_missing(fresh, capsys):
    mine = "def dense_forward(x, W, b):\n    return x @ W + b  # my work\n"
    (fresh / EXERCISES[0].file).write_text(mine)
    (fresh / EXERCISES[3].file).unlink()
    assert main(["start", str(fresh)]) == 0
    out = capsys.readouterr().out
    assert (fresh / EXERCISES[0].file).read_text() == mine          # never overwritten
    assert (fresh / EXERCISES[3].file).exists()                     # the missing one is back
    assert "already holds 13 of the files" in out and f"wrote 1 file into {fresh}: " \
        f"{EXERCISES[3].file}" in out


def test_start_ci_writes_a_workflow_with_a_step_per_exercise(tmp_path, capsys):
    assert main(["start", "--ci", str(tmp_path)]) == 0
    workflow = (tmp_path / CI_FILE).read_text()
    for e in EXERCISES:
        assert f"python -m pytest -q -p no:cacheprovider -m ex{e.n}" in workflow
    assert "on: [push, pull_request]" in workflow and "download" in workflow


def minivae_line(workflow):
    return next(line.strip() for line in workflow.splitlines() if line.strip().startswith(
        "MINIVAE:"))


def test_start_ci_installs_the_minivae_given(tmp_path, capsys):
    spec = "git+https://github.com/course/minivae@v1"
    assert main(["start", "--ci", "--minivae", spec, str(tmp_path)]) == 0
    assert minivae_line((tmp_path / CI_FILE).read_text()) == f'MINIVAE: "{spec}"'
    assert f"the workflow installs {spec} (MINIVAE in {CI_FILE}" in capsys.readouterr().out


@pytest.mark.parametrize("origin, spec", [
    ("https://github.com/me/minivae.git", "git+https://github.com/me/minivae.git"),
    ("git@github.com:me/minivae.git", "git+https://github.com/me/minivae.git"),
])
def test_from_a_clone_ci_installs_its_origin(tmp_path, monkeypatch, origin, spec):
    """minivae run from a clone (pip install -e .): CI installs that repository."""
    monkeypatch.setattr(workspace, "_origin", lambda folder: workspace._https(origin))
    workflow = workspace.files(ci=True)[CI_FILE]
    assert minivae_line(workflow) == f'MINIVAE: "{spec}"'
    assert "cloned from (its git\n  # origin); add @TAG or @COMMIT to pin the grader" in workflow


def test_from_a_folder_ci_cannot_reach_the_workflow_says_what_to_set(tmp_path, monkeypatch,
                                                                     capsys):
    """Never a bare name pip may not find: an empty MINIVAE, and a first step that says so."""
    monkeypatch.setattr(workspace, "_origin", lambda folder: None)
    assert main(["start", "--ci", str(tmp_path)]) == 0
    workflow = (tmp_path / CI_FILE).read_text()
    assert minivae_line(workflow) == 'MINIVAE: ""'
    assert "runs from a folder CI cannot reach (no git\n  # origin); set it" in workflow
    assert '"::error::MINIVAE is empty: set it atop this workflow to what pip installs"' \
        in workflow
    assert workflow.count("if: always() && steps.install.outcome == 'success'") == len(EXERCISES)
    assert f"set MINIVAE in {CI_FILE} to what CI should pip-install" in capsys.readouterr().out


def test_start_onto_a_file_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["start", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a file" in err and len(err.splitlines()) == 1


def test_an_untouched_workspace_is_not_started_everywhere(fresh, capsys):
    assert main(["check", str(fresh)]) == 1
    out = capsys.readouterr().out
    assert out.count("not started") == len(EXERCISES) + 1        # one each, and the summary
    assert "0 of 11 passing, 0 wrong, 11 not started" in out and "Traceback" not in out


def test_check_of_a_folder_without_exercises_says_how_to_start(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 1
    assert "holds no exercises: python -m minivae.exercises start" in capsys.readouterr().err
    assert main(["check", str(tmp_path), "12"]) == 2
    assert "there is no exercise 12" in capsys.readouterr().err


def test_the_workspace_pytest_run_grades_by_marker(solved):
    """python -m pytest DIR -m ex3, as a course's CI runs it: passes for minivae's answers,
    and for a stub fails with the grader's words, not a traceback."""
    with open(os.path.join(REPO, "minivae", "exercises", "stubs", "ex05_kl.py")) as f:
        (solved / "ex05_kl.py").write_text(f.read())              # exercise 5 back to its stub
    env = {**os.environ, "PYTHONPATH": REPO}
    run = subprocess.run([sys.executable, "-m", "pytest", str(solved), "-m", "ex3 or ex5 or ex6",
                          "-p", "no:cacheprovider", "-q"], capture_output=True, text=True, env=env,
                         cwd=solved, timeout=120)
    assert run.returncode == 1 and "1 failed, 2 passed, 8 deselected" in run.stdout, run.stdout
    assert "exercise 5 (ex05_kl.py) is not started: write gaussian_kl, gaussian_kl_backward" \
        in run.stdout and "Traceback" not in run.stdout
