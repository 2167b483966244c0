"""Scrubbing a long-GOP video: the app builds a short-GOP proxy in the background, a far jump
shows the proxy frame at once and then the exact frame, and what models get (ctl.image) is
always the exact frame."""

from __future__ import annotations

import numpy as np

from annotator.video import PyAVVideo, write_video
from annotator.video.proxy import proxy_path
from tests.ui.conftest import finish_jobs, open_video
from tests.video.test_proxy import psnr, textured


def test_far_jump_shows_the_proxy_then_the_exact_frame(qtbot, window, tmp_path):
    w = window
    path = tmp_path / "long.mp4"
    write_video(path, textured(120), 30.0, gop=400, bframes=2)
    open_video(qtbot, w, path, tmp_path / "p.annotator")
    ctl = w.ctl
    qtbot.waitUntil(lambda: ctl.loader.preview is not None, timeout=20000)
    assert proxy_path(ctl.video.content_hash).is_file()
    events: list[tuple[str, int]] = []
    previews: list[np.ndarray] = []
    ctl.previewReady.connect(lambda i, image: (events.append(("preview", i)),
                                               previews.append(image)))
    ctl.imageReady.connect(lambda i: events.append(("exact", i)))
    ctl.set_frame(110)  # 110 decodes from the only key frame: the proxy frame comes first
    qtbot.waitUntil(lambda: ctl.image_index == 110, timeout=10000)
    assert events[:2] == [("preview", 110), ("exact", 110)]
    with PyAVVideo(path) as video:
        exact = video.frame(110)
    assert np.array_equal(ctl.image, exact)  # models see the exact frame
    assert psnr(previews[0], exact) > 30 and not np.array_equal(previews[0], exact)
    events.clear()
    ctl.set_frame(111)  # the next frame continues the decode: no proxy detour
    qtbot.waitUntil(lambda: ctl.image_index == 111, timeout=10000)
    assert events == [("exact", 111)]
    finish_jobs(qtbot, w)


def test_short_gop_video_gets_no_proxy(qtbot, window, tmp_path):
    w = window
    path = tmp_path / "short.mp4"
    write_video(path, textured(40), 30.0, gop=10)
    open_video(qtbot, w, path, tmp_path / "p.annotator")
    assert w.ctl.proxy.wait(timeout=10)
    assert w.ctl.loader.preview is None
    assert not proxy_path(w.ctl.video.content_hash).exists()


def test_a_proxy_that_does_not_fit_is_rebuilt(qtbot, window, tmp_path):
    w = window
    path = tmp_path / "long.mp4"
    write_video(path, textured(60), 30.0, gop=400)
    open_video(qtbot, w, path, tmp_path / "p.annotator")
    assert w.ctl.proxy.wait(timeout=20)
    proxy = proxy_path(w.ctl.video.content_hash)
    write_video(proxy, textured(10), 30.0, gop=4)  # a stale proxy: 10 frames, not 60
    w.ctl.select_video(w.ctl.video.id)  # reopen the video: the bad proxy is replaced
    assert w.ctl.proxy.wait(timeout=20) and w.ctl.loader.preview is not None
    assert len(w.ctl.loader.preview) == 60
