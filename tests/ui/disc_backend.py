"""A deterministic test backend: discs around points, box-shaped masks, masks that move at a
known velocity during propagation. Fast, so UI tests exercise the real UI paths quickly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from annotator.backends.protocol import SEGMENTER, TRACKER, BackendInfo
from annotator.core.ports import VideoSource
from annotator.core.types import FrameIndex, FrameMasks, MaskProposal, ObjectId, Prompts
from annotator.ui.controller import BackendChoice

INFO = BackendInfo(id="discs", name="Discs (test)", roles=frozenset({SEGMENTER, TRACKER}),
                   prompts=frozenset({"point", "box", "text"}), multimask=True)
RADII = (8, 5, 13)
"""Candidate radii around the mean positive point, best first."""
VELOCITY = 2
"""Pixels per frame every mask moves right while propagating forward (left going back)."""
LOW_EVERY = 5
"""Every 5th propagated frame scores 0.3 (a low-confidence mark)."""


def disc(shape: tuple[int, int], x: float, y: float, r: float) -> np.ndarray:
    """A filled disc mask (computed in its bounding box only, so 720p stays cheap)."""
    h, w = shape
    out = np.zeros(shape, bool)
    x0, x1 = max(0, int(x - r) - 1), min(w, int(x + r) + 2)
    y0, y1 = max(0, int(y - r) - 1), min(h, int(y + r) + 2)
    if x0 >= x1 or y0 >= y1:
        return out
    yy, xx = np.mgrid[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    return out


def shift(mask: np.ndarray, dx: int) -> np.ndarray:
    """The mask moved dx pixels right (zeros enter at the edge)."""
    out = np.zeros_like(mask)
    w = mask.shape[1]
    if dx >= 0:
        out[:, dx:] = mask[:, :w - dx] if dx < w else False
    else:
        out[:, :w + dx] = mask[:, -dx:]
    return out


class DiscBackend:
    """Segmenter + Tracker with exactly predictable output."""

    info = INFO

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.shape: tuple[int, int] | None = None
        self.encodes = 0
        self._key: object = None
        self._video: VideoSource | None = None
        self._keys: dict[ObjectId, dict[FrameIndex, np.ndarray]] = {}

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        if key is None or key != self._key:
            self.encodes += 1
            self._key = key
        self.shape = frame.shape[:2]

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        assert self.shape is not None
        h, w = self.shape
        if prompts.box is not None:
            b = prompts.box.normalized()
            rect = np.zeros((h, w), bool)
            rect[int(b.y0):int(b.y1), int(b.x0):int(b.x1)] = True
            inner = disc((h, w), (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2,
                         min(b.x1 - b.x0, b.y1 - b.y0) / 2)
            masks = [rect, inner]
        else:
            pos = [p for p in prompts.points if p.positive] or [None]
            if pos[0] is None:
                x, y = w / 2, h / 2
            else:
                x = sum(p.x for p in pos) / len(pos)  # type: ignore[union-attr]
                y = sum(p.y for p in pos) / len(pos)  # type: ignore[union-attr]
            masks = [disc((h, w), x, y, r) for r in RADII]
        for p in prompts.points:
            if not p.positive:
                masks = [m & ~disc((h, w), p.x, p.y, 3) for m in masks]
        return [MaskProposal(m, 0.9 - 0.1 * k) for k, m in enumerate(masks)]

    # --- tracker ---
    def open(self, video: VideoSource) -> None:
        self._video = video
        self._keys.clear()

    def add_prompts(self, frame: FrameIndex, obj: ObjectId, prompts: Prompts
                    ) -> list[MaskProposal]:
        assert self._video is not None
        self.set_frame(self._video.frame(frame), ("video", frame))
        out = self.predict(prompts)
        self._keys.setdefault(obj, {})[frame] = out[0].mask
        return out

    def add_mask(self, frame: FrameIndex, obj: ObjectId, mask: np.ndarray) -> None:
        self._keys.setdefault(obj, {})[frame] = np.asarray(mask, bool)

    def remove_object(self, obj: ObjectId) -> None:
        self._keys.pop(obj, None)

    def reset(self) -> None:
        self._keys.clear()

    def close(self) -> None:
        self._video = None
        self._keys.clear()

    def propagate(self, start: FrameIndex, stop: FrameIndex, *, reverse: bool = False
                  ) -> Iterator[FrameMasks]:
        step = -1 if reverse else 1
        current: dict[ObjectId, np.ndarray] = {}
        for frame in range(start, stop + step, step):
            if self.delay:
                time.sleep(self.delay)
            masks, scores = {}, {}
            for obj, keys in self._keys.items():
                if frame in keys:
                    masks[obj], scores[obj] = keys[frame], 1.0
                elif obj in current:
                    masks[obj] = shift(current[obj], VELOCITY * step)
                    scores[obj] = 0.3 if frame % LOW_EVERY == 0 else 0.9
            current = masks
            yield FrameMasks(frame, masks, scores)


def choice(delay: float = 0.0) -> BackendChoice:
    """The test backend as the tools panel lists it."""
    return BackendChoice(INFO.id, INFO.name, None, lambda: DiscBackend(delay), INFO.prompts,
                         INFO.roles)
