"""Masks -> one premultiplied ARGB image per frame (numpy only), cached per frame.

One image per frame instead of one scene item per region keeps painting cost flat in the number
of Objects: the view draws the frame and this single layer.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import cv2
import numpy as np

from annotator.core.masks import MaskRLE

RGB = tuple[int, int, int]
Layer = tuple[np.ndarray, RGB]
"""A boolean HxW mask and its display colour."""
RLELayer = tuple[MaskRLE, RGB]
"""A stored mask (COCO RLE) and its display colour."""
StyledLayer = tuple[MaskRLE, RGB, bool]
"""A stored mask, its colour, and whether it is drawn faint (a Proposal)."""

FILL_ALPHA = 0.45
EDGE_ALPHA = 1.0
PROPOSAL_SHARE = 0.4
"""Proposals are filled at this share of the normal opacity."""
DASH = 4
MANY_RUNS = 4000
"""Above this many runs a mask is painted with one vectorised pass instead of run by run."""


class OverlayMode(enum.StrEnum):
    """How masks are drawn over the frame."""

    FILL = "fill"
    OUTLINE = "outline"
    OFF = "off"

    def next(self) -> OverlayMode:
        """The mode after this one (the overlay key cycles through them)."""
        modes = list(OverlayMode)
        return modes[(modes.index(self) + 1) % len(modes)]


def hex_rgb(color: str) -> RGB:
    """'#rrggbb' -> (r, g, b)."""
    text = color.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def premultiplied(rgb: RGB, alpha: float) -> int:
    """One ARGB32-premultiplied pixel as the uint32 Qt's Format_ARGB32_Premultiplied reads."""
    a = round(255 * alpha)
    r, g, b = (round(c * a / 255) for c in rgb)
    return (a << 24) | (r << 16) | (g << 8) | b


def edges(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """The inner boundary band of a mask, `width` pixels wide."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    inner = cv2.erode(mask.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return mask & (inner == 0)


def compose(layers: Sequence[Layer], shape: tuple[int, int], mode: OverlayMode,
            alpha: float = FILL_ALPHA) -> np.ndarray:
    """HxW uint32 ARGB32-premultiplied image; later layers are drawn on top of earlier ones.

    Each pixel gets an index into a colour table (one label image), so the cost is one pass per
    mask plus a single lookup, whatever the number of Objects.
    """
    h, w = shape
    if mode == OverlayMode.OFF or not layers:
        return np.zeros((h, w), np.uint32)
    n = len(layers)
    ids = np.zeros((h, w), np.uint16 if 2 * n >= 255 else np.uint8)
    table = np.zeros(2 * n + 1, np.uint32)
    for k, (mask, rgb) in enumerate(layers, start=1):
        table[k] = premultiplied(rgb, alpha) if mode == OverlayMode.FILL else 0
        table[n + k] = premultiplied(rgb, EDGE_ALPHA)
        if mode == OverlayMode.FILL:
            ids[mask] = k
        ids[edges(mask)] = n + k
    return table[ids]


def rle_counts(rle: MaskRLE) -> np.ndarray:
    """Run lengths of a compressed COCO RLE (column-major, background run first).

    Decoding the runs instead of the whole bitmap lets the overlay paint only the masked
    columns: cost follows the mask's outline, not the frame size. Vectorised form of
    pycocotools' string decoder: 5 bits per char, 0x20 = more chars follow, 0x10 on the last
    char = negative, and from the fourth value on each is a delta to the value two before.
    """
    c = np.frombuffer(rle.counts, np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, np.int64)
    last = (c & 0x20) == 0
    ends = np.flatnonzero(last)
    group = np.concatenate([[0], np.cumsum(last[:-1])])
    starts = np.concatenate([[0], ends[:-1] + 1])
    shift = 5 * (np.arange(c.size) - starts[group])
    values = np.zeros(ends.size, np.int64)
    np.add.at(values, group, (c & 0x1F) << shift)
    negative = (c[ends] & 0x10) != 0
    values[negative] |= -1 << (shift[ends][negative] + 5)
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values


def compose_rles(layers: Sequence[RLELayer], shape: tuple[int, int], mode: OverlayMode,
                 alpha: float = FILL_ALPHA, faint: Sequence[bool] = ()) -> np.ndarray:
    """Like `compose`, straight from RLEs: runs are painted into a column-major canvas.

    Fill colours go in run by run; outlines are found per object inside its bounding box only.
    Layers flagged in `faint` (Proposals not yet accepted) get a lighter fill and a dashed edge.
    """
    h, w = shape
    if mode == OverlayMode.OFF or not layers:
        return np.zeros((h, w), np.uint32)
    canvas_t = np.zeros((w, h), np.uint32)  # (x, y): C order here is column-major in (y, x)
    flat = canvas_t.reshape(-1)
    boxes = []
    for k, (rle, rgb) in enumerate(layers):
        light = k < len(faint) and faint[k]
        fill = premultiplied(rgb, alpha * PROPOSAL_SHARE if light else alpha)
        mark = np.uint32(k + 1 if mode == OverlayMode.OUTLINE else fill)
        counts = rle_counts(rle)
        ends = np.cumsum(counts)
        starts = ends - counts
        if len(counts) > MANY_RUNS:  # speckled mask: one vectorised pass beats a run loop
            flat[np.repeat(np.arange(len(counts)) % 2 == 1, counts)] = mark
        else:
            for a, b in zip(starts[1::2].tolist(), ends[1::2].tolist(), strict=True):
                flat[a:b] = mark
        if len(counts) > 1:
            boxes.append((mark, premultiplied(rgb, EDGE_ALPHA), int(starts[1]) // h,
                          int(ends[-1] - 1 if len(counts) % 2 == 0 else ends[-2] - 1) // h,
                          light))
    for mark, edge, x0, x1, light in boxes:
        block = canvas_t[x0:x1 + 1]
        inside = block == mark
        band = edges(np.ascontiguousarray(inside))
        if light:
            band &= dashes(x0, block.shape)
        if mode == OverlayMode.OUTLINE:
            block[inside] = 0
        block[band] = edge
    return np.ascontiguousarray(canvas_t.T)


def dashes(x0: int, shape: tuple[int, int]) -> np.ndarray:
    """A diagonal on/off pattern (DASH pixels each) over a transposed block starting at x0."""
    xx, yy = np.ogrid[x0:x0 + shape[0], 0:shape[1]]
    return ((xx + yy) // DASH) % 2 == 0


class FrameOverlays:
    """LRU of composed overlay images by frame, rebuilt on demand after an invalidation."""

    def __init__(self, build: Callable[[int], tuple[list[Any], tuple[int, int]]],
                 capacity: int = 48) -> None:
        """`build(frame)` gives the frame's layers, (rle, rgb) or (rle, rgb, faint), and its
        shape."""
        self._build = build
        self._capacity = capacity
        self._images: OrderedDict[int, np.ndarray] = OrderedDict()
        self.mode = OverlayMode.FILL
        self.builds = 0

    def image(self, frame: int) -> np.ndarray:
        """The overlay of `frame` (uint32 HxW), composed on first use."""
        image = self._images.get(frame)
        if image is None:
            layers, shape = self._build(frame)
            faint = [len(layer) > 2 and bool(layer[2]) for layer in layers]
            image = compose_rles([(layer[0], layer[1]) for layer in layers], shape, self.mode,
                                 faint=faint)
            self.builds += 1
            self._images[frame] = image
            while len(self._images) > self._capacity:
                self._images.popitem(last=False)
        else:
            self._images.move_to_end(frame)
        return image

    def set_mode(self, mode: OverlayMode) -> None:
        """Change the drawing mode (drops every cached image)."""
        self.mode = mode
        self.invalidate()

    def invalidate(self, frames: Iterable[int] | None = None) -> None:
        """Forget the images of these frames (all when None)."""
        if frames is None:
            self._images.clear()
            return
        for frame in frames:
            self._images.pop(frame, None)

    def cached(self) -> list[int]:
        """Frames whose image is held, least recently used first."""
        return list(self._images)
