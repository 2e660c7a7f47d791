"""``python -m minivae.train``: Train a VAE (or an autoencoder) and write its run directory.

The command itself lives in minivae/run/train.py, with the rest of what a run
needs; this file is only its entry point (``--help`` lists every option).
"""

import sys

from .run.signals import command_main

main = command_main("train", __name__)   # a Ctrl-C while it loads: "Aborted.", no traceback

if __name__ == "__main__":
    sys.exit(main())
