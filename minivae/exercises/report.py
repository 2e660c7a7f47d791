"""What ``check`` prints: a line per exercise, then what is wrong, check by check.

     1  Dense forward and backward                      passing       (0.05 s)
     3  The Bernoulli NLL from logits and its gradient  wrong         (0.04 s)
          values: bernoulli_nll_and_grad: nll[2] is 5.02, minivae's is 2.51 (...); it looks like ...
     5  The closed-form KL and its gradient             not started
"""

from __future__ import annotations

from .catalog import BY_NUMBER


def exercise_lines(r) -> list:
    """The lines of one exercise: its verdict, then one line (or a few) per failing check."""
    file = BY_NUMBER[r.n].file
    head = f"{r.n:>3}  {r.title:<58} {r.status:<12}"
    if r.status != "not started" and not r.problem:
        head += f"({r.seconds:.2f} s)"
    lines = [head.rstrip()]
    if r.problem:
        lines += [f"       exercise {r.n} ({file}): " + r.problem.replace("\n", "\n       ")]
        return lines
    if r.status != "wrong":
        return lines
    shown = set()
    for c in r.checks:
        if c.status == "fail" and c.message not in shown:
            shown.add(c.message)
            text = c.message.replace("\n", "\n       ")
            lines.append(f"       exercise {r.n}, {c.kind} check: {text}")
    if r.unwritten:
        lines.append(f"       exercise {r.n}: still to write: {', '.join(r.unwritten)}")
    return lines


def summary_lines(results, seconds) -> list:
    lines = []
    for r in results:
        lines += exercise_lines(r)
    counts = {s: sum(r.status == s for r in results) for s in ("passing", "wrong", "not started")}
    lines.append(f"{counts['passing']} of {len(results)} passing, {counts['wrong']} wrong, "
                 f"{counts['not started']} not started ({seconds:.1f} s)")
    return lines
