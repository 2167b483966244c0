"""Propagation as a job: the Tracker's masks go to the store frame by frame as they arrive.

Manual masks in the range are the Tracker's keyframes and are never overwritten, so a correction
made on any frame steers the run and survives it.
"""

from __future__ import annotations

from collections.abc import Iterable

from annotator.backends.protocol import Tracker
from annotator.core.edits import MaskRecorder
from annotator.core.jobs import Job, Progress
from annotator.core.masks import decode, encode
from annotator.core.project import StoredMask
from annotator.core.types import FrameIndex, FrameMasks, ObjectId, Provenance, Source
from annotator.store import ProjectStore


def seed_keyframes(
    store: ProjectStore, tracker: Tracker, video_id: int, objects: Iterable[ObjectId] | None = None
) -> int:
    """Give the Tracker every manual mask of the video as a keyframe; returns how many."""
    wanted = None if objects is None else set(objects)
    count = 0
    for rec in store.masks(video_id):
        if rec.mask.provenance.source == Source.MANUAL and (
            wanted is None or rec.object_id in wanted
        ):
            tracker.add_mask(rec.frame, rec.object_id, decode(rec.mask.rle))
            count += 1
    return count


def propagate(
    store: ProjectStore,
    tracker: Tracker,
    video_id: int,
    start: FrameIndex,
    stop: FrameIndex,
    *,
    reverse: bool = False,
    recorder: MaskRecorder | None = None,
    backend: str = "",
    version: str = "",
) -> Job[FrameMasks]:
    """Run the Tracker from start to stop (inclusive), committing each frame before yielding it."""
    total = abs(stop - start) + 1
    for done, result in enumerate(tracker.propagate(start, stop, reverse=reverse), start=1):
        manual = {
            rec.object_id
            for rec in store.masks(video_id, frame=result.frame)
            if rec.mask.provenance.source == Source.MANUAL
        }
        writes = [
            (
                video_id,
                obj,
                result.frame,
                StoredMask(
                    encode(mask),
                    Provenance(Source.PROPAGATED, backend, version, result.scores.get(obj)),
                ),
            )
            for obj, mask in result.masks.items()
            if obj not in manual
        ]
        if recorder is not None:
            recorder.write(writes)
        else:
            store.write_masks(writes)
        yield Progress(done, total, result, f"frame {result.frame}")
