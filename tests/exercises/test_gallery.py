"""The bug gallery: every bug, applied to minivae, fails the check the docs name for it; a
gradient check alone misses the first two; docs/exercises.md shows the table as run."""

import os
import re

import pytest

from minivae.exercises.cli import main
from minivae.exercises.gallery import BUGS, table, table_lines
from workspaces import fresh  # noqa: F401 (fixtures)

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "docs", "exercises.md")


@pytest.fixture(scope="module")
def rows():
    return table()             # every check of every exercise, once per bug (a few seconds)


def failing(rows, key):
    bug, failed = next((b, f) for b, f in rows if b.key == key)
    return {f"ex{n} {kind}" for kind, ns in failed.items() for n in ns}


@pytest.mark.parametrize("bug", BUGS, ids=[b.key for b in BUGS])
def test_each_bug_fails_the_check_the_docs_name(rows, bug):
    assert bug.caught_by in failing(rows, bug.key), (bug.key, sorted(failing(rows, bug.key)))


def test_a_gradient_check_alone_misses_the_first_two(rows):
    """std = exp(logvar) and the fresh eps pass both gradient checks against their own forward;
    only the distribution test and the noise test catch them."""
    assert [b.key for b in BUGS[:2]] == ["std-exp-logvar", "fresh-eps"]
    for bug in BUGS[:2]:
        assert not any(name.endswith("grad-own") for name in failing(rows, bug.key)), bug.key
    assert failing(rows, "fresh-eps") == {"ex7 noise"}
    assert "ex6 property" in failing(rows, "std-exp-logvar")


def test_the_table_comes_from_running_the_checks(rows):
    """A bug that changes nothing fails no check: the table is the checks' verdicts."""
    no_bug = BUGS[0]._replace(key="none", parts={})
    ((_, failed),) = table([no_bug])
    assert not any(failed.values())


def test_docs_show_the_table_as_the_command_prints_it(rows):
    with open(DOCS, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"<!-- bugs table.*?-->\n(.*?)\n<!-- end of the bugs table -->", text, re.S)
    assert block, "docs/exercises.md has no bugs table between its markers"
    assert block.group(1).strip().splitlines() == table_lines(rows, markdown=True), \
        "docs/exercises.md's bug table is stale: paste python -m minivae.exercises bugs --markdown"


def test_the_command_prints_the_table(rows, capsys, monkeypatch):
    monkeypatch.setattr("minivae.exercises.gallery.table", lambda: rows)   # run once, above
    assert main(["bugs"]) == 0
    out = capsys.readouterr().out
    assert "std = exp(logvar)" in out and "6*" in out and "7*" in out
    assert max(len(line) for line in out.splitlines()) <= 100
