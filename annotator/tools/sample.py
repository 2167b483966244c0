"""The built-in sample: a short synthetic scene rendered on first run (nothing is shipped).

Two textured objects move over a textured background; `SAMPLE_BOX` frames the ball on frame 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from platformdirs import user_cache_dir

from annotator.core.types import Box
from annotator.video import write_video

SIZE = (640, 360)
FRAMES = 90
FPS = 30.0
SAMPLE_BOX = Box(70, 130, 170, 230)
"""A box around the red ball on frame 0 (its centre starts at (120, 180), radius 45)."""


def _background(rng: np.random.Generator) -> np.ndarray:
    w, h = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([60 + 40 * xx / w, 90 + 50 * yy / h, 120 - 30 * xx / w], axis=-1)
    tiles = ((xx // 40 + yy // 40) % 2)[..., None] * 18.0
    noise = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 3)
    return np.clip(base + tiles + noise, 0, 255).astype(np.uint8)


def render(frame_count: int = FRAMES, seed: int = 7) -> Iterator[np.ndarray]:
    """The sample's frames: a striped red ball rolling right, a green box drifting left."""
    rng = np.random.default_rng(seed)
    background = _background(rng)
    w, h = SIZE
    stripes = (np.indices((h, w)).sum(axis=0) // 8 % 2).astype(bool)
    for t in range(frame_count):
        frame = background.copy()
        x0, y0 = int(520 - 3.0 * t), int(90 + 40 * np.sin(t / 15))
        box = np.zeros((h, w), np.uint8)
        cv2.rectangle(box, (x0, y0), (x0 + 80, y0 + 60), 1, -1)
        frame[box > 0] = np.where(stripes[box > 0, None], [40, 200, 60], [20, 140, 40])
        cx, cy = int(120 + 4.0 * t), int(180 + 30 * np.sin(t / 10))
        ball = np.zeros((h, w), np.uint8)
        cv2.circle(ball, (cx, cy), 45, 1, -1)
        frame[ball > 0] = np.where(stripes[ball > 0, None], [220, 40, 40], [160, 20, 30])
        yield frame


def sample_video(folder: str | Path | None = None) -> Path:
    """Path of the sample video, rendering it on first use into the user cache folder."""
    folder = Path(folder or user_cache_dir("annotator")) / "sample"
    path = folder / "sample.mp4"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / "sample.part.mp4"
        write_video(part, render(), FPS)
        part.replace(path)
    return path
