"""`annotator auto-instances` and `annotator pseudo-label`: machine labels into a project."""

from __future__ import annotations

import argparse

from annotator.backends import get_spec
from annotator.cli.commands import run_with_bar
from annotator.core.errors import AnnotatorError
from annotator.core.project import VideoRecord
from annotator.store import ProjectStore, open_project
from annotator.tools.auto_instances import SUPPRESSIONS, AutoInstancesConfig, auto_instances
from annotator.tools.pseudo_labels import PseudoLabelConfig, pseudo_label
from annotator.tools.videos import open_record


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the labelling commands."""
    auto = sub.add_parser("auto-instances", help="detector proposals linked across frames")
    _common(auto, "yolact")
    auto.add_argument("--min-score", type=float, default=0.3)
    auto.add_argument("--map", action="append", default=[], metavar="CLASS=LABEL",
                      help="detector class to project label; CLASS= drops the class")
    auto.add_argument("--only-mapped", action="store_true", help="drop classes not in --map")
    auto.add_argument("--suppression", choices=tuple(SUPPRESSIONS), default="fast",
                      help="duplicate suppression (default: YOLACT's own Fast NMS)")
    auto.add_argument("--noh-head", default="", metavar="PATH",
                      help="trained nearby-objects hallucinator head for --suppression noh")
    auto.set_defaults(func=cmd_auto_instances)

    pseudo = sub.add_parser("pseudo-label", help="DenseCLIP pseudo-labels from class names")
    _common(pseudo, "maskclip")
    pseudo.add_argument("--classes", required=True, help="comma-separated class names")
    pseudo.add_argument("--background", default="", help="comma-separated background names")
    pseudo.add_argument("--min-score", type=float, default=0.5)
    pseudo.set_defaults(func=cmd_pseudo_label)


def _common(parser: argparse.ArgumentParser, backend: str) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--video", type=int, default=None, help="video id (default: the first)")
    parser.add_argument("--frames", default=":", metavar="A:B",
                        help="frame range, Python slice style (default: all)")
    parser.add_argument("--backend", default=backend)


def frame_range(text: str, count: int) -> range:
    """'A:B' (either side optional, B exclusive) -> a range within 0..count."""
    try:
        a, _, b = text.partition(":")
        start, stop = int(a) if a else 0, int(b) if b else count
    except ValueError as exc:
        raise AnnotatorError(f"--frames '{text}' is not A:B (e.g. 0:100)") from exc
    if not 0 <= start < stop <= count:
        raise AnnotatorError(f"--frames {text} is outside the video's frames 0..{count - 1}")
    return range(start, stop)


def video_of(store: ProjectStore, video_id: int | None) -> VideoRecord:
    """The Video a command works on: the given id, else the project's first."""
    videos = store.videos()
    if not videos:
        raise AnnotatorError(f"{store.where} has no videos: add one with `annotator track`")
    if video_id is None:
        return videos[0]
    return store.video(video_id)


def cmd_auto_instances(args: argparse.Namespace) -> int:
    """Propose instances on a frame range and store them as proposals."""
    label_map: dict[str, str | None] = {}
    for item in args.map:
        cls, sep, label = item.partition("=")
        if not sep:
            raise AnnotatorError(f"--map '{item}' is not CLASS=LABEL")
        label_map[cls] = label or None
    spec = get_spec(args.backend)
    with open_project(args.project, create=False) as store:
        video = video_of(store, args.video)
        frames = frame_range(args.frames, video.frame_count)
        proposer = spec.create()
        config = AutoInstancesConfig(args.min_score, label_map=label_map,
                                     only_mapped=args.only_mapped, suppression=args.suppression,
                                     noh_head=args.noh_head)
        source = open_record(video)
        run_with_bar(auto_instances(store, proposer, video.id, source, frames, config,  # type: ignore[arg-type]
                                    spec.info.id, getattr(proposer, "model_version", "")),
                     "auto-instances")
        print(f"{len(store.objects(video.id))} objects in {video.name}; review them in the app")
    return 0


def cmd_pseudo_label(args: argparse.Namespace) -> int:
    """DenseCLIP pseudo-labels for class names over a frame range."""
    classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    background = tuple(c.strip() for c in args.background.split(",") if c.strip())
    if not classes:
        raise AnnotatorError("--classes needs at least one class name")
    spec = get_spec(args.backend)
    with open_project(args.project, create=False) as store:
        video = video_of(store, args.video)
        frames = frame_range(args.frames, video.frame_count)
        grounder = spec.create()
        config = PseudoLabelConfig(classes, background, args.min_score)
        source = open_record(video)
        run_with_bar(pseudo_label(store, grounder, video.id, source, frames, config,  # type: ignore[arg-type]
                                  spec.info.id, getattr(grounder, "model_version", "")),
                     "pseudo-label")
        print(f"pseudo-labels for {', '.join(classes)} stored in {args.project}")
    return 0
