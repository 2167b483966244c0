"""Scrub proxies: a long-GOP video gets a short-GOP copy whose frames match the original's
closely (display only), built aside and renamed, stoppable, and rejected when it does not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotator.core.errors import VideoError
from annotator.video import CachedVideo, PyAVVideo, write_video
from annotator.video.proxy import (
    PROXY_GOP,
    ProxyStopped,
    ProxyVideo,
    build_proxy,
    needs_proxy,
    proxy_path,
    proxy_size,
)


def textured(count: int, size: tuple[int, int] = (160, 96)) -> list[np.ndarray]:
    """Smooth moving gradients: compress well, and any frame differs from its neighbours."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    return [np.stack([(xx * 2 + 5 * t) % 256, (yy * 3 + 2 * t) % 256,
                      ((xx + yy) + 7 * t) % 256], -1).astype(np.uint8) for t in range(count)]


@pytest.fixture
def long_gop(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    frames = textured(90)
    path = tmp_path / "long.mp4"
    write_video(path, frames, 30.0, gop=300, bframes=2)
    return path, frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_long_gop_video_gets_a_close_short_gop_proxy(long_gop, tmp_path):
    path, _ = long_gop
    with PyAVVideo(path) as video:
        assert video.longest_gop() == 90 and needs_proxy(CachedVideo(video))
        assert video.decode_cost(80) > 80  # from the only key frame
        out = build_proxy(video, tmp_path / "cache" / "abc.mp4")
        exact = [video.frame(i) for i in (0, 45, 89)]
    assert out.is_file() and not list(out.parent.glob("*.part*"))
    with PyAVVideo(out) as proxy_file:
        assert len(proxy_file) == 90 and proxy_file.longest_gop() <= PROXY_GOP
        assert not needs_proxy(proxy_file)
        proxy_file.frame(10)
        assert proxy_file.decode_cost(11) == 1  # the next frame continues the decode
    proxy = ProxyVideo(out, 160, 96, 90)
    for i, frame in zip((0, 45, 89), exact, strict=True):
        shown = proxy.frame(i)
        assert shown.shape == frame.shape and psnr(shown, frame) > 30
    assert psnr(proxy.frame(45), exact[0]) < psnr(proxy.frame(45), exact[1])  # the right frame
    proxy.close()


def test_stopping_leaves_no_proxy_and_a_wrong_one_is_refused(long_gop, tmp_path):
    path, _ = long_gop
    target = tmp_path / "p.mp4"
    calls = iter(range(1000))
    with PyAVVideo(path) as video, pytest.raises(ProxyStopped):
        build_proxy(video, target, stop=lambda: next(calls) > 20)
    assert not target.exists() and not list(tmp_path.glob("*.part*"))
    with PyAVVideo(path) as video:
        build_proxy(video, target)
    with pytest.raises(VideoError, match="delete it to rebuild"):
        ProxyVideo(target, 160, 96, 91)


def test_large_frames_are_scaled_and_shown_at_full_size(tmp_path, monkeypatch):
    assert proxy_size(3840, 2160) == (1280, 720)
    assert proxy_size(1279, 719) == (1280, 720)  # even sizes, never larger than needed + 1
    assert proxy_size(640, 480) == (640, 480)
    monkeypatch.setenv("ANNOTATOR_CACHE", str(tmp_path))
    assert proxy_path("h1") == tmp_path / "proxies" / "h1.mp4"
    frames = textured(12, (2600, 64))
    path = tmp_path / "wide.mp4"
    write_video(path, frames, 10.0, gop=100)
    with PyAVVideo(path) as video:
        out = build_proxy(video, tmp_path / "wide_proxy.mp4")
    with PyAVVideo(out) as small:
        assert (small.info.width, small.info.height) == proxy_size(2600, 64)
    proxy = ProxyVideo(out, 2600, 64, 12)
    assert proxy.frame(5).shape == (64, 2600, 3)
    proxy.close()
