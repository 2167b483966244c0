"""`annotator` command line: gui (default), track, export, backends, models, bench, demo.

Never imports Qt."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from annotator import __version__
from annotator.cli import batch, commands, evaluation, labeling, models, parsing, sensors
from annotator.cli.demo import cmd_demo, cmd_gui
from annotator.cli.errors import run_guarded

VERBOSE = ("-v", "--verbose")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used for --help in the README)."""
    parser = argparse.ArgumentParser(prog="annotator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"annotator {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="tracebacks and debug logs (also accepted after the command)")
    sub = parser.add_subparsers(dest="command")

    gui = sub.add_parser("gui", help="start the desktop app (the default)")
    gui.add_argument("path", nargs="?", help="a video, image folder or .annotator project")
    gui.set_defaults(func=cmd_gui)

    demo = sub.add_parser("demo", help="run the built-in sample headless and export it")
    demo.set_defaults(func=cmd_demo)

    tr = sub.add_parser("track", help="prompt one object on a frame and propagate both ways")
    tr.add_argument("video", help="video file or image folder")
    tr.add_argument("--frame", type=int, default=0, help="frame to prompt on (0-based)")
    tr.add_argument("--point", type=parsing.point, action="append", metavar="X,Y",
                    help="positive point (repeatable)")
    tr.add_argument("--neg", type=parsing.negative_point, action="append", metavar="X,Y",
                    help="negative point (repeatable)")
    tr.add_argument("--box", type=parsing.box, metavar="X0,Y0,X1,Y1", help="box prompt")
    tr.add_argument("--label", help="label of the object")
    tr.add_argument("--project", help="project file (default: ./VIDEO_NAME.annotator)")
    tr.add_argument("--backend", default="classical", help="backend id (see `annotator backends`)")
    tr.add_argument("--export", nargs=2, action="append", metavar=("FORMAT", "DIR"),
                    help="export afterwards: coco DIR or davis DIR (repeatable)")
    tr.set_defaults(func=commands.cmd_track)

    ex = sub.add_parser("export", help="export a project")
    ex.add_argument("project", help="project file")
    ex.add_argument("--format", choices=["coco", "davis"], required=True)
    ex.add_argument("--no-images", action="store_true", help="write annotations only")
    ex.add_argument("out", help="output folder")
    ex.set_defaults(func=commands.cmd_export)

    bk = sub.add_parser("backends", help="list backends and whether they can run here")
    bk.set_defaults(func=commands.cmd_backends)

    evaluation.add_parsers(sub)
    batch.add_parsers(sub)
    models.add_parsers(sub)
    labeling.add_parsers(sub)
    sensors.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and run; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in VERBOSE for a in argv)
    args = parser.parse_args([a for a in argv if a not in VERBOSE])
    args.verbose = verbose
    if getattr(args, "export", None):
        for fmt, _ in args.export:
            if fmt not in ("coco", "davis"):
                parser.error(f"--export format '{fmt}' is not coco or davis")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.INFO)
    func = getattr(args, "func", cmd_gui)
    if not hasattr(args, "path"):
        args.path = None
    return run_guarded(lambda: func(args), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
