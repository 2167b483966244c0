"""Frozen entry point: the same front door as the `annotator` script (GUI, else the CLI)."""

import multiprocessing
import sys

from annotator.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
