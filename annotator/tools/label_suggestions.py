"""Suggest labels for Objects with a segmenter that also recognizes (Open-Vocabulary SAM).

Each Object is prompted with the box of its stored Mask on a few frames spread over its track;
the class probabilities are averaged, so one odd frame does not decide the label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from annotator.backends.protocol import Segmenter
from annotator.core.jobs import Job, Progress
from annotator.core.masks import bbox
from annotator.core.ports import VideoSource
from annotator.core.types import Box, FrameIndex, ObjectId, Prompts
from annotator.store import ProjectStore

Suggestions = list[tuple[str, float]]


def sample_frames(frames: list[FrameIndex], count: int) -> list[FrameIndex]:
    """Up to `count` frames spread evenly over a sorted list (first and last included)."""
    if len(frames) <= count:
        return frames
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in dict.fromkeys(picks.tolist())]


def suggest_labels(store: ProjectStore, segmenter: Segmenter, video_id: int,
                   source: VideoSource, objects: Iterable[ObjectId] | None = None,
                   frames: range | None = None, per_object: int = 3, top_k: int = 5
                   ) -> Job[tuple[ObjectId, Suggestions]]:
    """One step per Object: its ranked (label, mean probability) suggestions."""
    wanted = list(objects) if objects is not None else [
        o.id for o in store.objects(video_id) if not o.label]
    for done, obj in enumerate(wanted, start=1):
        records = [r for r in store.masks(video_id, object_id=obj)
                   if frames is None or r.frame in frames]
        by_frame = {r.frame: r for r in records}
        totals: dict[str, float] = defaultdict(float)
        picked = sample_frames(sorted(by_frame), per_object)
        for frame in picked:
            x, y, w, h = bbox(by_frame[frame].mask.rle)
            if w < 2 or h < 2:
                continue
            segmenter.set_frame(source.frame(frame), key=(video_id, frame))
            best = segmenter.predict(Prompts(box=Box(x, y, x + w, y + h)))[0]
            for name, prob in best.suggestions or ((best.label, best.score),):
                totals[name] += prob / len(picked)
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top_k]
        yield Progress(done, len(wanted), (obj, ranked), f"object {obj}")
