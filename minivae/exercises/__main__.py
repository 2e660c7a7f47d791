"""python -m minivae.exercises: the command line is in cli.py."""

import sys

from .cli import main

sys.exit(main())
