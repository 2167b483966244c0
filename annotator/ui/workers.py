"""Background work: a one-job-at-a-time lane over superqt workers, and a frame loader thread.

Nothing slow runs on the GUI thread: model calls, propagation and export go through a `JobLane`
(a superqt generator/function worker, cancelled at its next yield); frame decoding goes through
the `FrameLoader`, which always serves the newest request first and prefetches what follows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import GeneratorWorker, create_worker

from annotator.video import CachedVideo
from annotator.video.proxy import ProxyVideo

log = logging.getLogger(__name__)

PREVIEW_COST = 12
"""Show the scrub proxy's frame first when the exact one needs more decodes than this."""
SETTLE_S = 0.15
"""After a proxy frame, wait this long for the next request before the slow exact decode."""


@dataclass
class _Job:
    """A job waiting for the lane: what to run and its GUI-thread callbacks."""

    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...]
    callbacks: dict[str, Callable[..., None] | None]
    background: bool = False


class JobLane(QObject):
    """Runs at most one job at a time, reporting progress; `start` refuses while busy.

    Background jobs (embeddings ahead, hover previews) give way to the user: a foreground job
    asked for while one runs cancels it at its next yield and starts as soon as it stops, so a
    user action never waits for more than the step under way. A background job is refused
    while anything runs.
    """

    busyChanged = Signal(bool)
    progress = Signal(str, int, int)
    """name, done, total"""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._worker: Any = None
        self.job = ""
        self.background = False
        self._queued: _Job | None = None
        self._drop_queued = False

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._worker is not None

    @property
    def foreground(self) -> str:
        """The user's job running or waiting to start ('' when only background work runs)."""
        if self._queued is not None:
            return self._queued.name
        return self.job if self.busy and not self.background else ""

    @property
    def occupied(self) -> bool:
        """Whether a user's job runs or waits (background work does not count)."""
        return bool(self.foreground)

    def start(self, job: str, func: Callable[..., Any], *args: Any, background: bool = False,
              on_yield: Callable[[Any], None] | None = None,
              on_return: Callable[[Any], None] | None = None,
              on_error: Callable[[Exception], None] | None = None,
              on_finish: Callable[[bool], None] | None = None) -> bool:
        """Run `func(*args)` (a generator function yields progress) in a worker thread.

        Callbacks run on the GUI thread; `on_finish(aborted)` runs last, also after an error.
        Returns False when refused (the lane holds a user's job, or this is background work
        and anything runs).
        """
        spec = _Job(job, func, args, {"yield": on_yield, "return": on_return,
                                      "error": on_error, "finish": on_finish}, background)
        if not self.busy:
            self._run(spec)
            return True
        if background or not self.background or self._queued is not None:
            return False
        self._queued, self._drop_queued = spec, False
        self._quit()
        return True

    def cancel(self) -> None:
        """Ask the running generator job to stop at its next yield (finished frames are kept);
        a job waiting to start stops at once (its `on_finish` still runs)."""
        if self._queued is not None:
            self._drop_queued = True
        self._quit()

    def cancel_background(self) -> None:
        """Stop background work at its next yield; a user's job is left alone."""
        if self.busy and self.background:
            self._quit()

    def _quit(self) -> None:
        if isinstance(self._worker, GeneratorWorker):
            self._worker.quit()

    def _run(self, spec: _Job, quit_at_once: bool = False) -> None:
        # errors go to on_error (or the log) only: superqt would also re-raise them into the
        # event loop when no handler is given at creation
        worker = create_worker(spec.func, *spec.args, _start_thread=False, _ignore_errors=True)
        state = {"aborted": False}
        cb = spec.callbacks
        if cb["yield"] is not None and isinstance(worker, GeneratorWorker):
            worker.yielded.connect(cb["yield"])
        if cb["return"] is not None:
            worker.returned.connect(cb["return"])
        worker.errored.connect(cb["error"] or (lambda exc: log.error(
            "%s failed", spec.name, exc_info=(type(exc), exc, exc.__traceback__))))
        if isinstance(worker, GeneratorWorker):
            worker.aborted.connect(lambda: state.update(aborted=True))
            if quit_at_once:
                worker.quit()
        worker.finished.connect(lambda: self._finished(cb["finish"], state["aborted"]))
        self._worker = worker
        self.job, self.background = spec.name, spec.background
        self.busyChanged.emit(True)
        worker.start()

    def _finished(self, on_finish: Callable[[bool], None] | None, aborted: bool) -> None:
        self._worker = None
        self.job, self.background = "", False
        queued, self._queued = self._queued, None
        if queued is not None:
            self._run(queued, self._drop_queued)
        try:
            if on_finish is not None:
                on_finish(aborted)
        finally:
            if queued is None:
                self.busyChanged.emit(False)


class FrameLoader(QObject):
    """Decodes frames on its own thread: the newest request first, then prefetch forward."""

    loaded = Signal(int, object)
    """index, RGB uint8 frame"""
    previewed = Signal(int, object)
    """index, the frame from the scrub proxy (display only), ahead of a slow exact decode"""

    def __init__(self, video: CachedVideo, prefetch: int = 6) -> None:
        super().__init__()
        self.video = video
        self.preview: ProxyVideo | None = None
        self._prefetch = prefetch
        self._cond = threading.Condition()
        self._wanted: int | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="frame-loader", daemon=True)
        self._thread.start()

    def cached(self, index: int) -> np.ndarray | None:
        """The frame if it is already decoded (never decodes on the calling thread)."""
        if index in self.video.cached():
            try:
                return self.video.frame(index)
            except IndexError:
                return None
        return None

    def request(self, index: int) -> None:
        """Decode `index` soon; a newer request replaces an older one not yet started."""
        with self._cond:
            self._wanted = index
            self._cond.notify()

    def close(self) -> None:
        """Stop the thread and close the video."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self.video.close()
        if self.preview is not None:
            self.preview.close()

    def set_preview(self, proxy: ProxyVideo) -> None:
        """Show proxy frames first when the exact frame needs a long decode (long GOPs)."""
        with self._cond:
            if self._stop:
                proxy.close()
                return
            self.preview = proxy

    def _preview_first(self, index: int) -> bool:
        """Emit the proxy frame when the exact one is slow to come; True when a newer request
        arrives within SETTLE_S (skip the exact decode: the user is still scrubbing)."""
        source = self.video.source
        cost = getattr(source, "decode_cost", None)
        if self.preview is None or index in self.video.cached() or cost is None \
                or cost(index) <= PREVIEW_COST:
            return False
        try:
            self.previewed.emit(index, self.preview.frame(index))
        except Exception:  # noqa: BLE001 - the exact frame follows anyway
            return False
        with self._cond:  # still scrubbing? then the exact decode would only be in the way
            self._cond.wait_for(lambda: self._wanted is not None or self._stop, SETTLE_S)
            return self._wanted is not None or self._stop

    def _next(self) -> int | None:
        with self._cond:
            while self._wanted is None and not self._stop:
                self._cond.wait()
            wanted, self._wanted = self._wanted, None
            return None if self._stop else wanted

    def _loop(self) -> None:
        n = len(self.video)
        while (index := self._next()) is not None:
            if self._preview_first(index):
                continue
            try:
                frame = self.video.frame(index)
            except Exception:  # noqa: BLE001 - a bad frame must not kill the loader
                continue
            self.loaded.emit(index, frame)
            for ahead in range(index + 1, min(n, index + 1 + self._prefetch)):
                with self._cond:
                    if self._wanted is not None or self._stop:
                        break
                try:
                    self.video.frame(ahead)
                except Exception:  # noqa: BLE001
                    break
