"""``python -m minivae.evaluate``: Measure a trained model on its test set.

The command itself lives in minivae/run/evaluate.py, with the rest of what a run
needs; this file is only its entry point (``--help`` lists every option).
"""

import sys

from .run.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
