"""The CLI commands: each validates everything cheap first, then does the work with a bar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from annotator.backends import get_spec, list_backends
from annotator.core.errors import BackendUnavailable, PromptError
from annotator.core.jobs import Progress
from annotator.core.project import VideoRecord
from annotator.core.types import Prompts, validate_prompts
from annotator.export import FORMATS
from annotator.export.common import prepare_dir
from annotator.store import ProjectStore, open_project
from annotator.tools.track import track
from annotator.tools.videos import add_video, open_record
from annotator.video import open_video


def run_with_bar(job: Iterable[Progress[object]], desc: str) -> Progress[object] | None:
    """Drain a job with a progress bar on stderr; returns the last step."""
    last = None
    quiet = not sys.stderr.isatty()
    with tqdm(desc=desc, unit="frame", file=sys.stderr, dynamic_ncols=True, leave=False,
              disable=quiet) as bar:
        for step in job:
            bar.total = step.total
            bar.n = step.done
            bar.refresh()
            last = step
    return last


def frame_reader(record: VideoRecord) -> Callable[[int], object]:
    """Frames of a project Video for exporters (sequential reads never seek)."""
    return open_record(record).frame


def export_project(store: ProjectStore, fmt: str, out: Path, images: bool = True,
                   video_ids: list[int] | None = None) -> Path:
    """Run one exporter with a bar; returns the written path."""
    reader = frame_reader if images else None
    last = run_with_bar(FORMATS[fmt].write(store, out, frames=reader, video_ids=video_ids),
                        f"export {fmt}")
    return Path(last.result) if last and last.result else out  # type: ignore[arg-type]


def cmd_track(args: argparse.Namespace) -> int:
    """`annotator track VIDEO ...`: prompt, propagate both ways, store, export."""
    spec = get_spec(args.backend)
    reason = spec.unavailable_reason()
    if reason:
        raise BackendUnavailable(f"backend '{args.backend}' is unavailable: {reason}")
    outputs = [(fmt, prepare_dir(Path(d))) for fmt, d in args.export or []]
    prompts = Prompts(points=tuple(args.point or []) + tuple(args.neg or []), box=args.box)
    if prompts.empty:
        raise PromptError("give a prompt: --box X0,Y0,X1,Y1 and/or --point X,Y")
    probe = open_video(args.video)
    info, count = probe.info, len(probe)
    probe.close()
    if not 0 <= args.frame < count:
        raise PromptError(f"--frame {args.frame} is outside the video: it has frames "
                          f"0..{count - 1}")
    validate_prompts(prompts, info.width, info.height)
    project = Path(args.project or f"{Path(args.video).stem}.annotator")
    tracker = spec.create()
    with open_project(project) as store:
        video, source = add_video(store, args.video)
        obj = store.add_object(video.id, args.label)
        print(f"project {project}: video {video.name} ({count} frames), object {obj.id}",
              file=sys.stderr)
        job = track(store, tracker, video, source, args.frame, prompts, obj,  # type: ignore[arg-type]
                    backend=spec.info.id)
        run_with_bar(job, "track")
        source.close()
        masks = store.count_masks(video.id)
        print(f"stored {masks} masks in {project}")
        for fmt, out in outputs:
            path = export_project(store, fmt, out, video_ids=[video.id])
            print(f"{fmt} export: {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`annotator export PROJECT --format F DIR`."""
    out = prepare_dir(Path(args.out))
    with open_project(args.project, create=False) as store:
        path = export_project(store, args.format, out, images=not args.no_images)
    print(f"{args.format} export: {path}")
    return 0


def cmd_backends(_args: argparse.Namespace) -> int:
    """`annotator backends`: every backend, ready or with the reason and the fix."""
    for entry in list_backends():
        name = entry.spec.info.name if entry.spec else ""
        roles = ",".join(sorted(entry.spec.info.roles)) if entry.spec else ""
        status = "ready" if entry.problem is None else f"unavailable: {entry.problem}"
        print(f"{entry.id:<16} {roles:<20} {status}  ({name}; {entry.origin})")
    return 0
