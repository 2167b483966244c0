"""Adding a Video to a Project: open it, fingerprint it, record it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from annotator.core.ports import VideoSource
from annotator.core.project import VideoRecord
from annotator.store import ProjectStore
from annotator.video import open_video

CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """sha256 over size, first and last MiB of a file (or a folder's file names and sizes).

    Cheap on long videos, and enough to find a moved or renamed file again.
    """
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(path.iterdir()):
            digest.update(f"{item.name}:{item.stat().st_size};".encode())
        return digest.hexdigest()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(CHUNK))
        if size > CHUNK:
            f.seek(max(CHUNK, size - CHUNK))
            digest.update(f.read(CHUNK))
    return digest.hexdigest()


def add_video(store: ProjectStore, path: str | Path) -> tuple[VideoRecord, VideoSource]:
    """Open a video (raising a clear VideoError if it is not one) and add it to the project."""
    source = open_video(path)
    info = source.info
    record = store.add_video(
        str(Path(path).resolve()),
        Path(path).stem,
        content_hash(path),
        len(source),
        info.fps,
        info.width,
        info.height,
    )
    return record, source


def open_record(record: VideoRecord) -> VideoSource:
    """Open a project's Video from its stored path."""
    return open_video(record.path)
