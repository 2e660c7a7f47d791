"""Stopping a run on request: Ctrl-C (SIGINT) and SIGTERM are handled alike.

SIGTERM is what ``kill``, ``timeout`` and batch schedulers (Slurm,
Kubernetes) send before SIGKILL: a request to stop. Its default ends the
process at once, without a word; a training run treats it like Ctrl-C:

    during training   the first one sets a flag; the run stops after the
                      current step, keeps the last checkpoint, says how to
                      resume, and exits with 130 (Ctrl-C) or 143 (SIGTERM):
                      128 + the signal's number, as a shell reports it
                      (StopOnSignal, Interrupted). A second one aborts at once.
    otherwise         (reading data, writing figures) there is nothing to
                      finish: both raise at once, Ctrl-C KeyboardInterrupt
                      and SIGTERM Terminated (TerminateAsInterrupt); the
                      command says "Aborted." and exits with the same status.

Terminated is a KeyboardInterrupt, so whatever cleans up after Ctrl-C (an
atomic write removing its temporary file, the run directory's lock) cleans
up after SIGTERM too.
"""

from __future__ import annotations

import signal
import sys
import threading

NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived where the run cannot stop between two steps: abort, as Ctrl-C does."""


def exit_status(signum) -> int:
    """128 + the signal's number: 130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return 128 + int(signum)


def aborted_status(e: KeyboardInterrupt) -> int:
    """The exit status of a command aborted by ``e``: Ctrl-C's or SIGTERM's."""
    return exit_status(signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)


def _raise_terminated(signum, frame):
    raise Terminated()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()   # signals need it


class TerminateAsInterrupt:
    """While active, SIGTERM raises Terminated (a KeyboardInterrupt) instead of killing."""

    def __enter__(self):
        self._old = signal.signal(signal.SIGTERM, _raise_terminated) if _main_thread() else None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM was received during training; raised between two steps."""

    def __init__(self, where: str, signum=signal.SIGINT):
        super().__init__(where)
        self.signum = signum
        self.status = exit_status(signum)

    def headline(self) -> str:
        """"Interrupted at epoch 2 step 5/16" (Ctrl-C) or "Stopped by SIGTERM at ..."."""
        what = "Interrupted" if self.signum == signal.SIGINT else f"Stopped by {NAMES[self.signum]}"
        return f"{what} at {self}"


class StopOnSignal:
    """While active, Ctrl-C and SIGTERM set ``self.requested`` instead of ending the run.

    Stopping between two steps, rather than wherever KeyboardInterrupt happens
    to land, means no checkpoint is ever written from half-updated parameters.
    The first signal of a kind puts back a handler that raises, so a second
    one aborts at once. ``self.signum`` says which came.
    """

    AGAIN = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _raise_terminated}
    HOW = {signal.SIGINT: "press it again", signal.SIGTERM: "send it again"}

    def __init__(self):
        self.requested = False
        self.signum = None

    def _handle(self, signum, frame):
        self.requested, self.signum = True, signum
        signal.signal(signum, self.AGAIN[signum])
        print(f"\n{NAMES[signum]}: stopping after this step ({self.HOW[signum]} to abort now)",
              file=sys.stderr)

    def __enter__(self):
        self._old = {}
        if _main_thread():
            self._old = {signum: signal.signal(signum, self._handle) for signum in NAMES}
        return self

    def __exit__(self, *exc):
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
