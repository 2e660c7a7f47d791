"""How many threads NumPy's BLAS uses: chosen on purpose, not left to chance.

NumPy's matrix products run on OpenBLAS, which starts one worker thread per
core and has them spin, waiting for each other, between products. On an
idle machine two threads run the step's products about 1.9x faster than one.
On a machine where another program already keeps a core busy, the workers
lose their time slices while they wait, and a product that takes 2 ms can
take 20 to 200 ms: an epoch can take several times as long as on one thread.

``BlasThreads`` holds the choice of a command's ``--threads``:

    BlasThreads(2)        two threads, whatever else runs (the same numbers
                          on every rerun: OpenBLAS may round a product
                          differently on another thread count)
    BlasThreads("auto")   the default: every CHECK_SECONDS, between two
                          steps, measure how much CPU time other processes
                          took on our cores, and use the cores they leave
                          free (at least one, at most the BLAS's own count)

    threads = BlasThreads("auto").start()    # after NumPy is imported
    for x in batches:
        threads.tick()                       # cheap: a clock read, and a
        ...                                  # /proc/stat read once a second

A learner's own loop gets the same protection from the iterator it loops
over: ``BatchIterator(images, 128)`` ticks :func:`loop_threads` ("auto" by
default; ``threads=N`` fixes the count, ``threads=None`` leaves the BLAS
alone) between two batches. A command's ``--threads``, or any BlasThreads
you start yourself, takes precedence: the iterator then leaves the BLAS to it.

The measurement (Linux): /proc/stat counts the busy time of every core, and
os.times() this process's own; their difference over a window, divided by
its length, is how many cores others kept busy. Elsewhere "auto" uses all
cores. threadpoolctl is the library that finds the loaded BLAS and sets it.
"""

from __future__ import annotations

import argparse
import os
import time

from ..files.metadata import shown

CHECK_SECONDS = 1.0     # how often "auto" looks at the load (a /proc/stat read costs ~30 us)
PROBE_SECONDS = 0.1     # the first look, before any work, while this process sleeps


def thread_count(value):
    """argparse type: "auto" or a positive integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"must be 'auto' or a positive integer, got {shown(value)}")


def add_threads_option(parser) -> None:
    """``--threads N|auto`` on a command's parser (evaluate, sample; train's comes from config)."""
    parser.add_argument("--threads", type=thread_count, default="auto", metavar="N|auto",
                        help=THREADS_HELP + " (default: auto)")


THREADS_HELP = ("CPU threads for matrix products: a number, or auto, which uses one thread "
                "while other programs keep the cores busy and all of them otherwise")


def _blas_controllers():
    """threadpoolctl's controllers of every BLAS loaded in this process (NumPy's OpenBLAS)."""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas").lib_controllers


_ORIGINAL = {}   # filepath of each BLAS -> the thread count it chose when it loaded


def _original_count(controllers) -> int:
    """The largest count the loaded BLAS chose for itself (OPENBLAS_NUM_THREADS, or its cores).

    Remembered the first time, so that a second command in the same process
    (a test calling main() twice) starts from the same place.
    """
    for c in controllers:
        _ORIGINAL.setdefault(c.filepath, c.num_threads)
    return max([_ORIGINAL[c.filepath] for c in controllers] or [1])


def restore_original() -> None:
    """Give every BLAS back the count it chose when it loaded (a command's last act)."""
    global _CHOOSER
    _CHOOSER = None                        # a learner's loop may choose again (loop_threads)
    for c in _blas_controllers() if _ORIGINAL else ():
        if c.filepath in _ORIGINAL:
            c.set_num_threads(_ORIGINAL[c.filepath])


def _our_cores():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):     # not Linux
        return list(range(os.cpu_count() or 1))


class LoadMeter:
    """Cores kept busy by other processes, over the time since the last reading.

    ``others()`` returns None where /proc/stat cannot be read (not Linux).
    """

    def __init__(self, cores=None):
        self.cores = {f"cpu{c}" for c in (cores if cores is not None else _our_cores())}
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
        self.last = self._read()

    def _read(self):
        """(wall time, busy CPU seconds of our cores, this process's CPU seconds), or None."""
        try:
            with open("/proc/stat") as f:
                lines = [line.split() for line in f if line.startswith("cpu")]
        except OSError:
            return None
        busy = 0
        for name, *fields in lines:
            if name in self.cores:
                # user nice system idle iowait irq softirq steal ...: all but idle and iowait
                values = [int(v) for v in fields[:8]]
                busy += sum(values) - values[3] - values[4]
        own = os.times()
        return time.perf_counter(), busy * self.tick_s, own.user + own.system

    def others(self):
        """Cores others kept busy since the last call (0 = an idle machine but for us)."""
        now = self._read()
        if now is None or self.last is None:
            return None
        (t0, busy0, own0), (t1, busy1, own1) = self.last, now
        self.last = now
        if t1 - t0 <= 0:
            return 0.0
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / (t1 - t0))


def threads_for_load(others: float, most: int, cores: int) -> int:
    """Threads to use when others keep ``others`` of our ``cores`` busy: the free cores, rounded.

    On 2 cores, with one other CPU-bound program: others ~0.7 to 1.0 -> 1
    thread; with short bursts of others (under half a core) -> 2.
    """
    free = cores - others
    return max(1, min(most, int(free + 0.5)))


class BlasThreads:
    """A fixed thread count, or "auto": see the module's docstring."""

    def __init__(self, requested="auto"):
        self.requested = thread_count(requested)
        self.current = None
        self.history = []          # (time, threads) at each change: what auto chose
        self._told = 0             # len(history) when news() was last called

    def start(self, _loop=False):
        """Set the thread count now (NumPy must be imported); returns self.

        From now on this object chooses for the process: a BatchIterator's
        threads (loop_threads) stand aside until restore_original().
        """
        global _CHOOSER
        if not _loop:
            _CHOOSER = self
        self.controllers = _blas_controllers()
        self.most = max(1, min(_original_count(self.controllers), len(_our_cores())))
        if self.requested == "auto":
            self.meter = LoadMeter()
        self.reapply()                         # auto: a first look at the load, before any work
        return self

    def reapply(self) -> None:
        """Set the count again now (something else may have changed it).

        Auto takes a fresh look at the load first, as start() does: the
        window since its last look may be long past.
        """
        self.current = None
        if self.requested != "auto":
            return self._set(self.requested)
        self.meter.others()                    # start a new window now
        time.sleep(PROBE_SECONDS)
        self.next_check = 0.0
        self.tick()

    def tick(self) -> None:
        """Between two steps: in auto mode, once every CHECK_SECONDS, follow the load."""
        if self.requested != "auto" or time.perf_counter() < self.next_check:
            return
        self.next_check = time.perf_counter() + CHECK_SECONDS
        others = self.meter.others()
        self._set(self.most if others is None
                  else threads_for_load(others, self.most, len(self.meter.cores)))

    def resume(self) -> None:
        """Set this object's count again if something else changed the BLAS's since."""
        if self.current is not None and any(c.num_threads != self.current
                                            for c in self.controllers):
            n, self.current = self.current, None
            self._set(n)

    def _set(self, n: int) -> None:
        if n != self.current:
            for c in self.controllers:
                c.set_num_threads(n)
            self.current = n
            self.history.append((time.perf_counter(), n))

    def news(self) -> str:
        """A line for the user when auto changed the count since the last call, else ""."""
        changes, self._told = self.history[self._told:], len(self.history)
        if not changes or len(self.history) == len(changes):   # none, or only the first setting
            return ""
        counts = " then ".join(str(n) for _, n in changes)
        busy = "are" if self.current < self.most else "are no longer"
        return f"  (CPU threads: auto changed to {counts}; other programs {busy} using the cores)"

    def describe(self) -> str:
        """E.g. "auto, now 2 of 2" or "2", for a command's first lines."""
        if self.requested == "auto":
            why = " (other programs are using the cores)" if self.current < self.most else ""
            return f"auto, now {self.current} of {self.most}{why}"
        return str(self.current)


# -- a learner's own loop ------------------------------------------------------

_CHOOSER = None   # the BlasThreads a command (or a script) started: it decides, not the loop
_LOOP = {}        # requested count -> the process's BlasThreads for BatchIterator loops


def loop_threads(requested="auto"):
    """The BlasThreads a ``BatchIterator(threads=requested)`` ticks between batches, or None.

    One per process and count, started at its first epoch, so auto's first
    look at the load (PROBE_SECONDS) is paid once, not once per iterator.
    None while a command's --threads or a BlasThreads started elsewhere holds
    the BLAS: that choice stands.
    """
    if _CHOOSER is not None:
        return None
    requested = thread_count(requested)
    threads = _LOOP.get(requested)
    if threads is None:
        threads = _LOOP[requested] = BlasThreads(requested).start(_loop=True)
    else:
        threads.resume()                 # another count may have been set since its last epoch
    return threads
