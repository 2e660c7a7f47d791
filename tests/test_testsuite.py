"""The test suite itself: it finds MNIST where the package does, and sums up its skips."""

import os
import shutil
import subprocess
import sys
import textwrap

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


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
