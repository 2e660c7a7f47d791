"""``python -m minivae.train``: Train a VAE (or an autoencoder) and write its run directory.

The command itself lives in minivae/run/train.py, with the rest of what a run
needs; this file is only its entry point (``--help`` lists every option).
"""

import sys

from .run.train import main

if __name__ == "__main__":
    sys.exit(main())
