"""The command line: ``python -m minivae.exercises start DIR | check DIR [N ...] | bugs``.

Every error is one line naming what to do; the exit status is 0 when all is
well (``check``: every exercise graded is passing), 1 when not, 2 for a
command line argparse refuses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .catalog import BY_NUMBER, EXERCISES


def build_parser():
    p = argparse.ArgumentParser(prog="python -m minivae.exercises",
                                description="Build a VAE yourself, graded against minivae.",
                                allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="{start,check,bugs}")
    s = sub.add_parser("start", help="write a workspace of exercise stubs into DIR",
                       description="Write the exercises into DIR; files already there are kept.")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--ci", action="store_true",
                   help="also write .github/workflows/minivae-exercises.yml, for a course's CI")
    s.add_argument("--minivae", metavar="SPEC", default=None,
                   help="with --ci: what the workflow pip-installs (default: where this "
                        "minivae came from: minivae==VERSION, or git+URL of its repository)")
    c = sub.add_parser("check", help="grade the exercises in DIR",
                       description="Grade the exercises in DIR: not started, wrong or passing.")
    c.add_argument("dir", metavar="DIR")
    c.add_argument("numbers", metavar="N", nargs="*", type=int,
                   help=f"exercises to grade, 1 to {len(EXERCISES)} (default: all)")
    c.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds each exercise may run (default: 10)")
    b = sub.add_parser("bugs", help="apply real VAE bugs to minivae; show which checks catch them",
                       description="Apply each bug of the gallery to minivae, in memory, run "
                                   "every check against it, and print which checks catch it.")
    b.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    return p


def ci_line(spec) -> str:
    """What start --ci says of the workflow's MINIVAE."""
    from .workspace import CI_FILE, minivae_source
    spec = spec or minivae_source()[0]
    if spec:
        return f"the workflow installs {spec} (MINIVAE in {CI_FILE}; --minivae SPEC sets another)"
    return (f"set MINIVAE in {CI_FILE} to what CI should pip-install (a git URL such as "
            "git+https://github.com/OWNER/REPO): this minivae runs from a folder CI cannot reach")


def start(args) -> int:
    from .workspace import CI_FILE, start as write
    try:
        written, kept = write(args.dir, args.ci, args.minivae)
    except OSError as e:
        print(f"error: cannot write the exercises into {args.dir}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    if kept:
        print(f"{args.dir} already holds {len(kept)} of the files; left as they are: "
              f"{', '.join(kept)}")
    if written:
        print(f"wrote {len(written)} file{'s' * (len(written) > 1)} into {args.dir}: "
              f"{', '.join(written)}")
    else:
        print("nothing was missing; nothing written")
    if args.ci and CI_FILE in written:
        print(ci_line(args.minivae))
    print(f"Start with {os.path.join(args.dir, EXERCISES[0].file)}; grade it with: "
          f"python -m minivae.exercises check {args.dir} 1")
    return 0


def check(args) -> int:
    from .grading import TIME_LIMIT, grade
    from .report import summary_lines
    wrong = [n for n in args.numbers if n not in BY_NUMBER]
    if wrong:
        print(f"error: there is no exercise {wrong[0]}; they are numbered 1 to {len(EXERCISES)}",
              file=sys.stderr)
        return 2
    if not os.path.isdir(args.dir):
        print(f"error: {args.dir} is not a directory: python -m minivae.exercises start "
              f"{args.dir} writes the exercises there", file=sys.stderr)
        return 1
    if not any(os.path.exists(os.path.join(args.dir, e.file)) for e in EXERCISES):
        print(f"error: {args.dir} holds no exercises: python -m minivae.exercises start "
              f"{args.dir} writes them", file=sys.stderr)
        return 1
    if args.time_limit is not None and not args.time_limit > 0:
        print("error: --time-limit must be a positive number of seconds", file=sys.stderr)
        return 2
    start_time = time.perf_counter()
    try:
        results = grade(args.dir, args.numbers or None, args.time_limit or TIME_LIMIT)
    except TimeoutError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"minivae exercises in {args.dir}")
    print("\n".join(summary_lines(results, time.perf_counter() - start_time)))
    return 0 if all(r.status == "passing" for r in results) else 1


def bugs(args) -> int:
    from .gallery import table, table_lines
    rows = table()
    if not args.markdown:
        print("Each bug applied to minivae in memory; every check of every exercise run "
              "against it.\n")
    print("\n".join(table_lines(rows, args.markdown)))
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"start": start, "check": check, "bugs": bugs}[args.command](args)
    except BrokenPipeError:                  # `... | head`: the reader has gone, not an error
        sys.stdout = open(os.devnull, "w")
        return 0
