"""``python -m minivae.train``: Train a VAE (or an autoencoder) and write its run directory.

The command itself lives in minivae/run/train.py, with the rest of what a run
needs; this file is only its entry point (``--help`` lists every option).
"""

import sys

try:
    from .run.train import main
except KeyboardInterrupt:          # Ctrl-C while the imports load (a second on a busy machine)
    if __name__ != "__main__":
        raise
    print("\nAborted.", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
