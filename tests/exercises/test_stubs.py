"""The stubs carry the answers' signatures and minivae's own docstrings where those fit them,
cite docs/math.md, and raise NotImplementedError naming their exercise; the docs and the
notebook point here."""

import ast
import importlib
import inspect
import json
import os
import re

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


def misfits(text, stub_params, real_params):
    """What ``text`` says of parameters that a stub with ``stub_params`` does not have.

    A density such as p(x | z) names a variable of the maths, not a parameter.
    """
    words = re.sub(r"\b[pq]\([^)]*\)", "", text)
    wrong = [f"{p} (minivae's parameter, not the stub's)" for p in real_params
             if p not in stub_params and re.search(rf"\b{p}\b", words)]
    wrong += [f"{p} or None (it has no default None)" for p, q in stub_params.items()
              if q.default is not None and re.search(rf"\b{p}\b[^.;:\n]*\bor None", text)]
    return wrong


@pytest.mark.parametrize("e", EXERCISES, ids=[e.file for e in EXERCISES])
def test_each_stub_has_the_real_docstring_and_the_answers_signature(e):
    """The first line of minivae's docstring, where it fits the stub's signature; never a word
    about a parameter the stub does not have."""
    tree, functions = stub_functions(e)
    assert list(functions) == list(e.functions)
    assert f"docs/math.md {e.section}" in ast.get_docstring(tree) or \
        f"math.md {e.section}" in ast.get_docstring(tree)
    for name, node in functions.items():
        real = real_object(REAL[name])
        first = inspect.getdoc(real).splitlines()[0].rstrip(".")
        params = [a.arg for a in node.args.args] + [a.arg for a in node.args.kwonlyargs]
        assert params == list(SIGNATURES[name].parameters), name
        stub_params = SIGNATURES[name].parameters
        real_params = [p for p in inspect.signature(real).parameters if p != "self"]
        doc = ast.get_docstring(node)
        assert not misfits(doc, stub_params, real_params), (name, misfits(doc, stub_params,
                                                                          real_params))
        if misfits(first, stub_params, real_params):
            assert first not in doc, (name, first)
        else:
            assert first in doc, (name, first)
        assert ast.unparse(node.body[-1]) == f"raise NotImplementedError('exercise {e.n}: {name}')"


def test_a_docstring_naming_what_the_stub_lacks_is_caught():
    """The IWAE stubs once opened with IWAE.loss's and IWAE.loss_and_grads's first lines."""
    iwae_nll = SIGNATURES["iwae_nll"].parameters
    assert misfits("The numbers of loss_and_grads, without gradients; reduce=False: per example "
                   "(B,).", iwae_nll, ["x", "eps", "reduce"])
    assert misfits("Loss (0-d, nats per example), its parts, and every gradient; eps (K, B, Z) "
                   "or None.", SIGNATURES["iwae_loss_and_grads"].parameters,
                   ["x", "eps", "input_grad"])
    assert misfits("The KL half of what minivae's reparameterize_backward adds (with c = 1)",
                   SIGNATURES["gaussian_kl_backward"].parameters,
                   ["dz", "eps", "std", "mu", "logvar", "c"])
    assert not misfits("nll : (K, B), -log p(x | z_i).", iwae_nll, ["x", "eps", "reduce"])
    assert not misfits("eps : (B, Z) noise, or None to draw it",
                       SIGNATURES["vae_loss_and_grads"].parameters, ["x", "eps", "beta"])


def test_the_readme_and_the_tutorial_point_to_the_course():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert "docs/exercises.md" in f.read()
    with open(os.path.join(REPO, "examples", "tutorial.ipynb"), encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    assert any("docs/exercises.md" in "".join(c["source"]) for c in cells
               if c["cell_type"] == "markdown")
