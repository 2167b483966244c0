"""Frozen value types of the domain: indices, prompts, masks and their provenance."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

import numpy as np

from annotator.core.errors import PromptError

FrameIndex = int
"""0-based decoded ordinal of a Frame in its Video (never time x fps)."""

ObjectId = int
"""Project-wide id of an Object."""


@dataclass(frozen=True)
class Point:
    """One point prompt in frame pixel coordinates; positive adds, negative removes."""

    x: float
    y: float
    positive: bool = True


@dataclass(frozen=True)
class Box:
    """An axis-aligned box prompt in frame pixels, corners (x0, y0) and (x1, y1)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def normalized(self) -> Box:
        """The same box with x0 <= x1 and y0 <= y1."""
        return Box(min(self.x0, self.x1), min(self.y0, self.y1),
                   max(self.x0, self.x1), max(self.y0, self.y1))


@dataclass(frozen=True)
class Prompts:
    """Everything a user gave a backend for one Object on one Frame."""

    points: tuple[Point, ...] = ()
    box: Box | None = None
    mask: np.ndarray | None = field(default=None, compare=False)
    text: str | None = None

    @property
    def empty(self) -> bool:
        """True when there is nothing to prompt with."""
        return not self.points and self.box is None and self.mask is None and not self.text


class Source(enum.StrEnum):
    """Who made a Mask."""

    MANUAL = "manual"
    PROPAGATED = "propagated"
    PROPOSAL = "proposal"
    PSEUDO = "pseudo"


@dataclass(frozen=True)
class Provenance:
    """Where a Mask came from: kept with every stored Mask so nothing is anonymous."""

    source: Source
    backend: str = ""
    model_version: str = ""
    score: float | None = None
    created: float = field(default_factory=time.time)


@dataclass(frozen=True)
class MaskProposal:
    """A candidate Mask from a backend, with its scores; ranked best first by the backend."""

    mask: np.ndarray = field(compare=False)
    score: float
    extra: dict[str, float] = field(default_factory=dict, compare=False)
    label: str = ""
    """A class name when the backend recognizes what it segmented (detectors, OVSAM)."""
    suggestions: tuple[tuple[str, float], ...] = ()
    """Ranked (class name, probability) alternatives for `label` (OVSAM's top-k)."""


@dataclass(frozen=True)
class DenseLabels:
    """Per-pixel classes of one frame: argmax `labels` (H, W) into `class_names`, and the
    per-class `scores` (K, H, W) in 0..1."""

    labels: np.ndarray = field(compare=False)
    scores: np.ndarray = field(compare=False)
    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrameMasks:
    """The Masks a Tracker produced for one Frame, keyed by Object (boolean HxW arrays)."""

    frame: FrameIndex
    masks: dict[ObjectId, np.ndarray] = field(compare=False)
    scores: dict[ObjectId, float] = field(default_factory=dict, compare=False)


def validate_prompts(prompts: Prompts, width: int, height: int) -> None:
    """Refuse points or boxes outside a width x height frame, saying where the frame ends."""
    coords = [(p.x, p.y) for p in prompts.points]
    if prompts.box is not None:
        b = prompts.box.normalized()
        coords += [(b.x0, b.y0), (b.x1, b.y1)]
        if b.x1 - b.x0 < 2 or b.y1 - b.y0 < 2:
            raise PromptError(f"box {b.x0:g},{b.y0:g},{b.x1:g},{b.y1:g} is empty: "
                              "give a box at least 2 pixels wide and high")
    for x, y in coords:
        if not (0 <= x <= width and 0 <= y <= height):
            raise PromptError(f"prompt ({x:g}, {y:g}) is outside the {width}x{height} frame: "
                              f"use 0 <= x <= {width} and 0 <= y <= {height}")
