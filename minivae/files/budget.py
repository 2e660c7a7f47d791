"""One memory budget for everything an input can ask for, checked before allocating.

A file, a config or an option can ask for any size: a 1 MB ``.npz`` that
inflates to a gigabyte, a checkpoint whose settings describe a 200,000-wide
layer, ``hidden = [1000000000]``, ``--k 10000 --batch-size 1000``, ``-n
1000000000``. Each place that allocates for an input first adds up what it
will hold and compares it with one number:

    memory_budget()                 $MINIVAE_MAX_DATA_BYTES, else half the machine's memory
    check(need, asked, lower)       raise OverBudget naming what was asked and what lowers it

The message says what was asked, what it needs, the budget, and the option
that lowers it, e.g. "--k 10000 with --batch-size 1000 needs 29.5 GiB per
step, more than the memory budget of 11.5 GiB ...; lower one of them".
``MINIVAE_MAX_DATA_BYTES`` raises (or lowers) the budget on purpose.
"""

from __future__ import annotations

import os

ENV = "MINIVAE_MAX_DATA_BYTES"
FALLBACK = 4 << 30       # 4 GiB when the machine's memory cannot be read


class OverBudget(ValueError):
    """An input asks for more memory than the budget; the message names it and the remedy.

    Its parts stay readable (``need``, ``asked``, ``per``, ``lower``, ``budget``), so
    a command can say the same in its own words: ``e.reworded(lower="lower --hidden")``.
    """

    def __init__(self, need: int, asked: str, lower: str, per: str = "", budget: int = 0,
                 where: str | None = None):
        self.need, self.asked, self.lower, self.per, self.budget = need, asked, lower, per, budget
        self.where = where      # the budget in words; default: describe_budget's
        super().__init__(str(self))

    def __str__(self):
        return (f"{self.asked} needs {size(self.need)}{self.per}, more than "
                f"{self.where or describe_budget(self.budget)}; {self.lower}")

    def reworded(self, asked=None, lower=None) -> "OverBudget":
        return OverBudget(self.need, self.asked if asked is None else asked,
                          self.lower if lower is None else lower, self.per, self.budget,
                          self.where)


def memory_budget() -> int:
    """The most bytes an input may make minivae hold: ``$MINIVAE_MAX_DATA_BYTES``, else half
    the machine's memory."""
    value = os.environ.get(ENV, "").strip()
    if value.isdigit():
        return int(value)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):   # not POSIX
        return FALLBACK


def set_on_purpose() -> bool:
    """True when the user chose the budget ($MINIVAE_MAX_DATA_BYTES is a number)."""
    return os.environ.get(ENV, "").strip().isdigit()


def size(n: int) -> str:
    """Bytes for a message: "29.5 GiB", "3.1 MiB", "812 bytes"."""
    for unit, scale in (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:,.3g} {unit}" if n < 1000 * scale else f"{n / scale:,.0f} {unit}"
    return f"{n:,} bytes"


def describe_budget(budget: int) -> str:
    """"the memory budget of 11.5 GiB (half this machine's memory; $... raises it)"."""
    where = f"${ENV}" if set_on_purpose() else f"half this machine's memory; ${ENV} raises it"
    return f"the memory budget of {size(budget)} ({where})"


def check(need: int, asked: str, lower: str, per: str = "", error=None,
          budget: int | None = None, where: str | None = None) -> None:
    """Raise OverBudget (or ``error`` with its message) if ``need`` bytes exceed the budget.

    ``asked``: what needs the memory, e.g. "--k 10000 with --batch-size 1000";
    ``per``: e.g. " per step"; ``lower``: what to do instead, e.g. "lower one of them".
    ``budget``: default :func:`memory_budget`; ``where``: another budget in words
    (a GPU's free memory, run/budget.py).
    """
    budget = memory_budget() if budget is None else budget
    if need > budget:
        e = OverBudget(need, asked, lower, per, budget, where)
        raise e if error is None else error(str(e))
