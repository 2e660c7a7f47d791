"""Which of minivae's functions one training step enters: a reader's path through the code.

    python benchmarks/reading/trace_step.py            # the default model, one loss_and_grads call
    python benchmarks/reading/trace_step.py --build    # building the default model, VAE()

Runs one ``model.loss_and_grads(x)`` on the default VAE (784-400-20,
Bernoulli, batch 128) under ``sys.settrace`` and lists every function of the
package that the call enters, with its file: the functions a learner opens
to follow one step. tests/test_readable_step.py holds the budget.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import minivae


def trace_calls(fn, *args, **kwargs):
    """Run fn(*args, **kwargs); return the package functions it entered, in first-call order.

    Each entry is (file relative to the package, qualified name). Only Python
    frames are seen: NumPy's C functions are not the package's.
    """
    root = os.path.dirname(os.path.abspath(minivae.__file__))
    seen = {}

    def tracer(frame, event, arg):
        if event == "call":
            path = os.path.abspath(frame.f_code.co_filename)
            if path.startswith(root + os.sep):
                key = (os.path.relpath(path, root), frame.f_code.co_qualname)
                seen.setdefault(key, None)
        return None   # no line events: only calls matter

    sys.settrace(tracer)
    try:
        fn(*args, **kwargs)
    finally:
        sys.settrace(None)
    return list(seen)


def default_step_trace():
    """The functions and files one loss_and_grads call of the default model enters."""
    model = minivae.VAE()                                            # 784-400-20, Bernoulli
    x = np.random.default_rng(0).random((128, 784), dtype=np.float32)   # (B, D)
    model.loss_and_grads(x)                                          # warm: first-call paths
    return trace_calls(model.loss_and_grads, x)


def default_build_trace():
    """The functions and files that building the default model, ``minivae.VAE()``, enters."""
    minivae.VAE()                                                    # warm: imports, first calls
    return trace_calls(minivae.VAE)


def named(calls):
    """The calls that are functions a reader opens: without comprehensions and lambdas."""
    return [(f, name) for f, name in calls if "<" not in name.rsplit(".", 1)[-1]]


def main(argv=None) -> int:
    build = "--build" in (sys.argv[1:] if argv is None else argv)
    calls = default_build_trace() if build else default_step_trace()
    files = sorted({f for f, _ in calls})
    for f, name in calls:
        print(f"  {f:24s} {name}")
    what = "building the default VAE()" if build else "one loss_and_grads call"
    print(f"{what} enters {len(calls)} functions in {len(files)} files "
          f"({len(named(calls))} without comprehensions and lambdas): {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
