"""Synthetic data for tests: small videos with known moving objects."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from annotator.video import write_video


def square_frames(count: int = 12, size: tuple[int, int] = (96, 64), side: int = 20,
                  step: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a red square moving right over a grey gradient, and its true masks."""
    w, h = size
    gradient = np.tile(np.linspace(60, 160, w, dtype=np.uint8)[None, :, None], (h, 1, 3))
    frames, masks = [], []
    for t in range(count):
        frame = gradient.copy()
        mask = np.zeros((h, w), bool)
        x0, y0 = 10 + step * t, (h - side) // 2
        mask[y0:y0 + side, x0:x0 + side] = True
        frame[mask] = (220, 30, 30)
        frames.append(frame)
        masks.append(mask)
    return frames, masks


def square_video(folder: Path, count: int = 12, size: tuple[int, int] = (96, 64),
                 name: str = "square.mp4") -> tuple[Path, list[np.ndarray]]:
    """An mp4 of `square_frames` in `folder`; returns its path and the true masks."""
    frames, masks = square_frames(count, size)
    path = folder / name
    write_video(path, frames, 10.0)
    return path, masks


def disc(shape: tuple[int, int], cx: int, cy: int, r: int) -> np.ndarray:
    """A filled circle mask."""
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, (cx, cy), r, 1, -1)
    return m.astype(bool)
