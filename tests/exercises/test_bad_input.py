"""Bad input gets one clear message naming the exercise, never a traceback from minivae:
a syntax error, a wrong signature, a wrong shape or dtype, NaN, an exception in the
learner's code (shown with their line), a function that never returns, a missing file."""

import os

import pytest

import minivae
from minivae.exercises.cli import main
from workspaces import fresh, replace, solved  # noqa: F401 (fixtures)


STUB_7 = open(os.path.join(os.path.dirname(minivae.__file__), "exercises", "stubs",
                           "ex07_vae.py")).read()

DENSE = "import numpy as np\n\ndef dense_forward(x, W, b):\n{forward}\n\n" \
        "def dense_backward(dy, x, W):\n    return dy @ W.T, x.T @ dy, dy.sum(axis=0)\n"


def check(path, *numbers, capsys, limit="10"):
    status = main(["check", str(path), *map(str, numbers), "--time-limit", limit])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return status, out.out


@pytest.mark.parametrize("forward, words", [
    ("    return (x @ W + b).T", "returned y of shape (3, 4); expected (4, 3) (transposed?)"),
    ("    return (x @ W + b).astype(np.float64)", "returned y as float64 for float32 inputs"),
    ("    return x @ W + b * np.nan", "returned nan in y[0, 0] for finite inputs"),
    ("    return [list(r) for r in x @ W + b]", "returned list for y; expected a NumPy array"),
])
def test_a_wrong_shape_dtype_or_value_is_named(solved, capsys, forward, words):
    replace(solved, "ex01_dense.py", DENSE.format(forward=forward))
    status, out = check(solved, 1, capsys=capsys)
    assert status == 1 and "exercise 1, shapes check: dense_forward " + words in out, out


def test_a_syntax_error_names_the_file_and_line_and_spares_the_others(solved, capsys):
    replace(solved, "ex01_dense.py", "def dense_forward(x, W, b)\n    return x @ W + b\n")
    replace(solved, "ex07_vae.py", STUB_7)                   # the stub imports ex01_dense
    status, out = check(solved, capsys=capsys)
    assert status == 1
    assert "exercise 1 (ex01_dense.py): ex01_dense.py, line 1: expected ':'" in out
    assert "exercise 7 (ex07_vae.py): ex01_dense.py (which ex07_vae.py imports), line 1" in out
    assert "9 of 11 passing, 2 wrong" in out                  # the others are still graded


def test_a_wrong_signature_says_what_the_stub_takes(solved, capsys):
    replace(solved, "ex06_reparameterize.py",
            "def reparameterize(mu, logvar):\n    return mu, mu\n\n"
            "def reparameterize_backward(dz, eps, std, mu, logvar, c):\n    return dz, dz\n")
    status, out = check(solved, 6, capsys=capsys)
    assert "exercise 6 (ex06_reparameterize.py): reparameterize(mu, logvar) must take " \
           "(mu, logvar, eps), as in the stub" in out


def test_a_missing_function_or_file(solved, capsys):
    replace(solved, "ex05_kl.py", "def gaussian_kl(mu, logvar):\n    return mu.sum(axis=1)\n")
    (solved / "ex08_adam.py").unlink()
    status, out = check(solved, 5, 8, capsys=capsys)
    assert "exercise 5 (ex05_kl.py): ex05_kl.py defines no function gaussian_kl_backward" in out
    assert "exercise 8 (ex08_adam.py): ex08_adam.py is missing: python -m minivae.exercises " \
           "start" in out


def test_an_exception_in_their_code_is_shown_as_theirs_with_their_line(solved, capsys):
    replace(solved, "ex03_bernoulli.py",
            "import numpy as np\n\ndef bernoulli_nll_and_grad(logits, x, scale=1.0):\n"
            "    t = np.tanh(logits / 2)\n"
            "    nll = (np.logaddexp(0, logits) - x * logits).sum(axis=1)\n"
            "    return nll, scale * (t[:, :3] + x)\n")
    status, out = check(solved, 3, capsys=capsys)
    assert "exercise 3, shapes check: your bernoulli_nll_and_grad raised ValueError: operands " \
           "could not be broadcast" in out
    assert "ex03_bernoulli.py, line 6: return nll, scale * (t[:, :3] + x)" in out


def test_an_exception_at_import_is_theirs_too(solved, capsys):
    replace(solved, "ex04_gaussian.py", "import numpy as np\nSTD = 1 / 0\n")
    status, out = check(solved, 4, capsys=capsys)
    assert "exercise 4 (ex04_gaussian.py): your ex04_gaussian.py raised ZeroDivisionError: " \
           "division by zero" in out and "ex04_gaussian.py, line 2: STD = 1 / 0" in out


def test_a_function_that_never_returns_meets_the_time_limit(solved, capsys):
    replace(solved, "ex05_kl.py",
            "import numpy as np\n\ndef gaussian_kl(mu, logvar):\n    total = 0\n"
            "    while True:\n        try:\n            total += 1\n"
            "        except Exception:\n            pass\n\n"
            "def gaussian_kl_backward(mu, logvar):\n    return mu, 0.5 * np.expm1(logvar)\n")
    status, out = check(solved, 5, 6, capsys=capsys, limit="1")
    assert "exercise 5, shapes check: still running after 1 s: your gaussian_kl was at " \
           "ex05_kl.py, line" in out and "(a loop that never ends?)" in out
    assert " 6  The reparameterization and its backward" in out and "1 of 2 passing" in out


def test_a_call_into_an_exercise_not_written_says_which(solved, capsys):
    with open(solved / "ex07_vae.py", "w") as f:
        f.write("from ex01_dense import dense_forward\n\n"
                "def vae_loss_and_grads(params, x, eps=None, beta=1.0, rng=None):\n"
                "    return dense_forward(x, params['enc0.W'], params['enc0.b'])\n")
    replace(solved, "ex01_dense.py", "def dense_forward(x, W, b):\n"
            "    raise NotImplementedError('exercise 1: dense_forward')\n\n"
            "def dense_backward(dy, x, W):\n"
            "    raise NotImplementedError('exercise 1: dense_backward')\n")
    status, out = check(solved, 7, capsys=capsys)
    assert "exercise 7, shapes check: it calls dense_forward of exercise 1, which is not " \
           "written yet: do exercise 1 first" in out


def test_their_code_changing_its_input_is_named(solved, capsys):
    replace(solved, "ex01_dense.py", DENSE.format(forward="    x += 0\n    b *= 2\n"
                                                          "    return x @ W + b / 2"))
    status, out = check(solved, 1, capsys=capsys)
    assert "dense_forward changed its argument b in place" in out


def test_their_code_calling_sys_exit_is_shown_as_theirs_not_ending_the_check(solved, capsys):
    replace(solved, "ex04_gaussian.py", "import sys\nsys.exit(3)\n")          # at import
    replace(solved, "ex05_kl.py", "import sys\n\ndef gaussian_kl(mu, logvar):\n"
            "    sys.exit('done')\n\ndef gaussian_kl_backward(mu, logvar):\n    return mu, mu\n")
    status, out = check(solved, 4, 5, 6, capsys=capsys)
    assert "exercise 4 (ex04_gaussian.py): your ex04_gaussian.py raised SystemExit: 3" in out
    assert "exercise 5, shapes check: your gaussian_kl raised SystemExit: done" in out
    assert "ex05_kl.py, line 4: sys.exit('done')" in out
    assert status == 1 and "1 of 3 passing, 2 wrong" in out                   # 6 still graded
