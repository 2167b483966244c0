"""Protocols the core needs from adapters, so adapters never import each other."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from annotator.core.project import MaskRecord, ObjectRecord, VideoRecord
from annotator.core.types import FrameIndex, ObjectId

FrameMark = tuple[str, float | None]
"""(source, score) of a stored mask: what a timeline shows."""


@dataclass(frozen=True)
class VideoInfo:
    """What a Video is: size after rotation, length in decoded frames, nominal rate."""

    path: str
    width: int
    height: int
    frame_count: int
    fps: float
    rotation: int = 0


@runtime_checkable
class VideoSource(Protocol):
    """Frame-exact random access to a Video: frame i is the i-th decoded frame, RGB uint8 HxWx3."""

    @property
    def info(self) -> VideoInfo: ...

    def __len__(self) -> int: ...

    def frame(self, index: FrameIndex) -> np.ndarray: ...

    def frames(self, start: FrameIndex = 0, stop: FrameIndex | None = None) -> Iterator[np.ndarray]:
        """Decode sequentially from start (inclusive) to stop (exclusive)."""
        ...

    def close(self) -> None: ...


class ProjectReader(Protocol):
    """The read side of a project store that exporters and evaluators need."""

    def videos(self) -> list[VideoRecord]: ...

    def video(self, video_id: int) -> VideoRecord: ...

    def objects(self, video_id: int) -> list[ObjectRecord]: ...

    def masks(self, video_id: int, *, frame: FrameIndex | None = None,
              object_id: ObjectId | None = None,
              frames: Sequence[FrameIndex] | None = None) -> list[MaskRecord]: ...

    def mask_frames(self, video_id: int) -> dict[ObjectId, dict[FrameIndex, FrameMark]]: ...
