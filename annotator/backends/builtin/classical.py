"""The embedded default backend: GrabCut for prompts, DIS optical flow + GrabCut for propagation.

Needs no weights and no torch, so a fresh install can annotate at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import cv2
import numpy as np

from annotator.backends.builtin import CLASSICAL_INFO as INFO
from annotator.backends.builtin.grabcut import (
    Crop,
    boundary_contrast,
    fill_holes,
    keep_components,
    keep_overlapping,
    region_contrast,
    run_grabcut,
    segment,
)
from annotator.core.errors import PromptError
from annotator.core.masks import mask_iou
from annotator.core.ports import VideoSource
from annotator.core.types import (
    FrameIndex,
    FrameMasks,
    MaskProposal,
    ObjectId,
    Prompts,
    validate_prompts,
)

VERSION = "1"
FLOW_SIDE = 480
"""Optical flow runs on frames scaled to at most this width (speed; masks stay full size)."""
EXTENTS = (0.12, 0.25, 0.45)
"""Region sizes (share of the frame's longer side) tried for point-only prompts: 3 candidates."""


@cache
def _workers() -> ThreadPoolExecutor:
    """Threads for independent GrabCuts (results do not depend on the thread: see SEED)."""
    return ThreadPoolExecutor(len(EXTENTS), thread_name_prefix="grabcut")


class ClassicalBackend:
    """Segmenter and Tracker in one object; all state is small (two frames and current masks)."""

    info = INFO

    def __init__(self, refine: bool = True) -> None:
        self.refine = refine
        self._frame: np.ndarray | None = None
        self._key: object = None
        self._video: VideoSource | None = None
        self._keyframes: dict[ObjectId, dict[FrameIndex, np.ndarray]] = {}
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    # --- Segmenter -----------------------------------------------------------------------------

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        """Keep the frame (GrabCut has no separate encoder step)."""
        if key is None or key != self._key or self._frame is None:
            self._frame = np.ascontiguousarray(frame)
            self._key = key

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        """Up to three candidates, ranked by how well their boundary follows image edges."""
        if self._frame is None:
            raise RuntimeError("set_frame() must be called before predict()")
        frame = self._frame
        if prompts.mask is not None and not prompts.points and prompts.box is None:
            return [MaskProposal(prompts.mask.astype(bool), 1.0)]
        if not prompts.points and prompts.box is None:
            raise PromptError("give at least one point or a box")
        validate_prompts(prompts, frame.shape[1], frame.shape[0])
        if prompts.box is not None:
            base = segment(frame, prompts.points, prompts.box, 0.0)
            candidates = [base, fill_holes(base), keep_components(base, [])]
        else:
            points = prompts.points  # one GrabCut per extent, side by side (OpenCV frees the GIL)
            candidates = list(_workers().map(lambda e: segment(frame, points, None, e), EXTENTS))
        return _rank(frame, candidates)

    # --- Tracker -------------------------------------------------------------------------------

    def open(self, video: VideoSource) -> None:
        """Attach to a video (frames are read on demand)."""
        self._video = video
        self._keyframes.clear()
        self._frame, self._key = None, None

    def add_prompts(self, frame: FrameIndex, obj: ObjectId, prompts: Prompts) -> list[MaskProposal]:
        """Segment the prompts on `frame` and make the best candidate the object's keyframe."""
        video = self._require_video()
        self.set_frame(video.frame(frame), key=(id(video), frame))
        proposals = self.predict(prompts)
        self._keyframes.setdefault(obj, {})[frame] = proposals[0].mask
        return proposals

    def add_mask(self, frame: FrameIndex, obj: ObjectId, mask: np.ndarray) -> None:
        """Use a known mask as the object's keyframe on `frame`."""
        self._keyframes.setdefault(obj, {})[frame] = np.asarray(mask, dtype=bool)

    def remove_object(self, obj: ObjectId) -> None:
        """Forget an object's keyframes."""
        self._keyframes.pop(obj, None)

    def reset(self) -> None:
        """Forget all keyframes."""
        self._keyframes.clear()

    def close(self) -> None:
        """Detach from the video."""
        self._video = None
        self._keyframes.clear()

    def propagate(self, start: FrameIndex, stop: FrameIndex, *, reverse: bool = False
                  ) -> Iterator[FrameMasks]:
        """Carry each object's mask frame to frame; a keyframe on the way resets it."""
        video = self._require_video()
        step = -1 if reverse else 1
        if (stop - start) * step < 0:
            return
        current: dict[ObjectId, np.ndarray] = {}
        prev_gray: np.ndarray | None = None
        for index, frame in _walk(video, start, stop, reverse):
            gray = _small_gray(frame)
            flow = None if prev_gray is None else self._flow.calc(gray, prev_gray, None)
            masks: dict[ObjectId, np.ndarray] = {}
            scores: dict[ObjectId, float] = {}
            for obj, keys in self._keyframes.items():
                if index in keys:
                    masks[obj], scores[obj] = keys[index], 1.0
                elif obj in current and flow is not None:
                    mask, score = self._track(frame, current[obj], flow)
                    if mask.any():
                        masks[obj], scores[obj] = mask, score
            current = masks
            prev_gray = gray
            yield FrameMasks(index, masks, scores)

    def _track(self, frame: np.ndarray, prev: np.ndarray, flow: np.ndarray
               ) -> tuple[np.ndarray, float]:
        warped = _warp(prev, flow)
        if not self.refine or not warped.any():
            return warped, 1.0
        refined = _refine(frame, warped)
        ratio = refined.sum() / max(1, warped.sum())
        if not 0.6 < ratio < 1.6:
            return warped, 0.5
        return refined, mask_iou(refined, warped)

    def _require_video(self) -> VideoSource:
        if self._video is None:
            raise RuntimeError("open(video) must be called before tracking")
        return self._video


def _rank(frame: np.ndarray, candidates: list[np.ndarray]) -> list[MaskProposal]:
    """Drop empty and near-duplicate candidates; best colour separation (and edges) first."""
    unique: list[np.ndarray] = []
    for mask in candidates:
        if mask.any() and all(mask_iou(mask, u) < 0.98 for u in unique):
            unique.append(mask)
    if not unique:
        unique = [candidates[0]]
    scored = [MaskProposal(m, 0.75 * region_contrast(frame, m) + 0.25 * boundary_contrast(frame, m))
              for m in unique]
    return sorted(scored, key=lambda p: -p.score)


def _walk(video: VideoSource, start: int, stop: int, reverse: bool, chunk: int = 16
          ) -> Iterator[tuple[int, np.ndarray]]:
    """Frames from start to stop inclusive; backwards in decoded chunks (bounded memory)."""
    if not reverse:
        yield from zip(range(start, stop + 1), video.frames(start, stop + 1), strict=False)
        return
    hi = start
    while hi >= stop:
        lo = max(stop, hi - chunk + 1)
        block = list(video.frames(lo, hi + 1))
        for offset in range(len(block) - 1, -1, -1):
            yield lo + offset, block[offset]
        hi = lo - 1


def _small_gray(frame: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if w > FLOW_SIDE:
        gray = cv2.resize(gray, (FLOW_SIDE, round(h * FLOW_SIDE / w)), interpolation=cv2.INTER_AREA)
    return gray


def _warp(prev: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Pull the previous mask along the backward flow (current -> previous), at full size."""
    h, w = prev.shape
    fh, fw = flow.shape[:2]
    if (fh, fw) != (h, w):
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / fw
        flow[..., 1] *= h / fh
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    moved = cv2.remap(prev.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1],
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return moved > 0.5


def _refine(frame: np.ndarray, warped: np.ndarray) -> np.ndarray:
    """Snap a warped mask to the image with GrabCut in a band around its boundary."""
    ys, xs = np.nonzero(warped)
    crop = Crop.around(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.2, frame.shape)
    part = warped[crop.y0:crop.y1, crop.x0:crop.x1].astype(np.uint8)
    small = cv2.resize(part, crop.work_size, interpolation=cv2.INTER_NEAREST)
    band = max(2, max(crop.work_size) // 25)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(small, kernel)
    outer = cv2.dilate(small, kernel)
    seeds = np.full(small.shape, cv2.GC_BGD, np.uint8)
    seeds[outer > 0] = cv2.GC_PR_BGD
    seeds[small > 0] = cv2.GC_PR_FGD
    seeds[inner > 0] = cv2.GC_FGD
    fg = run_grabcut(crop.image(frame), seeds, 2)
    fg = keep_overlapping(fg | (inner > 0), inner > 0)
    return crop.paste(fg, frame.shape)


def create(**options: object) -> ClassicalBackend:
    """Registry factory."""
    return ClassicalBackend(**options)  # type: ignore[arg-type]
