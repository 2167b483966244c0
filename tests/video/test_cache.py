"""The frame LRU keeps at most `capacity` frames and serves repeats without decoding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from annotator.core.ports import VideoInfo, VideoSource
from annotator.video import CachedVideo, PyAVVideo, write_video


class CountingSource:
    """An in-memory VideoSource that counts decodes."""

    def __init__(self, n: int) -> None:
        self.decodes: list[int] = []
        self.closed = False
        self._n = n

    @property
    def info(self) -> VideoInfo:
        return VideoInfo(path="mem", width=4, height=2, frame_count=self._n, fps=1.0)

    def __len__(self) -> int:
        return self._n

    def frame(self, index: int) -> np.ndarray:
        self.decodes.append(index)
        return np.full((2, 4, 3), index, np.uint8)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        for i in range(start, self._n if stop is None else stop):
            yield self.frame(i)

    def close(self) -> None:
        self.closed = True


def test_lru_is_bounded_and_evicts_least_recently_used() -> None:
    source = CountingSource(100)
    cache = CachedVideo(source, capacity=3)
    assert isinstance(cache, VideoSource)
    for i in (0, 1, 2, 0, 3):  # 0 is used again before 3 arrives, so 1 is evicted
        assert int(cache.frame(i)[0, 0, 0]) == i
    assert cache.cached() == [2, 0, 3]
    assert source.decodes == [0, 1, 2, 3]
    assert (cache.hits, cache.misses) == (1, 4)
    cache.frame(1)
    assert source.decodes[-1] == 1
    for i in range(50):
        cache.frame(i)
    assert len(cache.cached()) == 3


def test_cached_frames_are_read_only_and_shared() -> None:
    cache = CachedVideo(CountingSource(5), capacity=2)
    first = cache.frame(4)
    assert cache.frame(-1) is first
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0, 0] = 9


def test_close_and_errors() -> None:
    source = CountingSource(5)
    with CachedVideo(source, capacity=2) as cache:
        assert [int(f[0, 0, 0]) for f in cache.frames(3)] == [3, 4]
        with pytest.raises(IndexError):
            cache.frame(5)
    assert source.closed
    assert cache.cached() == []
    with pytest.raises(ValueError, match="capacity"):
        CachedVideo(source, capacity=0)


def test_wraps_a_real_video(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, (np.full((16, 16, 3), 16 * i, np.uint8) for i in range(8)), 10)
    with CachedVideo(PyAVVideo(path), capacity=4) as cache:
        a = cache.frame(6)
        assert cache.frame(6) is a
        assert cache.info.frame_count == len(cache) == 8
