"""Video adapters: frame-exact file reader (PyAV), image folders, a frame LRU, a writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annotator.core.errors import VideoError
from annotator.core.ports import VideoInfo, VideoSource
from annotator.video.cache import CachedVideo
from annotator.video.image_folder import IMAGE_SUFFIXES, ImageFolderVideo, natural_key
from annotator.video.pyav import PyAVVideo, StreamIndex
from annotator.video.writer import write_video

__all__ = [
    "IMAGE_SUFFIXES",
    "CachedVideo",
    "ImageFolderVideo",
    "PyAVVideo",
    "StreamIndex",
    "VideoError",
    "VideoInfo",
    "VideoSource",
    "frame_times",
    "natural_key",
    "open_video",
    "write_video",
]


def open_video(path: str | Path) -> PyAVVideo | ImageFolderVideo:
    """Open a Video: a folder is read as images in natural order, a file through PyAV."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"video not found: {path}; check the path")
    if path.is_dir():
        return ImageFolderVideo(path)
    return PyAVVideo(path)


def frame_times(source: object) -> np.ndarray:
    """Presentation times (s) of a Video's frames: the stream's own for files, frame / fps else."""
    inner = getattr(source, "source", source)  # a CachedVideo wraps the reader
    if isinstance(inner, PyAVVideo):
        return inner.frame_times()
    info = inner.info  # type: ignore[attr-defined]
    return np.arange(len(inner), dtype=np.float64) / (info.fps or 30.0)  # type: ignore[arg-type]
