"""Simulated user clicks, as interactive segmentation papers evaluate (RITM / SAM / SAM 2).

The deterministic "center" click goes where a user would most likely click: the pixel deepest
inside the errors, i.e. the maximum of the Euclidean distance transform of the false-negative and
false-positive maps (RITM `Clicker`, SAM 2 `sample_one_point_from_error_center`). The maps are
zero-padded by one pixel so the image border counts as boundary. The click is positive iff the
deepest false negative is strictly deeper than the deepest false positive (a tie is negative), and
it sits at the first maximum in row-major order. Like RITM (unlike SAM 2) the simulator never
clicks the same pixel twice.
"""

from __future__ import annotations

import cv2
import numpy as np

from annotator.core.types import Box, Point


def distance_inside(region: np.ndarray, padding: bool = True) -> np.ndarray:
    """Exact L2 distance of each region pixel to the nearest pixel outside it (float32 HxW)."""
    src = np.asarray(region, dtype=np.uint8)
    if padding:
        src = np.pad(src, 1, mode="constant")
    dist = cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist[1:-1, 1:-1] if padding else dist


def error_maps(gt: np.ndarray, pred: np.ndarray | None, ignore: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """False-negative and false-positive boolean maps, ignore pixels removed from both."""
    gt = np.asarray(gt, dtype=bool)
    pred = np.zeros_like(gt) if pred is None else np.asarray(pred, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    keep = np.ones_like(gt) if ignore is None else ~np.asarray(ignore, dtype=bool)
    return gt & ~pred & keep, ~gt & pred & keep


def center_click(gt: np.ndarray, pred: np.ndarray | None, *, ignore: np.ndarray | None = None,
                 not_clicked: np.ndarray | None = None, padding: bool = True) -> Point | None:
    """The next deterministic click, or None when the prediction has no (clickable) error.

    With no prediction this is a positive click at the GT pixel farthest from its boundary.
    `not_clicked` (bool HxW, False where already clicked) keeps a pixel from being clicked twice.
    """
    fn, fp = error_maps(gt, pred, ignore)
    fn_dt = distance_inside(fn, padding)
    fp_dt = distance_inside(fp, padding)
    if not_clicked is not None:
        fn_dt *= not_clicked
        fp_dt *= not_clicked
    fn_at = int(np.argmax(fn_dt))
    fp_at = int(np.argmax(fp_dt))
    fn_max, fp_max = float(fn_dt.flat[fn_at]), float(fp_dt.flat[fp_at])
    if fn_max == 0 and fp_max == 0:
        return None
    positive = fn_max > fp_max
    y, x = divmod(fn_at if positive else fp_at, gt.shape[1])
    return Point(float(x), float(y), positive)


class ClickSimulator:
    """A simulated user for one Object on one Frame: each call looks at the current prediction."""

    def __init__(self, gt: np.ndarray, ignore: np.ndarray | None = None, padding: bool = True
                 ) -> None:
        self.gt = np.asarray(gt, dtype=bool)
        self.ignore = ignore
        self.padding = padding
        self._not_clicked = np.ones(self.gt.shape, dtype=np.float32)
        self.clicks: list[Point] = []

    def next_click(self, pred: np.ndarray | None) -> Point | None:
        """Record and return the next click against `pred`; None when nothing is left to fix."""
        point = center_click(self.gt, pred, ignore=self.ignore, not_clicked=self._not_clicked,
                             padding=self.padding)
        if point is not None:
            self._not_clicked[int(point.y), int(point.x)] = 0
            self.clicks.append(point)
        return point


def uniform_click(gt: np.ndarray, pred: np.ndarray | None, rng: np.random.Generator,
                  ignore: np.ndarray | None = None) -> Point | None:
    """A "noisy user" click (SAM 2 training): uniform over FN ∪ FP, positive iff in FN.

    With no error at all it clicks negative on the background, as SAM 2 does; None if there is none.
    """
    fn, fp = error_maps(gt, pred, ignore)
    candidates = fn | fp
    if not candidates.any():
        candidates = ~np.asarray(gt, dtype=bool)
        if ignore is not None:
            candidates &= ~np.asarray(ignore, dtype=bool)
    ys, xs = np.nonzero(candidates)
    if len(ys) == 0:
        return None
    i = int(rng.integers(len(ys)))
    return Point(float(xs[i]), float(ys[i]), bool(fn[ys[i], xs[i]]))


def noisy_box(gt: np.ndarray, rng: np.random.Generator, max_noise: float = 20.0,
              noise_frac: float = 0.1) -> Box | None:
    """The GT's bounding box with each corner jittered by ±min(0.1·side, 20 px), clamped (SAM 2)."""
    ys, xs = np.nonzero(np.asarray(gt, dtype=bool))
    if len(ys) == 0:
        return None
    h, w = np.shape(gt)
    x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    nx = min(noise_frac * (x1 - x0), max_noise)
    ny = min(noise_frac * (y1 - y0), max_noise)
    jitter = rng.uniform(-1.0, 1.0, size=4) * np.array([nx, ny, nx, ny])
    x0, y0, x1, y1 = np.array([x0, y0, x1, y1]) + jitter
    return Box(float(np.clip(x0, 0, w - 1)), float(np.clip(y0, 0, h - 1)),
               float(np.clip(x1, 0, w - 1)), float(np.clip(y1, 0, h - 1))).normalized()
