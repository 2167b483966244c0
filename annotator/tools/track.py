"""Prompt one Object on one Frame, then propagate both ways: the headless annotation loop."""

from __future__ import annotations

from dataclasses import asdict

from annotator.backends.protocol import Tracker
from annotator.core.jobs import Job, Progress
from annotator.core.masks import encode
from annotator.core.ports import VideoSource
from annotator.core.project import ObjectRecord, StoredMask, VideoRecord
from annotator.core.types import FrameIndex, Prompts, Provenance, Source
from annotator.store import ProjectStore
from annotator.tools.propagate import propagate


def prompt_payload(prompts: Prompts) -> dict[str, object]:
    """A JSON-ready record of prompts, for the project's prompt history."""
    return {
        "points": [asdict(p) for p in prompts.points],
        "box": asdict(prompts.box) if prompts.box else None,
        "text": prompts.text,
    }


def track(
    store: ProjectStore,
    tracker: Tracker,
    video: VideoRecord,
    source: VideoSource,
    frame: FrameIndex,
    prompts: Prompts,
    obj: ObjectRecord,
    backend: str = "",
) -> Job[object]:
    """Keyframe `obj` on `frame` from the prompts, then fill the video forward and backward."""
    last = len(source) - 1
    total = 1 + (last - frame) + frame
    store.add_prompt(video.id, obj.id, frame, "prompts", prompt_payload(prompts))
    tracker.open(source)
    best = tracker.add_prompts(frame, obj.id, prompts)[0]
    store.put_mask(
        video.id,
        obj.id,
        frame,
        StoredMask(encode(best.mask), Provenance(Source.MANUAL, backend, "", best.score)),
    )
    yield Progress(1, total, None, f"keyframe {frame}")
    done = 1
    for direction, (a, b) in (("forward", (frame, last)), ("backward", (frame, 0))):
        for step in propagate(
            store, tracker, video.id, a, b, reverse=direction == "backward", backend=backend
        ):
            if step.result is not None and step.result.frame == frame:
                continue
            done += 1
            yield Progress(done, total, step.result, f"{direction} {step.message}")
    tracker.close()
