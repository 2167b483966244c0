"""`python -m annotator` and the `annotator` script: the GUI when it can open, else the CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def gui_request(argv: Sequence[str]) -> tuple[bool, str | None]:
    """Whether argv asks for the GUI (no command, or `gui [PATH]`), and the path to open."""
    if not argv:
        return True, None
    if argv[0] == "gui" and len(argv) <= 2 and not any(a.startswith("-") for a in argv[1:]):
        return True, argv[1] if len(argv) == 2 else None
    return False, None


def main(argv: Sequence[str] | None = None) -> int:
    """Start the desktop app when asked and possible; every other case goes to the CLI."""
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_gui, path = gui_request(argv)
    if wants_gui:
        from annotator.cli.demo import display_reason

        if display_reason() is None:
            from annotator.ui.app import run

            return int(run(path))
    from annotator.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
