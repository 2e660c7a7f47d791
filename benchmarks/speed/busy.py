"""minivae's epoch on a quiet machine and on a busy one: the default threads against fixed ones.

    python benchmarks/speed/busy.py --data-dir ../shared/data/mnist
    python benchmarks/speed/busy.py --steps 150 --rounds 3          # shorter partial epochs

Three copies of the default training (784-400-20, batch 128, the same
data), in one process, differ only in their BLAS threads (minivae/fast/threads.py):

    default   --threads auto, what `python -m minivae.train` does
    1         --threads 1
    all       --threads <cores>

Each round has two phases. "busy": the script starts one competing
CPU-bound process (a Python loop, as another user's job would be), then
times one epoch of each copy, in rotating order, then stops it. "quiet":
the same without it. The figures are medians over the rounds; the
competitor's measured CPU use, what auto chose and the load average are
printed beside them.

The claims it checks (exit status 1 if either fails):
    busy:  the default's epoch is no slower than the 1-thread epoch
    quiet: the default's epoch is no slower than the fastest fixed setting
"no slower" allows TOLERANCE (5%): repeated medians on a shared machine
move by about that much.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # common.py
from common import epoch_batch_sizes, load_train_images, median  # noqa: E402

TOLERANCE = 1.05
COMPETITOR = "while True: pass"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds of both phases (median)")
    p.add_argument("--steps", type=int, default=None, help="partial epochs of this many steps")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data-dir", default=None, help="MNIST IDX files (default: $MINIVAE_DATA_DIR, "
                   "else synthetic data of the same shape)")
    p.add_argument("--phases", default="quiet,busy", help="which phases, in order")
    args = p.parse_args(argv)
    args.phases = args.phases.split(",")
    if not set(args.phases) <= {"quiet", "busy"} or args.rounds < 1:
        p.error("--phases takes quiet and/or busy; --rounds must be positive")
    return args


class Competitor:
    """One CPU-bound process, started and stopped by this script."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", COMPETITOR])
        time.sleep(0.5)                       # let the scheduler see it
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    from peers import MinivaeSide
    from minivae.fast.threads import BlasThreads, LoadMeter, _our_cores

    cores = len(_our_cores())
    B = args.batch_size
    n_rows = None if args.steps is None else args.steps * B
    x, source = load_train_images(args.data_dir, n_rows)
    policies = {"default": BlasThreads("auto"), "1": BlasThreads(1), "all": BlasThreads(cores)}
    sides = {name: MinivaeSide(x, B, threads=p.start()) for name, p in policies.items()}
    for name, side in sides.items():          # warm-up epoch each
        policies[name].reapply()
        side.epoch()

    times = {(ph, name): [] for ph in args.phases for name in sides}
    chose = {ph: [] for ph in args.phases}    # auto's thread count at each of its changes
    others = {ph: [] for ph in args.phases}
    loads = {ph: [] for ph in args.phases}
    names = list(sides)
    for r in range(args.rounds):
        for phase in args.phases:
            with (Competitor() if phase == "busy" else contextlib.nullcontext()):
                meter = LoadMeter()
                for name in names[r % 3:] + names[:r % 3]:
                    policy = policies[name]
                    policy.reapply()
                    start = len(policy.history) - 1
                    t0 = time.perf_counter()
                    sides[name].epoch()
                    times[phase, name].append(time.perf_counter() - t0)
                    if name == "default":
                        chose[phase] += [n for _, n in policy.history[start:]]
                others[phase].append(meter.others())
                loads[phase].append(os.getloadavg()[0])

    steps = len(epoch_batch_sizes(len(x), B))
    print(f"\n# minivae, batch {B}, {steps} steps per epoch, {source}; numpy {np.__version__}, "
          f"{cores} cores; median of {args.rounds} epochs each")
    ok = True
    for phase in args.phases:
        med = {name: median(times[phase, name]) for name in sides}
        other = [o for o in others[phase] if o is not None]
        print(f"\n{phase}: others kept {min(other, default=float('nan')):.2f} to "
              f"{max(other, default=float('nan')):.2f} cores busy (besides this process); "
              f"load average (1 min) {min(loads[phase]):.2f} to {max(loads[phase]):.2f}; "
              f"auto chose {sorted(set(chose[phase]))} thread(s)")
        print(f"{'threads':10s} {'s/epoch':>8s} {'vs 1 thread':>12s} {'vs default':>11s}  epochs")
        for name in sides:
            label = "auto" if name == "default" else name if name == "1" else f"{cores} (all)"
            print(f"{label:10s} {med[name]:8.3f} {med[name] / med['1']:11.2f}x "
                  f"{med[name] / med['default']:10.2f}x  "
                  + " ".join(f"{t:.2f}" for t in times[phase, name]))
        if phase == "busy":
            ratio = med["default"] / med["1"]
            good = ratio <= TOLERANCE
            print(f"claim: busy, default <= 1 thread: {ratio:.2f}x, {'met' if good else 'NOT met'}")
        else:
            ratio = med["default"] / min(med["1"], med["all"])
            good = ratio <= TOLERANCE
            print(f"claim: quiet, default <= fastest fixed setting: {ratio:.2f}x, "
                  f"{'met' if good else 'NOT met'}")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
