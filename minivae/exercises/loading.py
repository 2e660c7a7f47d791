"""Importing a learner's workspace, and saying what went wrong in their words.

    with workspace_on_path(path):
        loaded = load(path)       # functions by name, and a problem per exercise that did not load

A file that is missing, does not parse, fails on import, lacks a function or
gives one another signature becomes one message naming the exercise and the
file; nothing of it raises. When the learner's code raises later, during a
check, ``their_error`` finds the learner's own line in the traceback.
Workspace files are imported under their own names (ex01_dense, ...), as
ex07_vae.py imports its parts, and forgotten again afterwards, so that an
edited file is read afresh on the next check.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import os
import sys
import textwrap
import traceback
from typing import NamedTuple

from .catalog import EXERCISES, module_name
from .registry import SIGNATURES


class Loaded(NamedTuple):
    functions: dict     # name -> the learner's function, for every exercise that loaded
    problems: dict      # exercise n -> one message, for those that did not
    files: set          # the workspace's files, real paths: their frames are the learner's


def _forget(path):
    """Drop the workspace's modules from sys.modules, so the next import reads the files again."""
    names = {module_name(e) for e in EXERCISES}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if name in names or (file and os.path.dirname(os.path.realpath(file)) == path):
            del sys.modules[name]


@contextlib.contextmanager
def workspace_on_path(path):
    """The workspace first on sys.path, no bytecode written into it; all undone afterwards."""
    path = os.path.realpath(path)
    _forget(path)
    importlib.invalidate_caches()                # files written a moment ago are seen
    sys.path.insert(0, path)
    bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        yield path
    finally:
        sys.dont_write_bytecode = bytecode
        with contextlib.suppress(ValueError):
            sys.path.remove(path)
        _forget(path)


def signature_problem(name, fn):
    """How ``fn``'s parameters differ from the stub's, or ""."""
    want = SIGNATURES[name]
    try:
        got = inspect.signature(fn)
    except (TypeError, ValueError):
        return ""
    names = list(got.parameters)
    expected = list(want.parameters)
    extra_required = [p for p in names[len(expected):]
                      if got.parameters[p].default is inspect.Parameter.empty
                      and got.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                         inspect.Parameter.VAR_KEYWORD)]
    if names[:len(expected)] != expected or extra_required:
        wanted = ", ".join(str(p) for p in want.parameters.values())
        return f"{name}({', '.join(names)}) must take ({wanted}), as in the stub"
    return ""


def load(path) -> Loaded:
    """The workspace's functions; call inside ``workspace_on_path(path)``."""
    functions, problems = {}, {}
    files = {os.path.realpath(os.path.join(path, e.file)) for e in EXERCISES}
    for e in EXERCISES:
        file = os.path.join(path, e.file)
        if not os.path.exists(file):
            problems[e.n] = (f"{e.file} is missing: python -m minivae.exercises start "
                             f"{path} writes it again (and leaves your other files alone)")
            continue
        try:
            module = importlib.import_module(module_name(e))
        except SyntaxError as err:                # IndentationError is one too
            where = os.path.basename(err.filename or e.file)
            via = "" if where == e.file else f" (which {e.file} imports)"
            line = f":\n    {err.text.rstrip()}" if err.text else ""
            problems[e.n] = f"{where}{via}, line {err.lineno}: {err.msg}{line}"
            continue
        except (Exception, SystemExit) as err:   # their top-level code raised (or sys.exit)
            problems[e.n] = their_error(err, files, f"importing {e.file}")
            continue
        for name in e.functions:
            fn = getattr(module, name, None)
            problem = ("" if callable(fn) else
                       f"{e.file} defines no function {name} (keep the stub's names)")
            problem = problem or signature_problem(name, fn)
            if problem:
                problems[e.n] = problem
                break
            functions[name] = fn
    return Loaded(functions, problems, files)


def their_frame(err, files):
    """(file, line number, function, source line) of the innermost learner's frame, or None."""
    found = None
    for frame, lineno in traceback.walk_tb(err.__traceback__):
        if os.path.realpath(frame.f_code.co_filename) in files:
            found = frame, lineno
    if found is None:
        return None
    frame, lineno = found
    code = frame.f_code
    text = traceback.FrameSummary(code.co_filename, lineno, code.co_name).line or ""
    return os.path.basename(code.co_filename), lineno, code.co_name, text.strip()


def their_error(err, files, doing="") -> str:
    """One message for an exception: the learner's line when their code raised it."""
    frame = their_frame(err, files)
    what = f"{type(err).__name__}: {err}".rstrip(": ")
    if frame is None:
        return f"{doing}: {what}" if doing else what
    file, lineno, func, text = frame
    where = f"{func}" if func != "<module>" else file
    return f"your {where} raised {what}\n    {file}, line {lineno}: {text}"


def not_written(err) -> tuple | None:
    """(exercise, function) when ``err`` is a stub's NotImplementedError("exercise N: name")."""
    if not isinstance(err, NotImplementedError):
        return None
    text = str(err)
    if text.startswith("exercise ") and ":" in text:
        number, name = text[len("exercise "):].split(":", 1)
        if number.strip().isdigit():
            return int(number), name.strip()
    return 0, text


def is_stub(fn) -> bool:
    """True while ``fn`` is still the stub: a docstring, then raise NotImplementedError(...)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.FunctionDef) else []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]                                  # the docstring
    return (len(body) == 1 and isinstance(body[0], ast.Raise)
            and "NotImplementedError" in ast.unparse(body[0]))
