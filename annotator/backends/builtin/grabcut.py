"""Prompt -> mask with GrabCut, seeded by box and points, computed on a small crop for speed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from annotator.core.types import Box, Point

WORK_SIDE = 320
"""GrabCut runs on crops scaled so their longer side is at most this many pixels."""
SEED = 0
"""GrabCut's GMM initialisation draws from OpenCV's per-thread RNG: seeding it on every call
makes a result depend on its inputs only (not on earlier calls, or on the thread)."""


@dataclass(frozen=True)
class Crop:
    """A region of the frame and the scale it is processed at."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float

    @classmethod
    def around(cls, x0: float, y0: float, x1: float, y1: float, margin: float,
               shape: tuple[int, ...]) -> Crop:
        """The box grown by `margin` of its size on each side, clipped to the frame."""
        h, w = shape[:2]
        mx, my = (x1 - x0) * margin + 4, (y1 - y0) * margin + 4
        cx0, cy0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
        cx1, cy1 = min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my)))
        cx1, cy1 = max(cx1, cx0 + 2), max(cy1, cy0 + 2)
        return cls(cx0, cy0, cx1, cy1, min(1.0, WORK_SIDE / max(cx1 - cx0, cy1 - cy0)))

    @property
    def work_size(self) -> tuple[int, int]:
        """(width, height) of the crop at work scale."""
        return (max(2, round((self.x1 - self.x0) * self.scale)),
                max(2, round((self.y1 - self.y0) * self.scale)))

    def image(self, frame: np.ndarray) -> np.ndarray:
        """The crop of an RGB frame at work scale, as OpenCV's BGR."""
        part = frame[self.y0:self.y1, self.x0:self.x1]
        part = cv2.resize(part, self.work_size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(part[:, :, ::-1])

    def to_work(self, x: float, y: float) -> tuple[int, int]:
        """Frame pixel -> work pixel."""
        return int((x - self.x0) * self.scale), int((y - self.y0) * self.scale)

    def paste(self, work_mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """A work-scale mask back into a full-frame boolean mask."""
        full = np.zeros(shape[:2], dtype=bool)
        size = (self.x1 - self.x0, self.y1 - self.y0)
        up = cv2.resize(work_mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        full[self.y0:self.y1, self.x0:self.x1] = up > 0.5
        return full


def run_grabcut(image: np.ndarray, seeds: np.ndarray, iterations: int) -> np.ndarray:
    """GrabCut from a seed mask of GC_* labels; falls back to the seeds when a class is missing."""
    fg = np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if fg.all() or not fg.any():
        return fg
    labels = seeds.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(SEED)
    try:
        cv2.grabCut(image, labels, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return fg
    return np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))


def keep_components(mask: np.ndarray, anchors: list[tuple[int, int]]) -> np.ndarray:
    """Keep the components that hold an anchor (x, y); without anchors, the largest one."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask
    h, w = mask.shape
    keep = {int(labels[y, x]) for x, y in anchors if 0 <= x < w and 0 <= y < h}
    keep.discard(0)
    if not keep:
        keep = {1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))}
    return np.isin(labels, list(keep))


def keep_overlapping(mask: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Keep the components of `mask` that overlap `region` (all of them if none does)."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    keep = np.unique(labels[region & mask])
    keep = keep[keep > 0]
    return np.isin(labels, keep) if keep.size else mask


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions that do not touch the border."""
    inv = (~mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inv, 4)
    out = mask.copy()
    for i in range(1, count):
        x, y, w, h = stats[i, :4]
        if x > 0 and y > 0 and x + w < mask.shape[1] and y + h < mask.shape[0]:
            out[labels == i] = True
    return out


def _disc(labels: np.ndarray, x: int, y: int, radius: int, value: int) -> None:
    cv2.circle(labels, (x, y), max(1, radius), int(value), thickness=-1)


def segment(frame: np.ndarray, points: tuple[Point, ...], box: Box | None,
            extent: float, iterations: int = 4) -> np.ndarray:
    """One GrabCut mask for the prompts; `extent` sets the region size when there is no box."""
    h, w = frame.shape[:2]
    positives = [p for p in points if p.positive]
    if box is not None:
        b = box.normalized()
        crop = Crop.around(b.x0, b.y0, b.x1, b.y1, 0.15, frame.shape)
    else:
        half = extent * max(h, w) / 2
        xs = [p.x for p in positives] or [p.x for p in points]
        ys = [p.y for p in positives] or [p.y for p in points]
        crop = Crop.around(min(xs) - half, min(ys) - half, max(xs) + half, max(ys) + half,
                           0.0, frame.shape)
    image = crop.image(frame)
    ww, wh = crop.work_size
    seeds = np.full((wh, ww), cv2.GC_PR_BGD, np.uint8)
    if box is not None:
        b = box.normalized()
        (bx0, by0), (bx1, by1) = crop.to_work(b.x0, b.y0), crop.to_work(b.x1, b.y1)
        seeds[:] = cv2.GC_BGD
        seeds[max(0, by0):by1 + 1, max(0, bx0):bx1 + 1] = cv2.GC_PR_FGD
    else:
        seeds[[0, -1], :] = cv2.GC_BGD
        seeds[:, [0, -1]] = cv2.GC_BGD
        for p in positives:
            _disc(seeds, *crop.to_work(p.x, p.y), max(wh, ww) // 6, cv2.GC_PR_FGD)
    radius = max(2, max(wh, ww) // 60)
    for p in points:
        value = cv2.GC_FGD if p.positive else cv2.GC_BGD
        _disc(seeds, *crop.to_work(p.x, p.y), radius, value)
    fg = run_grabcut(image, seeds, iterations)
    fg = keep_components(fg, [crop.to_work(p.x, p.y) for p in positives])
    return crop.paste(fg, frame.shape)


def region_contrast(frame: np.ndarray, mask: np.ndarray) -> float:
    """0..1: how different the mask's colours are from a ring around it (Bhattacharyya distance).

    A blob inside one textured object shares its ring's colours and scores low; a whole object
    against its background scores high, which is what ranking candidates needs.
    """
    if not mask.any() or mask.all():
        return 0.0
    ys, xs = np.nonzero(mask)
    width = max(3, int(0.15 * np.sqrt(ys.size)))
    y0, y1 = max(0, ys.min() - width), min(mask.shape[0], ys.max() + width + 1)
    x0, x1 = max(0, xs.min() - width), min(mask.shape[1], xs.max() + width + 1)
    sub = mask[y0:y1, x0:x1].astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    ring = (cv2.dilate(sub, kernel) > 0) & (sub == 0)
    if not ring.any():
        return 0.0
    part = np.ascontiguousarray(frame[y0:y1, x0:x1])
    bins, ranges = [8, 8, 8], [0, 256, 0, 256, 0, 256]
    inside = cv2.calcHist([part], [0, 1, 2], sub, bins, ranges)
    outside = cv2.calcHist([part], [0, 1, 2], ring.astype(np.uint8), bins, ranges)
    cv2.normalize(inside, inside, 1, 0, cv2.NORM_L1)
    cv2.normalize(outside, outside, 1, 0, cv2.NORM_L1)
    return float(cv2.compareHist(inside, outside, cv2.HISTCMP_BHATTACHARYYA))


def boundary_contrast(frame: np.ndarray, mask: np.ndarray) -> float:
    """0..1: how strongly the mask's boundary follows image edges (a label-free quality score)."""
    if not mask.any() or mask.all():
        return 0.0
    ys, xs = np.nonzero(mask)
    y0, y1 = max(0, ys.min() - 8), min(mask.shape[0], ys.max() + 9)
    x0, x1 = max(0, xs.min() - 8), min(mask.shape[1], xs.max() + 9)
    gray = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    sub = mask[y0:y1, x0:x1].astype(np.uint8)
    edge = cv2.morphologyEx(sub, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    ratio = float(grad[edge].mean() / (grad.mean() + 1e-6))
    return ratio / (1.0 + ratio)
