"""The shape of the code a learner reads: no import cycle, a short path through one
step, and a docs/math.md whose pointers into the code all exist."""

import ast
import importlib
import os
import re
import sys

import pytest

import minivae

PACKAGE = os.path.dirname(minivae.__file__)
ROOT = os.path.dirname(PACKAGE)
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "reading"))


def module_name(path):
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def package_modules():
    """{module name: file} for every .py file of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                found[module_name(path)] = path
    return found


def imports_of(name, path, modules):
    """The package modules that ``name`` imports, anywhere in the file (inside functions too)."""
    is_package = path.endswith("__init__.py")
    base = name.split(".") if is_package else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:                 # `from .backend import cuda_kernels` is a module
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in modules else target)
    return {m for m in out if m in modules and m != name}


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle():
    modules = package_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# What each part of the package may import (besides itself): the array backend is
# the floor, and the VAE a learner reads never reaches up into the commands.
ENTRY_POINTS = {"minivae", "minivae.train", "minivae.sample", "minivae.evaluate"}
MAY_IMPORT = {
    "backend": set(),                       # numpy or cupy, and nothing of the model
    "files": {"backend"},                   # safe reading and writing
    "data": {"backend", "files", "fast"},   # data sets and batches (+ the BLAS threads)
    "root": {"backend", "files", "fast"},   # the VAE a learner reads (+ its speed-ups)
}


def part_of(name, path):
    """"backend", "files", "data", "fast", "run", ... for a subpackage's module; "root" else."""
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and path.endswith("__init__.py")):
        return parts[1]
    return "root"


def test_no_import_runs_back_up_the_layers():
    modules = package_modules()
    wrong = []
    for name, path in modules.items():
        part = part_of(name, path)
        if name in ENTRY_POINTS or part not in MAY_IMPORT:
            continue
        for dep in imports_of(name, path, modules):
            dep_part = part_of(dep, modules[dep])
            if dep_part != part and dep_part not in MAY_IMPORT[part]:
                wrong.append(f"{name} ({part}) imports {dep} ({dep_part})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_layering_check_sees_a_wrong_import():
    assert part_of("minivae.backend", "minivae/backend/__init__.py") == "backend"
    assert part_of("minivae.vae", "minivae/vae.py") == "root"
    assert part_of("minivae.run.train", "minivae/run/train.py") == "run"
    assert "run" not in MAY_IMPORT["root"] and not MAY_IMPORT["backend"]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_one_training_step_is_a_short_read():
    from trace_step import default_step_trace
    calls = default_step_trace()
    files = {f for f, _ in calls}
    listing = "\n".join(f"  {f}: {name}" for f, name in calls)
    assert len(calls) <= 12 and len(files) <= 5, \
        f"one loss_and_grads call enters {len(calls)} functions in {len(files)} files:\n{listing}"
    assert ("vae.py", "VAE.loss_and_grads") in calls


def test_building_the_default_model_stays_a_short_read():
    """Today 40 functions (30 without comprehensions and lambdas) in 10 files; not more.

    The model, the backend, the speed-up choice, the likelihood, the layers, the flat
    parameter vectors, the architecture's checks and the memory budget each take a file.
    """
    from trace_step import default_build_trace, named
    calls = default_build_trace()
    files = {f for f, _ in calls}
    listing = "\n".join(f"  {f}: {name}" for f, name in calls)
    assert len(named(calls)) <= 30 and len(calls) <= 40 and len(files) <= 10, \
        f"building VAE() enters {len(calls)} functions in {len(files)} files:\n{listing}"
    assert ("vae.py", "VAE.__init__") in calls and ("model.py", "BaseModel._layer_specs") in calls


def math_references():
    text = open(os.path.join(ROOT, "docs", "math.md")).read()
    return sorted(set(re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", text)))


def test_math_md_names_the_code_and_every_name_exists():
    refs = math_references()
    assert len(refs) >= 20, refs                     # the map is there
    missing = []
    for ref in refs:
        parts = ref.split(".")
        for n in range(len(parts), 0, -1):          # the longest prefix that is a module
            path = os.path.join(PACKAGE, *parts[:n]) + ".py"   # (fast.cpu_kernels.adam_kernel)
            if os.path.exists(path) or os.path.isdir(os.path.join(PACKAGE, *parts[:n])):
                break
        else:
            missing.append(ref)
            continue
        try:
            obj = importlib.import_module("minivae." + ".".join(parts[:n]))
        except ImportError:   # a module of an optional extra (Numba) without it: read its source
            names = {d.name for d in ast.parse(open(path).read()).body
                     if isinstance(d, (ast.FunctionDef, ast.ClassDef))}
            if n < len(parts) and parts[n] not in names:
                missing.append(ref)
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr, None)
        if obj is None:
            missing.append(ref)
    assert not missing, f"docs/math.md names code that does not exist: {missing}"


@pytest.mark.parametrize("path", ["minivae/vae.py", "minivae/autoencoder.py",
                                  "minivae/cvae.py"])
def test_loss_and_grads_reads_in_about_forty_lines(path):
    tree = ast.parse(open(os.path.join(ROOT, path)).read())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "loss_and_grads")
    assert fn.end_lineno - fn.lineno + 1 <= 45


def readme_tree():
    """The files the README's captioned tree names, as paths under minivae/ (in its order)."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = re.search(r"```text\nminivae/\n(.*?)```", text, re.S)
    assert block, "README.md has no ```text block starting with minivae/"
    named, folders = [], []
    for line in block.group(1).splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2 - 1   # 2 spaces a level, under minivae/
        entry = line.split()[0]
        del folders[depth:]
        if entry.endswith("/"):
            folders.append(entry.rstrip("/"))
        else:
            named.append("/".join(folders + [entry]))
    return named


def test_the_readme_tree_names_every_file_of_the_package_once():
    files = sorted(os.path.relpath(os.path.join(folder, f), PACKAGE).replace(os.sep, "/")
                   for folder, _, fs in os.walk(PACKAGE) if "__pycache__" not in folder
                   for f in fs if f.endswith((".py", ".js")))
    named = readme_tree()
    twice = sorted({f for f in named if named.count(f) > 1})
    assert not twice, f"README.md's tree names these more than once: {twice}"
    missing, stale = sorted(set(files) - set(named)), sorted(set(named) - set(files))
    assert not missing, f"package files missing from README.md's tree (add a caption): {missing}"
    assert not stale, f"README.md's tree names files that do not exist: {stale}"


def test_the_readme_reading_order_is_the_order_one_step_enters_the_files():
    from trace_step import default_step_trace
    text = open(os.path.join(ROOT, "README.md")).read()
    table = re.findall(r"^\| (\d) \| `minivae/([a-z_]+\.py)` \|", text, re.M)
    order = []
    for f, _ in default_step_trace():
        if f not in order:
            order.append(f)
    assert [f for _, f in table] == order, f"the step enters {order}; README lists {table}"
