"""Who owns a run directory: the marker that says minivae made it, and the lock.

Two hidden files protect a run directory:

    .minivae-run    written when minivae creates the directory. An existing
                    directory is used for a new run only if it is empty or
                    carries this marker, so a folder of the user's own files
                    (even ones named config.json or metrics.csv) is never
                    written into.
    .minivae-lock   exists while a training run works in the directory and
                    holds its pid and host. The operating system's file lock
                    on it (flock) is what excludes a second run: it is released
                    when the process ends however it ends, even by kill -9,
                    so a lock left behind by a killed run never blocks: the
                    next run takes it over and says so.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

from .config import CHECKPOINT
from ..files.serialize import TMP_PREFIX, atomic_write, write_error

try:                                   # POSIX
    import fcntl
except ImportError:                    # pragma: no cover (Windows)
    fcntl = None
    import msvcrt

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)   # 0 on Windows, where lstat alone guards

MARKER = ".minivae-run"
LOCK = ".minivae-lock"


class RunError(Exception):
    """A problem with the run directory that the user can fix (printed without a traceback)."""


def is_run_dir(path) -> bool:
    """Whether minivae made ``path`` as a run directory (its marker, or a checkpoint of an
    older minivae that wrote no marker)."""
    return os.path.isfile(os.path.join(path, MARKER)) or \
        os.path.isfile(os.path.join(path, CHECKPOINT))


def replace_refused(option: str, path: str, run_files, magic: bytes, what: str,
                    example: str) -> str | None:
    """Why ``option path``, a file a command writes, may not be written (None if it may).

    It only ever replaces a file that begins with ``magic`` (``what``: the
    kind of file that does, as the message names it), and never one of a
    run's own (``run_files``: their names), so no run file and no file of
    the user's is lost. ``example``: a file name to suggest instead.
    """
    if os.path.isdir(path):
        return f"{option} {path} is a directory; give a file name, e.g. {example}"
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) in run_files and is_run_dir(folder):
        return (f"{option} {path} would replace a file of the run in {folder}; choose another "
                f"name (e.g. {example})")
    if os.path.lexists(path):
        try:
            with open(path, "rb") as f:
                ours = f.read(len(magic)) == magic
        except OSError as e:
            return f"{option} {path} exists and cannot be read ({e.strerror}); choose another name"
        if not ours:
            return (f"{option} {path} exists and is not {what}; it is not replaced. Choose "
                    "another name, or move the file away first")
    return None


def mark(run_dir) -> None:
    """Write the marker that makes ``run_dir`` a minivae run directory."""
    if not os.path.isfile(os.path.join(run_dir, MARKER)):
        atomic_write(os.path.join(run_dir, MARKER),
                     b"This directory is a minivae training run (python -m minivae.train).\n")


def dangling_link(path: str) -> str | None:
    """The first part of ``path`` that is a symbolic link to nothing, or None."""
    names = os.fspath(path).split(os.sep)
    for i in range(1, len(names) + 1):
        part = os.sep.join(names[:i]) or os.sep            # "/", "/tmp", "/tmp/run"...
        if os.path.islink(part) and not os.path.exists(part):
            return part
    return None


def check_new_run_dir(run_dir: str) -> None:
    """Refuse an --out that holds a run, a file, or a directory minivae did not make."""
    link = dangling_link(run_dir)   # os.makedirs would only say "File exists"
    if link is not None:
        raise RunError(f"--out {run_dir}: {link} is a symbolic link to {os.readlink(link)}, "
                       "which does not exist; create that directory, or choose another --out")
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunError(f"--out {run_dir} is a file, not a directory; choose another --out")
    if os.path.exists(os.path.join(run_dir, CHECKPOINT)):
        raise RunError(f"{run_dir} already holds a run (it has a {CHECKPOINT}). Continue it with "
                       f"--resume {run_dir}, or choose another directory with --out")
    if os.path.isdir(run_dir) and not is_run_dir(run_dir):
        # The lock and temporary files are minivae's own, left or being written by
        # a run that started here an instant ago (then the lock refuses this one).
        theirs = sorted(name for name in os.listdir(run_dir)
                        if name != LOCK and not name.startswith(TMP_PREFIX))
        if theirs and not is_run_dir(run_dir):   # again: that run may have marked it meanwhile
            shown = ", ".join(theirs[:3]) + (", ..." if len(theirs) > 3 else "")
            raise RunError(f"{run_dir} already exists and was not made by minivae (it holds "
                           f"{shown}); a run never writes into such a directory. Choose an "
                           "empty or new directory with --out (or continue a run with --resume)")


def _try_lock(fd) -> bool:
    """Take the OS lock on ``fd`` without waiting; False if another process holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:                                 # pragma: no cover
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except (BlockingIOError, PermissionError):
        return False


def _read(fd) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 1000).decode("utf-8", "replace").strip()


class RunLock:
    """``with RunLock(run_dir) as lock:`` holds the directory's lock (RunError if it is taken).

    ``lock.note`` says whether a lock left by a killed run was taken over.
    """

    def __init__(self, run_dir):
        self.run_dir = os.fspath(run_dir)
        self.path = os.path.join(self.run_dir, LOCK)
        self.fd = None
        self.note = None

    def __enter__(self):
        while True:
            self._refuse_a_link()
            try:                               # O_NOFOLLOW: never through a link made meanwhile
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
            except OSError as e:               # a read-only disk, no permission...
                if e.errno == errno.ELOOP:     # a symbolic link appeared since the check
                    self._refuse_a_link()
                raise write_error(e, self.path) from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise self._not_a_file()
            if not _try_lock(fd):
                holder = _read(fd) or "another process"
                os.close(fd)
                raise RunError(f"{self.run_dir} is in use by another training run ({holder}); "
                               "wait for it to end or stop it, or choose another --out")
            try:                              # still the file at self.path? a run that
                same = os.path.samestat(os.fstat(fd), os.lstat(self.path))  # ended deletes it
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)                      # we locked a deleted file: try again
        previous = _read(fd)
        if previous:                          # only a run that never released it leaves text
            self.note = (f"note: took over the lock of {self.run_dir} left by a run that is no "
                         f"longer running ({previous})")
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        except OSError as e:                  # a full disk: often the run's very first write
            self.fd = fd
            self.release()                    # no empty lock file left behind
            raise write_error(e, self.path) from None
        self.fd = fd
        return self

    def _refuse_a_link(self):
        """A lock that is not a plain file (a symbolic link, above all) is never opened.

        Following a link would truncate and overwrite the file it points to,
        which may lie anywhere outside the run (a directory copied with cp -a
        or rsync carries such links).
        """
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise write_error(e, self.path) from None
        if not stat.S_ISREG(st.st_mode):
            raise self._not_a_file()

    def _not_a_file(self):
        what = "a symbolic link" if os.path.islink(self.path) else "not a regular file"
        return RunError(f"{self.path} is {what}; minivae's lock is a plain file it writes itself, "
                        "and it never writes through a link into a file outside the run. Remove "
                        f"it (rm {self.path}) if no run is training here, then start again")

    def __exit__(self, *exc):
        self.release()

    def release(self):
        """Delete the lock file, then let go of the OS lock (in that order: see __enter__)."""
        if self.fd is not None:
            try:
                os.remove(self.path)          # while still locked: see __enter__
            except OSError:
                pass
            os.close(self.fd)                 # releases the OS lock
            self.fd = None
