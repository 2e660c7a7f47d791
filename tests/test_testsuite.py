"""The test suite itself: it finds MNIST where the package does, sums up its skips, mirrors
the package folder by folder, and keeps every PyTorch comparison in a file of its own."""

import ast
import os
import shutil
import subprocess
import sys
import textwrap

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
PACKAGE = os.path.join(REPO, "minivae")
# backend/ belongs to the core a learner reads, so its tests stand with the model's, at the root
TESTED_AT_THE_ROOT = {"backend": "test_backend.py"}
# tests/scripts/ tests what stands beside the package: benchmarks/, examples/, the notebook
BESIDE_THE_PACKAGE = {"scripts"}
# tests/cupy_standin/ is a tool of the tests: a CPU stand-in for CuPy, with its own tests
TEST_TOOLS = {"cupy_standin"}


def _run(code, env, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, TESTS]), **env}
    return subprocess.run([sys.executable, *code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_mnist_in_the_download_cache_is_found_without_minivae_data_dir(mnist_dir, tmp_path):
    """After `python -m minivae.train` cached MNIST, the tests use it without any variable."""
    cache = tmp_path / "xdg" / "minivae" / "mnist"
    cache.mkdir(parents=True)
    for name in os.listdir(mnist_dir):
        if "ubyte" in name:
            shutil.copy(os.path.join(mnist_dir, name), cache / name)
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "MINIVAE_DATA_DIR": ""}
    res = _run(["-c", "import os, conftest; print(os.environ.get('MINIVAE_DATA_DIR'))"],
               env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(cache)
    empty = {"XDG_CACHE_HOME": str(tmp_path / "nothing"), "MINIVAE_DATA_DIR": ""}
    res = _run(["-c", "import os, conftest; print(repr(os.environ.get('MINIVAE_DATA_DIR')))"],
               empty, tmp_path)
    assert res.stdout.strip() in ("''", "None") or "/usr/share/datasets" in res.stdout


def test_skips_are_summed_up_by_reason(tmp_path):
    """Twenty skips for one reason are one line, not twenty."""
    (tmp_path / "conftest.py").write_text(open(os.path.join(TESTS, "conftest.py")).read())
    (tmp_path / "test_many.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.parametrize("i", range(20))
        def test_gpu(i):
            pytest.skip("needs a GPU")

        def test_data():
            pytest.skip("needs data")
    """))
    res = _run(["-m", "pytest", "-p", "no:cacheprovider", "-rfE", str(tmp_path)],
               {"MINIVAE_DATA_DIR": ""}, tmp_path)
    assert "21 skipped" in res.stdout, res.stdout
    assert "  20 x needs a GPU" in res.stdout and "   1 x needs data" in res.stdout
    assert "SKIPPED [" not in res.stdout   # no line per skipped test


def _folders(path):
    return {n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n))
            and not n.startswith((".", "__"))}


def test_tests_mirror_the_package():
    """Each subpackage of minivae/ has its tests/<name>/, and each tests/ folder names one."""
    subpackages = {n for n in _folders(PACKAGE)
                   if os.path.isfile(os.path.join(PACKAGE, n, "__init__.py"))}
    folders = _folders(TESTS)
    untested = sorted(subpackages - set(TESTED_AT_THE_ROOT) - folders)
    assert not untested, f"minivae/{untested[0]}/ has no tests/{untested[0]}/ folder for its tests"
    stray = sorted(folders - subpackages - BESIDE_THE_PACKAGE - TEST_TOOLS)
    assert not stray, (f"tests/{stray[0]}/ names no subpackage of minivae/: name it after the "
                       f"subpackage it tests, or move its files to that subpackage's folder")
    for name, test_file in TESTED_AT_THE_ROOT.items():
        assert name in subpackages and os.path.isfile(os.path.join(TESTS, test_file)), test_file


def _imports_torch_on_load(path):
    """True when the module's top-level code imports torch, so that all of it skips without."""
    def imports_torch(node):
        if isinstance(node, ast.Import):
            return any(a.name.split(".")[0] == "torch" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            return (node.module or "").split(".")[0] == "torch"
        return (not isinstance(node, (ast.FunctionDef, ast.ClassDef)) and any(
            isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "importorskip"
            and n.args and getattr(n.args[0], "value", None) == "torch" for n in ast.walk(node)))

    with open(path) as f:
        body = ast.parse(f.read()).body
    top = [n for node in body
           for n in [node, *(node.body if isinstance(node, (ast.Try, ast.If)) else [])]]
    return any(imports_torch(node) for node in top)


def test_gradient_checks_do_not_need_torch():
    """A file that imports torch on load holds only PyTorch comparisons, and says so in its name."""
    wholesale = sorted(os.path.relpath(os.path.join(root, name), REPO)
                       for root, _, names in os.walk(TESTS) for name in names
                       if name.startswith("test_") and name.endswith(".py")
                       and "torch" not in name[:-3].split("_")
                       and _imports_torch_on_load(os.path.join(root, name)))
    assert not wholesale, (f"{wholesale} import torch on load, so all their tests skip without "
                           f"it: move the PyTorch comparisons to a <name>_torch.py beside them")
