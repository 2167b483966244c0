"""The PyAV writer: codec choice per container, size checks, rotation metadata."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from annotator.core.errors import VideoError
from annotator.video import write_video
from annotator.video.writer import pick_codec


def test_codec_choice_follows_the_container() -> None:
    assert pick_codec("a.avi") == "mpeg4"
    assert pick_codec("a.mp4") == ("libx264" if "libx264" in av.codecs_available else "mpeg4")
    if "libvpx-vp9" in av.codecs_available:
        assert pick_codec("a.webm") == "libvpx-vp9"
    with pytest.raises(VideoError, match="not in this PyAV build"):
        pick_codec("a.webm", "no-such-encoder")


def test_writes_the_frames_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    frames = [np.full((16, 24, 3), v, np.uint8) for v in (0, 128, 255)]
    assert write_video(path, frames, 29.97) == 3
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (24, 16)
        assert abs(float(stream.average_rate) - 29.97) < 0.01
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert [int(np.median(f)) for f in decoded] == pytest.approx([0, 128, 255], abs=3)


@pytest.mark.parametrize(("shape", "match"), [
    ((15, 16, 3), "odd"), ((16, 16), "RGB uint8"), ((16, 16, 4), "RGB uint8"),
])
def test_bad_frames(tmp_path: Path, shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(VideoError, match=match):
        write_video(tmp_path / "bad.mp4", [np.zeros(shape, np.uint8)], 10)


def test_frames_of_different_sizes(tmp_path: Path) -> None:
    frames = [np.zeros((16, 16, 3), np.uint8), np.zeros((16, 32, 3), np.uint8)]
    with pytest.raises(VideoError, match="one size"):
        write_video(tmp_path / "bad.mp4", frames, 10)


def test_rotation_is_stored_as_display_matrix(tmp_path: Path) -> None:
    path = tmp_path / "rot.mp4"
    write_video(path, [np.zeros((16, 32, 3), np.uint8)] * 2, 10, rotation=90)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == -90  # PyAV reports counter-clockwise degrees
    with pytest.raises(VideoError, match="multiple of 90"):
        write_video(tmp_path / "bad.mp4", [np.zeros((16, 32, 3), np.uint8)], 10, rotation=45)
