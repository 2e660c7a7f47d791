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
    sample, evaluate  the same, and the line says what was interrupted and
                      which of the command's files were written (Progress):
                      each is written atomically, so none is ever left in part.

Terminated is a KeyboardInterrupt, so whatever cleans up after Ctrl-C (an
atomic write removing its temporary file, the run directory's lock) cleans
up after SIGTERM too.

Running out of memory ends a command the same way, with one line and status 1:
the memory budget (files/budget.py, run/budget.py) refuses what it can foresee
before allocating, but a GPU is shared with other processes and its free
memory can shrink while a run goes on, so CuPy's OutOfMemoryError (a
MemoryError), or a CUDA library's allocation failure (cuBLAS's
CUBLAS_STATUS_ALLOC_FAILED, a RuntimeError), can still come mid-run.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading

from ..backend import out_of_device_memory

NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
MEMORY_ADVICE = ("Lower the sizes asked for (--batch-size, -n, --iw...), close what else uses "
                 "the memory (on a GPU: nvidia-smi lists it), or run on the CPU (--device cpu).")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived where the run cannot stop between two steps: abort, as Ctrl-C does."""


def command_main(command: str, caller: str):
    """``main`` of run/<command>.py, imported for its entry point (minivae/train.py...).

    A Ctrl-C while it loads (a second on a busy machine) ends the command with
    "Aborted." and 130, not a traceback, when the entry point runs as ``__main__``
    (``caller``); imported from elsewhere, the KeyboardInterrupt goes on.
    """
    try:
        return importlib.import_module(f"minivae.run.{command}").main
    except KeyboardInterrupt:
        if caller != "__main__":
            raise
        print("\nAborted.", file=sys.stderr)
        sys.exit(exit_status(signal.SIGINT))


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


def out_of_memory(e: BaseException) -> bool:
    """True for a MemoryError (on a GPU, CuPy's OutOfMemoryError) and for the RuntimeError a
    CUDA library raises when it cannot allocate (backend.ALLOCATION_FAILURES)."""
    return isinstance(e, MemoryError) or out_of_device_memory(e)


def ran_out_of_memory(e: BaseException, while_doing: str | None = None) -> str:
    """"the GPU ran out of memory [while ...]: CuPy's message", or "this machine ..."."""
    where = "the GPU" if out_of_device_memory(e) else "this machine"
    doing = f" while {while_doing}" if while_doing else ""
    return f"{where} ran out of memory{doing}: {str(e).rstrip('.') or type(e).__name__}"


def _identity(path):
    """(inode, modification time) of ``path``, or None: a file replaced in place gets another."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


class Progress:
    """What a command (sample, evaluate) is doing, for the line Ctrl-C or SIGTERM ends it with.

    The command says what it starts, ``progress.now("drawing 64 samples", target="grid.png")``,
    naming the file it is about to write. Files are written atomically (files/serialize.py),
    so when the command is aborted each is whole or was not written at all:

        Interrupted while estimating -log p(x) with --iw 5000; scores.csv was written
        in full, and no file is left half-written.
        Stopped by SIGTERM while drawing 64 samples; grid.png was not written, and no
        file is left half-written.
    """

    def __init__(self, doing: str):
        self.doing, self.target, self.before, self.written = doing, None, None, []

    def now(self, doing: str, target=None) -> None:
        """The command starts ``doing``; ``target``: the file it will write, if any."""
        self._check_target()
        self.doing, self.target, self.before = doing, target, _identity(target) if target else None

    def _check_target(self) -> None:
        """Move the target to ``written`` once it was replaced (renamed into place)."""
        if self.target is not None and _identity(self.target) not in (None, self.before):
            self.written.append(self.target)
            self.target = None

    def aborted(self, e: BaseException) -> str:
        """The line to print when ``e`` (Ctrl-C, SIGTERM's Terminated, or a MemoryError no
        memory budget foresaw) aborts the command."""
        self._check_target()
        if isinstance(e, KeyboardInterrupt):
            head = f"{'Stopped by SIGTERM' if isinstance(e, Terminated) else 'Interrupted'} " \
                   f"while {self.doing}"
        else:
            head = f"error: {ran_out_of_memory(e, while_doing=self.doing)}"
        files = []
        if self.written:
            files.append(f"{', '.join(map(str, self.written))} "
                         f"{'was' if len(self.written) == 1 else 'were'} written in full")
        if self.target is not None:
            files.append(f"{self.target} " + ("was left as it was" if self.before else
                                              "was not written"))
        if not files:
            return f"{head}; no file was written."
        return f"{head}; {', '.join(files)}, and no file is left half-written."


def run_aborting_cleanly(command, argv) -> int:
    """``command(argv, progress)``'s exit status; Ctrl-C or SIGTERM ends it with progress's
    line (Progress.aborted) and 130 or 143, not a traceback: sample's and evaluate's main."""
    progress = Progress("starting")
    with TerminateAsInterrupt():            # SIGTERM aborts like Ctrl-C, not silently
        try:
            return command(argv, progress)
        except KeyboardInterrupt as e:
            print(f"\n{progress.aborted(e)}", file=sys.stderr)
            return aborted_status(e)        # 130 for Ctrl-C, 143 for SIGTERM
        except (MemoryError, RuntimeError) as e:
            if not out_of_memory(e):        # a RuntimeError that is not cuBLAS's or CUDA's
                raise
            print(f"{progress.aborted(e)}\n{MEMORY_ADVICE}", file=sys.stderr)
            return 1
