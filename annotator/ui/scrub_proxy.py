"""Builds (or finds) the scrub proxy of the shown video in the background and hands it to the
frame loader, so scrubbing a long-GOP video shows a frame at once and the exact one after.

The proxy lives in the user cache folder under the video's content hash: it is built once per
video, on a thread of its own with one encoder thread, and stopped when the video is closed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from annotator.core.errors import AnnotatorError, VideoError
from annotator.core.project import VideoRecord
from annotator.tools.videos import open_record
from annotator.ui.workers import FrameLoader
from annotator.video.proxy import ProxyStopped, ProxyVideo, build_proxy, needs_proxy, proxy_path

log = logging.getLogger(__name__)


class ProxyBuilder:
    """One video's proxy: found or built on a thread, then given to `loader`."""

    def __init__(self, video: VideoRecord, loader: FrameLoader) -> None:
        self.video, self.loader = video, loader
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scrub-proxy", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the proxy is found, built or known unneeded; False on timeout."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop building (nothing half-written is kept) and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        path = proxy_path(self.video.content_hash)
        try:
            proxy = self._open(path) if path.is_file() else None
            if proxy is None:  # none yet, or a stale one (deleted): build it
                source = open_record(self.video)
                try:
                    if not needs_proxy(source):
                        return
                    build_proxy(source, path, stop=self._stop.is_set, threads=1)
                finally:
                    source.close()
                proxy = self._open(path)
        except ProxyStopped:
            return
        except (AnnotatorError, OSError) as exc:
            log.warning("no scrub proxy for %s: %s", self.video.name, exc)
            return
        if proxy is None:
            return
        if self._stop.is_set():
            proxy.close()
            return
        self.loader.set_preview(proxy)

    def _open(self, path: Path) -> ProxyVideo | None:
        """The proxy at `path`, or None after deleting one that does not fit the video."""
        v = self.video
        try:
            return ProxyVideo(path, v.width, v.height, v.frame_count)
        except VideoError as exc:
            log.info("rebuilding the scrub proxy of %s: %s", v.name, exc)
            path.unlink(missing_ok=True)
            return None
