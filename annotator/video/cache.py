"""A bounded LRU of decoded frames in front of any VideoSource (design principle 7)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from types import TracebackType

import numpy as np

from annotator.core.ports import VideoInfo, VideoSource
from annotator.core.types import FrameIndex


class CachedVideo:
    """Keeps the `capacity` most recently used frames; memory is capacity x frame size.

    Cached frames are returned read-only, so one caller cannot change what another sees;
    copy a frame before drawing on it.
    """

    def __init__(self, source: VideoSource, capacity: int = 16) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._source = source
        self._capacity = capacity
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def source(self) -> VideoSource:
        """The wrapped video."""
        return self._source

    @property
    def capacity(self) -> int:
        """Most frames held at once."""
        return self._capacity

    @property
    def info(self) -> VideoInfo:
        """The wrapped video's info."""
        return self._source.info

    def __len__(self) -> int:
        return len(self._source)

    def cached(self) -> list[int]:
        """Indices held now, least recently used first."""
        with self._lock:
            return list(self._frames)

    def frame(self, index: FrameIndex) -> np.ndarray:
        """Frame `index` from the cache, decoding it on a miss."""
        n = len(self._source)
        if not -n <= index < n:
            raise IndexError(f"frame {index} is out of range; the video has {n} frames")
        index %= n
        with self._lock:
            rgb = self._frames.get(index)
            if rgb is not None:
                self._frames.move_to_end(index)
                self.hits += 1
                return rgb
        rgb = self._source.frame(index)
        self._remember(index, rgb)
        return rgb

    def frames(self, start: FrameIndex = 0, stop: FrameIndex | None = None) -> Iterator[np.ndarray]:
        """Frames start..stop-1 in order, through the cache."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop):
            yield self.frame(i)

    def clear(self) -> None:
        """Drop every cached frame."""
        with self._lock:
            self._frames.clear()

    def close(self) -> None:
        """Drop the cache and close the wrapped video."""
        self.clear()
        self._source.close()

    def __enter__(self) -> CachedVideo:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _remember(self, index: int, rgb: np.ndarray) -> None:
        rgb.flags.writeable = False
        with self._lock:
            self.misses += 1
            self._frames[index] = rgb
            self._frames.move_to_end(index)
            while len(self._frames) > self._capacity:
                self._frames.popitem(last=False)
