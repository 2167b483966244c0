"""What every exporter reads from a project: per Video, its frames' masks by stable object order."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.core.errors import ExportError
from annotator.core.masks import decode
from annotator.core.ports import ProjectReader
from annotator.core.project import MaskRecord, ObjectRecord, VideoRecord

FrameReader = Callable[[VideoRecord], Callable[[int], np.ndarray]]
"""Given a Video, a function that returns its frame i as RGB uint8 (None: no images)."""


@dataclass(frozen=True)
class VideoExport:
    """One Video's exportable content: its objects (export order) and a sequence name."""

    video: VideoRecord
    sequence: str
    objects: list[ObjectRecord]


def sequence_names(videos: list[VideoRecord]) -> dict[int, str]:
    """Filesystem-safe, unique sequence names from video names."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for video in videos:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", video.name).strip("._") or f"video{video.id}"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[video.id] = name
    return names


def plan(store: ProjectReader, video_ids: list[int] | None = None) -> list[VideoExport]:
    """Videos to export with the objects that have at least one mask, in id order."""
    videos = [v for v in store.videos() if video_ids is None or v.id in video_ids]
    names = sequence_names(videos)
    out = []
    for video in videos:
        with_masks = store.mask_frames(video.id)
        objects = [o for o in store.objects(video.id) if o.id in with_masks]
        out.append(VideoExport(video, names[video.id], objects))
    return out


def frame_masks(store: ProjectReader, video_id: int, chunk: int = 64
                ) -> Iterator[tuple[int, list[MaskRecord]]]:
    """(frame, masks) for every frame of a Video in order, reading the store in chunks."""
    count = store.video(video_id).frame_count
    for lo in range(0, count, chunk):
        frames = list(range(lo, min(count, lo + chunk)))
        by_frame: dict[int, list[MaskRecord]] = {f: [] for f in frames}
        for rec in store.masks(video_id, frames=frames):
            by_frame[rec.frame].append(rec)
        yield from by_frame.items()


def decode_record(rec: MaskRecord) -> np.ndarray:
    """The boolean mask of a record."""
    return decode(rec.mask.rle)


def prepare_dir(path: Path) -> Path:
    """Create the output folder or fail with a one-line reason and fix."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create output folder {path} ({exc.strerror}): choose a "
                          "writable folder") from exc
    if not os.access(path, os.W_OK):
        raise ExportError(f"output folder {path} is not writable: choose a writable folder")
    return path
