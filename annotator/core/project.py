"""Records of a Project as the rest of the app sees them (plain data; the store maps rows)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotator.core.masks import MaskRLE
from annotator.core.types import FrameIndex, ObjectId, Provenance


@dataclass(frozen=True)
class VideoRecord:
    """A Video in a Project: where it is and what it is."""

    id: int
    path: str
    name: str
    content_hash: str
    frame_count: int
    fps: float
    width: int
    height: int


@dataclass(frozen=True)
class Label:
    """A category name objects can carry."""

    id: int
    name: str
    color: str


@dataclass(frozen=True)
class ObjectRecord:
    """An Object of one Video; `label` is the Label name or None."""

    id: ObjectId
    video_id: int
    label: str | None
    color: str
    visible: bool = True


@dataclass(frozen=True)
class StoredMask:
    """One Object's Mask on one Frame, with where it came from."""

    rle: MaskRLE
    provenance: Provenance


@dataclass(frozen=True)
class MaskRecord:
    """A StoredMask with its address."""

    video_id: int
    object_id: ObjectId
    frame: FrameIndex
    mask: StoredMask


@dataclass(frozen=True)
class PromptRecord:
    """A Prompt the user gave, kept so a project can be re-run or audited."""

    id: int
    video_id: int
    object_id: ObjectId
    frame: FrameIndex
    kind: str
    payload: dict[str, object]


@dataclass(frozen=True)
class SensorRecord:
    """A sensor stream recorded with a Video: times (T,) in seconds, values (T, C)."""

    id: int
    video_id: int
    name: str
    channels: tuple[str, ...]
    times: np.ndarray = field(compare=False)
    values: np.ndarray = field(compare=False)


PALETTE_HEX = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
)


def default_color(index: int) -> str:
    """A distinct display colour for the index-th object."""
    return PALETTE_HEX[index % len(PALETTE_HEX)]
