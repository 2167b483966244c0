"""A folder of images as a Video: natural file-name order, RGB uint8, one size for all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from annotator.core.errors import VideoError
from annotator.core.ports import VideoInfo
from annotator.core.types import FrameIndex

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key so that 2.png comes before 10.png (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", name.lower())
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts if p]


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, in natural order (hidden files skipped)."""
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: Path) -> np.ndarray:
    """One image as RGB uint8 HxWx3 (EXIF orientation applied, alpha dropped)."""
    data = np.fromfile(path, dtype=np.uint8)  # also works with non-ASCII paths
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise VideoError(f"cannot decode image {path}; remove it or re-save it as PNG/JPEG")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class ImageFolderVideo:
    """Frames are the images of a folder in natural order (implements VideoSource)."""

    def __init__(self, folder: str | Path, *, fps: float = 30.0) -> None:
        """List `folder` and read the first image for the size every frame must have."""
        self._folder = Path(folder)
        if not self._folder.is_dir():
            raise VideoError(f"image folder not found: {self._folder}; check the path")
        self._files = list_images(self._folder)
        if not self._files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise VideoError(f"{self._folder} holds no images ({suffixes}); pick another folder")
        first = read_image(self._files[0])
        self._info = VideoInfo(path=str(self._folder), width=first.shape[1],
                               height=first.shape[0], frame_count=len(self._files), fps=fps)

    @property
    def info(self) -> VideoInfo:
        """Size of the first image, image count, the fps given at open."""
        return self._info

    @property
    def files(self) -> list[Path]:
        """The image files, frame i is files[i]."""
        return list(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def frame(self, index: FrameIndex) -> np.ndarray:
        """Frame `index` as RGB uint8 HxWx3; every image must have the first one's size."""
        n = len(self._files)
        if not -n <= index < n:
            raise IndexError(f"frame {index} is out of range; {self._folder.name} has {n} images")
        path = self._files[index]
        rgb = read_image(path)
        if rgb.shape[:2] != (self._info.height, self._info.width):
            raise VideoError(
                f"{path.name} is {rgb.shape[1]}x{rgb.shape[0]} but {self._files[0].name} is "
                f"{self._info.width}x{self._info.height}; resize the images to one size"
            )
        return rgb

    def frames(self, start: FrameIndex = 0, stop: FrameIndex | None = None) -> Iterator[np.ndarray]:
        """Read images start..stop-1 in order."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop):
            yield self.frame(i)

    def close(self) -> None:
        """Nothing to release; kept for the VideoSource protocol."""

    def __enter__(self) -> ImageFolderVideo:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
