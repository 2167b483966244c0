"""Turn failures into one line and an exit code; a traceback only with --verbose."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable

from annotator.core.errors import AnnotatorError

EXIT_ERROR = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130


def run_guarded(action: Callable[[], int], verbose: bool) -> int:
    """Run a command; known errors print `error: ...`, anything else says how to see details."""
    try:
        return action()
    except AnnotatorError as exc:
        if verbose:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: every finished frame is saved in the project", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence of a CLI
        if verbose:
            traceback.print_exc()
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --verbose for "
              "details)", file=sys.stderr)
        return EXIT_BUG
