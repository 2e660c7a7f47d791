"""What the stand-in counts: kernel launches, host waits and copies, each with its line.

Every call that would queue work on a GPU adds one entry to ``LEDGER``:

    launch     a kernel, a cuBLAS/cuRAND/cuSOLVER call, a device-to-device copy, a fill
    wait       the host stops until the GPU has finished (float(a), a.get(), .item(),
               bool(a), cupy.asnumpy, stream.synchronize(), a boolean mask's count...)
    upload     a copy from host memory to the device (cupy.asarray(numpy_array), an
               index or a value given as a NumPy array)
    download   a copy to the host that does not wait (MemoryPointer.copy_to_host_async)

``where`` is the first line outside the stand-in, NumPy and minivae's backend
that made the call: "minivae/vae.py:97". Counting a window of code:

    with LEDGER.window() as w:
        model.loss_and_grads(x); opt.step(model.grads)
    w.launches, w.waits                   # lists of Entry
    w.by_line("launch")                   # Counter: line -> launches

``allow_synchronize(False)`` (also ``cupyx.allow_synchronize``, as in CuPy)
turns every wait into a ``DeviceSynchronized`` error raised at its line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY = os.path.dirname(os.path.abspath(np.__file__))
_BACKEND = os.path.join("minivae", "backend", "__init__.py")   # to_numpy: its caller waits


def _inside(path):
    """A frame of the stand-in (not its tests), of NumPy, of minivae's backend (a thin
    wrapper of the array module), or of contextlib's ``with``."""
    return (path.startswith(_NUMPY) or path == contextlib.__file__ or path.endswith(_BACKEND)
            or path.startswith(_HERE) and not os.path.basename(path).startswith("test_"))
KINDS = ("launch", "wait", "upload", "download")


class DeviceSynchronized(RuntimeError):
    """Raised, as CuPy's cupyx.DeviceSynchronized is, at a wait where waits are disallowed."""

    def __init__(self, message=None):
        super().__init__(message or "Device synchronization was detected while disallowed.")


@dataclass(frozen=True)
class Entry:
    kind: str      # one of KINDS
    what: str      # the CuPy call: "matmul", "ElementwiseKernel minivae_adam", "float()"
    where: str     # "path/to/file.py:line", relative to the working directory when inside it

    def __str__(self):
        return f"{self.kind} {self.what} at {self.where}"


def caller() -> str:
    """'file:line' of the first frame that is not _inside."""
    frame = sys._getframe(1)
    while frame is not None and _inside(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return "?"
    path = frame.f_code.co_filename
    rel = os.path.relpath(path) if path.startswith(os.getcwd() + os.sep) else path
    return f"{rel}:{frame.f_lineno}"


class Window:
    """The entries recorded between its start and its end (or now, while it is open)."""

    def __init__(self, ledger):
        self._ledger, self._start, self._stop = ledger, len(ledger.entries), None

    @property
    def entries(self) -> list:
        return self._ledger.entries[self._start:self._stop]

    def of(self, kind: str) -> list:
        return [e for e in self.entries if e.kind == kind]

    launches = property(lambda self: self.of("launch"))
    waits = property(lambda self: self.of("wait"))
    uploads = property(lambda self: self.of("upload"))

    def by_line(self, kind: str = "launch") -> Counter:
        """line -> how many entries of ``kind`` it made."""
        return Counter(e.where for e in self.of(kind))

    def table(self, kind: str = "launch") -> str:
        """The lines that made entries of ``kind``, most first: for failure messages."""
        what = {}
        for e in self.of(kind):
            what.setdefault(e.where, Counter())[e.what] += 1
        rows = [f"{n:5d}  {where}  ({', '.join(f'{w} x{c}' for w, c in what[where].items())})"
                for where, n in self.by_line(kind).most_common()]
        return "\n".join(rows) or "(none)"


class Ledger:
    """Every launch, wait and copy the stand-in saw, in order."""

    def __init__(self):
        self.entries: list[Entry] = []
        self.synchronize_allowed = True

    def record(self, kind: str, what: str) -> None:
        if kind == "wait" and not self.synchronize_allowed:
            raise DeviceSynchronized(f"Device synchronization was detected while disallowed "
                                     f"({what} at {caller()}).")
        self.entries.append(Entry(kind, what, caller()))

    def clear(self) -> None:
        self.entries.clear()

    @contextlib.contextmanager
    def window(self):
        w = Window(self)
        try:
            yield w
        finally:
            w._stop = len(self.entries)

    @contextlib.contextmanager
    def allow_synchronize(self, allow: bool):
        before, self.synchronize_allowed = self.synchronize_allowed, allow
        try:
            yield
        finally:
            self.synchronize_allowed = before


LEDGER = Ledger()
