"""How a grader compares: what the learner returned, against minivae's numbers.

    returned(value, "nll", (B,), np.float64, "bernoulli_nll_and_grad")   shape, dtype, finite
    close(got, want, "dW", scales={"B": 4})        values, with the worst entry named
    gradient_agrees(loss, arrays, analytic, ...)   central differences (minivae/gradcheck.py)

Each raises ``Wrong`` with one message a learner can act on: which entry is
off, by how much, and the common mistake it looks like when it recognises
one (a factor of 2, a sign, a missing 1/B, a mean over pixels where the loss
sums, or a named wrong formula the check computed itself).
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import gradcheck

RTOL, ATOL = 1e-6, 1e-9          # float64 values: the same maths agrees to ~1e-12
GRAD_TOL = 1e-6                  # gradcheck's relative error, as tests/ uses


class Wrong(AssertionError):
    """A check's verdict: the learner's function returned something wrong (the message: what)."""


def returned(value, name, shape, dtype, fn):
    """``value`` as an array of ``shape`` and ``dtype`` with finite entries, or Wrong."""
    if shape == () and isinstance(value, (float, int, np.floating, np.ndarray)) \
            and np.ndim(value) == 0 and np.isrealobj(value):
        value = np.asarray(value, dtype=dtype)       # a number: a Python float is fine
    if not isinstance(value, np.ndarray):
        raise Wrong(f"{fn} returned {type(value).__name__} for {name}; expected a NumPy array "
                    f"of shape {shape}")
    if value.shape != tuple(shape):
        hint = ""
        if value.ndim == 2 and value.shape == tuple(shape)[::-1]:
            hint = " (transposed?)"
        elif value.shape[1:] == tuple(shape) or value.shape[:-1] == tuple(shape):
            hint = " (an axis not summed over?)"
        raise Wrong(f"{fn} returned {name} of shape {value.shape}; expected {tuple(shape)}{hint}")
    if value.dtype != np.dtype(dtype):
        raise Wrong(f"{fn} returned {name} as {value.dtype} for {np.dtype(dtype)} inputs; keep "
                    "the inputs' dtype: a NumPy float64 number (np.log(K), np.float64(...)) or an "
                    "array made without dtype= turns float32 into float64 (math.log, or "
                    ".astype(x.dtype), keeps it)")
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise Wrong(f"{fn} returned {value[where]} in {name}{list(where)} for finite inputs")
    return value


def unpack(result, names, fn):
    """A tuple of len(names), or Wrong saying how many values came back."""
    if not isinstance(result, tuple) or len(result) != len(names):
        got = f"{len(result)} values" if isinstance(result, tuple) else type(result).__name__
        raise Wrong(f"{fn} must return a tuple ({', '.join(names)}); it returned {got}")
    return result


def _ratio(got, want):
    """c with got ~ c * want (least squares), and whether it shows a factor: (c, proportional).

    c is None when no single factor fits. One number (a scalar, or one nonzero
    entry of want) always fits some c; proportional needs two or more entries.
    """
    den = float((want * want).sum())
    if den == 0:
        return None, False
    c = float((got * want).sum()) / den
    if not np.allclose(got, c * want, rtol=1e-4, atol=1e-9):
        return None, False
    return c, np.count_nonzero(want) > 1


def recognise(got, want, scales=None, variants=None):
    """The common mistake ``got`` looks like next to ``want``, in words, or "".

    Any two numbers have a ratio, so a factor seen in one number is named only
    when it is a telling one (2, 1/2, -1, B, 1/B: a doubled term, a sign, a missing
    mean); any other factor is claimed only for arrays that are proportional.
    """
    for words, wrong in (variants or {}).items():
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-5, atol=1e-8):
            return words
    c, proportional = _ratio(got, want)
    if c is not None:
        named = {2.0: "a factor of 2 (twice minivae's)", 0.5: "a factor of 2 (half minivae's)",
                 -1.0: "the sign (minus minivae's)", -2.0: "the sign and a factor of 2",
                 -0.5: "the sign and a factor of 2"}
        for value, words in named.items():
            if abs(c - value) < 1e-4 * abs(value):
                return words
        for letter, n in (scales or {}).items():
            if n > 1 and abs(c - n) < 1e-4 * n:
                return (f"{letter} = {n} times minivae's: a sum over {letter} where the loss "
                        "takes the mean (a missing 1/" + letter + ")")
            if n > 1 and abs(c - 1 / n) < 1e-4 / n:
                what = "pixels" if letter == "D" else letter
                return (f"1/{letter} of minivae's: a mean over {what} where the loss sums "
                        f"over them")
        if proportional:
            return f"a constant factor {c:.4g} times minivae's"
    diff = got - want
    if diff.size > 1 and np.allclose(diff, diff.flat[0], rtol=1e-6, atol=1e-9):
        return f"every entry off by the same {diff.flat[0]:.6g}: a constant term?"
    return ""


def close(got, want, name, fn, scales=None, variants=None, note="", rtol=RTOL, atol=ATOL):
    """Wrong naming the worst entry of ``got`` against minivae's ``want``, and the mistake.

    ``note`` follows the entry's index in the message: "nll[2] (std 0.3) is ...".
    """
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = np.abs(got - want) - rtol * np.abs(want)
    if (err <= atol).all():
        return
    where = np.unravel_index(int(np.argmax(err)), got.shape) if got.ndim else ()
    index = "" if not where else str([int(i) for i in where])
    message = (f"{fn}: {name}{index}{note} is {got[where]:.10g}, minivae's is {want[where]:.10g} "
               f"(off by {got[where] - want[where]:.3g})")
    mistake = recognise(got, want, scales, variants)
    raise Wrong(message + (f"; it looks like {mistake}" if mistake else ""))


def gradient_agrees(loss_fn, arrays, analytic, whose, fn, seed=0, max_entries=None):
    """Wrong unless ``analytic`` matches central differences of ``loss_fn``.

    whose: "your" or "minivae's", the forward ``loss_fn`` runs.
    """
    result = gradcheck(loss_fn, arrays, analytic, tol=GRAD_TOL, seed=seed,
                       max_entries=max_entries, raise_on_failure=False)
    if result.max_error < GRAD_TOL:
        return
    a, n = result.analytic, result.numeric
    ratio = a / n if n else float("inf")
    hint = {2.0: "a factor of 2", 0.5: "a factor of 2", -1.0: "the sign"}
    mistake = next((w for v, w in hint.items() if abs(ratio - v) < 1e-3 * abs(v)), "")
    raise Wrong(f"{fn}: d{result.name}{list(result.index)} is {a:.10g}, but central differences "
                f"of {whose} forward give {n:.10g} (relative error {result.max_error:.2g}, "
                f"worst of {result.checked} entries)"
                + (f"; it looks like {mistake}" if mistake else ""))
