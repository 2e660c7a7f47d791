"""The stubs carry minivae's own docstrings and the answers' signatures, cite docs/math.md,
and raise NotImplementedError naming their exercise; the docs and the notebook point here."""

import ast
import importlib
import inspect
import json
import os

import pytest

from minivae.exercises.catalog import EXERCISES, REAL
from minivae.exercises.registry import SIGNATURES
from minivae.exercises.workspace import STUBS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stub_functions(e):
    with open(os.path.join(STUBS, e.file), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return tree, {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def real_object(path):
    module, *attrs = path.split(".")
    obj = importlib.import_module(f"minivae.{module}")
    for attr in attrs:
        obj = getattr(obj, attr)
    return obj


@pytest.mark.parametrize("e", EXERCISES, ids=[e.file for e in EXERCISES])
def test_each_stub_has_the_real_docstring_and_the_answers_signature(e):
    tree, functions = stub_functions(e)
    assert list(functions) == list(e.functions)
    assert f"docs/math.md {e.section}" in ast.get_docstring(tree) or \
        f"math.md {e.section}" in ast.get_docstring(tree)
    for name, node in functions.items():
        first = inspect.getdoc(real_object(REAL[name])).splitlines()[0].rstrip(".")
        assert first in ast.get_docstring(node), (name, first)
        params = [a.arg for a in node.args.args] + [a.arg for a in node.args.kwonlyargs]
        assert params == list(SIGNATURES[name].parameters), name
        assert ast.unparse(node.body[-1]) == f"raise NotImplementedError('exercise {e.n}: {name}')"


def test_the_readme_and_the_tutorial_point_to_the_course():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert "docs/exercises.md" in f.read()
    with open(os.path.join(REPO, "examples", "tutorial.ipynb"), encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    assert any("docs/exercises.md" in "".join(c["source"]) for c in cells
               if c["cell_type"] == "markdown")
