"""Scrub proxies: a short-GOP copy of a long-GOP video, shown while scrubbing.

An exact seek decodes from the key frame before the target, and real clips often have a key
frame only every 250 frames (or one in all), so a random seek costs hundreds of milliseconds.
A proxy re-encodes the frames with a key frame every PROXY_GOP frames and no B-frames (long
side at most PROXY_LONG_SIDE), so any proxy frame is a few decodes away. It is only ever
shown: the exact frame replaces it once decoded, and models never see proxy pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from platformdirs import user_cache_dir

from annotator.core.errors import VideoError
from annotator.core.ports import VideoSource
from annotator.video.pyav import PyAVVideo
from annotator.video.writer import write_video

PROXY_GOP = 8
PROXY_LONG_SIDE = 1280
LONG_GOP = 30
"""A video whose longest GOP exceeds this gets a proxy (a seek decodes up to that many)."""
ENV_CACHE = "ANNOTATOR_CACHE"


class ProxyStopped(Exception):
    """Building a proxy was stopped (the video was closed)."""


def needs_proxy(source: VideoSource) -> bool:
    """Whether seeking in `source` is slow enough to want a proxy (long-GOP files)."""
    inner = getattr(source, "source", source)
    return isinstance(inner, PyAVVideo) and inner.longest_gop() > LONG_GOP


def proxy_path(content_hash: str) -> Path:
    """Where the proxy of a video with this content hash lives (the user cache folder)."""
    root = os.environ.get(ENV_CACHE) or user_cache_dir("annotator")
    return Path(root) / "proxies" / f"{content_hash}.mp4"


def proxy_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) of the proxy: long side at most PROXY_LONG_SIDE, even numbers."""
    scale = min(1.0, PROXY_LONG_SIDE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def build_proxy(source: VideoSource, path: str | Path,
                stop: Callable[[], bool] = lambda: False, threads: int = 0) -> Path:
    """Encode the proxy of `source` to `path` (written aside, then renamed: a killed build
    leaves no proxy). Raises ProxyStopped when `stop()` turns true. `threads`: encoder threads
    (0: its own choice; the app uses 1 so a core stays free for the user)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part.mp4")
    info = source.info
    size = proxy_size(info.width, info.height)

    def frames() -> Iterator[np.ndarray]:
        for frame in source.frames():
            if stop():
                raise ProxyStopped
            same = (frame.shape[1], frame.shape[0]) == size
            yield frame if same else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    try:
        count = write_video(part, frames(), info.fps or 30.0, crf=20, gop=PROXY_GOP, bframes=0,
                            threads=threads)
        if count != len(source):
            raise VideoError(f"proxy of {count} frames for a video of {len(source)}")
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return path


class ProxyVideo:
    """A proxy's frames at the original video's size (for display only)."""

    def __init__(self, path: str | Path, width: int, height: int, frames: int) -> None:
        self._video = PyAVVideo(path)
        if len(self._video) != frames:
            self._video.close()
            raise VideoError(f"proxy {path} has {len(self._video)} frames, not {frames}: "
                             "delete it to rebuild")
        self._size = (width, height)

    def __len__(self) -> int:
        return len(self._video)

    def frame(self, index: int) -> np.ndarray:
        rgb = self._video.frame(index)
        if (rgb.shape[1], rgb.shape[0]) == self._size:
            return rgb
        return cv2.resize(rgb, self._size, interpolation=cv2.INTER_LINEAR)

    def close(self) -> None:
        self._video.close()
