"""Video adapters: frame-exact file reader (PyAV), image folders, a frame LRU, a writer."""

from __future__ import annotations

from pathlib import Path

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
