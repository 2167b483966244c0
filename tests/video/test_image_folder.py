"""Image folders as Videos: natural order, RGB, one size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.core.errors import VideoError
from annotator.core.ports import VideoSource
from annotator.video import ImageFolderVideo, natural_key, open_video


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def gray(value: int, size: tuple[int, int] = (12, 16)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def test_natural_sort_and_values(tmp_path: Path) -> None:
    for name, value in [("10.png", 100), ("2.png", 20), ("1.png", 10), ("frame_3.bmp", 30)]:
        write_rgb(tmp_path / name, gray(value))
    (tmp_path / "notes.txt").write_text("not an image")
    video = open_video(tmp_path)
    assert isinstance(video, ImageFolderVideo)
    assert isinstance(video, VideoSource)
    assert [p.name for p in video.files] == ["1.png", "2.png", "10.png", "frame_3.bmp"]
    assert [int(f[0, 0, 0]) for f in video.frames()] == [10, 20, 100, 30]
    assert (len(video), video.info.width, video.info.height) == (4, 16, 12)


def test_natural_key_orders_digit_runs_as_numbers() -> None:
    names = ["img10.jpg", "img9.jpg", "Img1.jpg", "img100.jpg", "a.jpg"]
    assert sorted(names, key=natural_key) == ["a.jpg", "Img1.jpg", "img9.jpg", "img10.jpg",
                                              "img100.jpg"]


def test_frames_are_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200  # red
    write_rgb(tmp_path / "0.png", rgb)
    frame = ImageFolderVideo(tmp_path).frame(0)
    assert frame.dtype == np.uint8
    assert frame.flags.c_contiguous
    assert frame[0, 0].tolist() == [200, 0, 0]


def test_size_mismatch_names_the_file(tmp_path: Path) -> None:
    write_rgb(tmp_path / "1.png", gray(10))
    write_rgb(tmp_path / "2.png", gray(10, (10, 10)))
    video = ImageFolderVideo(tmp_path)
    video.frame(0)
    with pytest.raises(VideoError, match=r"2\.png is 10x10 .* resize"):
        video.frame(1)


def test_empty_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="holds no images"):
        ImageFolderVideo(tmp_path)
    with pytest.raises(VideoError, match="not found"):
        ImageFolderVideo(tmp_path / "missing")


def test_unreadable_image_and_range(tmp_path: Path) -> None:
    write_rgb(tmp_path / "1.png", gray(10))
    (tmp_path / "2.jpg").write_bytes(b"not a jpeg")
    with ImageFolderVideo(tmp_path) as video:
        with pytest.raises(VideoError, match="cannot decode image"):
            video.frame(1)
        with pytest.raises(IndexError):
            video.frame(2)
