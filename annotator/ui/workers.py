"""Background work: a one-job-at-a-time lane over superqt workers, and a frame loader thread.

Nothing slow runs on the GUI thread: model calls, propagation and export go through a `JobLane`
(a superqt generator/function worker, cancelled at its next yield); frame decoding goes through
the `FrameLoader`, which always serves the newest request first and prefetches what follows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import GeneratorWorker, create_worker

from annotator.video import CachedVideo


class JobLane(QObject):
    """Runs at most one job at a time, reporting progress; `start` refuses while busy."""

    busyChanged = Signal(bool)
    progress = Signal(str, int, int)
    """name, done, total"""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._worker: Any = None
        self.job = ""

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._worker is not None

    def start(self, job: str, func: Callable[..., Any], *args: Any,
              on_yield: Callable[[Any], None] | None = None,
              on_return: Callable[[Any], None] | None = None,
              on_error: Callable[[Exception], None] | None = None,
              on_finish: Callable[[bool], None] | None = None) -> bool:
        """Run `func(*args)` (a generator function yields progress) in a worker thread.

        Callbacks run on the GUI thread; `on_finish(aborted)` runs last, also after an error.
        """
        if self.busy:
            return False
        worker = create_worker(func, *args, _start_thread=False)
        state = {"aborted": False}
        if on_yield is not None and isinstance(worker, GeneratorWorker):
            worker.yielded.connect(on_yield)
        if on_return is not None:
            worker.returned.connect(on_return)
        worker.errored.connect(on_error or (lambda exc: None))
        if isinstance(worker, GeneratorWorker):
            worker.aborted.connect(lambda: state.update(aborted=True))
        worker.finished.connect(lambda: self._finished(on_finish, state["aborted"]))
        self._worker = worker
        self.job = job
        self.busyChanged.emit(True)
        worker.start()
        return True

    def cancel(self) -> None:
        """Ask the running generator job to stop at its next yield (finished frames are kept)."""
        if isinstance(self._worker, GeneratorWorker):
            self._worker.quit()

    def _finished(self, on_finish: Callable[[bool], None] | None, aborted: bool) -> None:
        self._worker = None
        self.job = ""
        try:
            if on_finish is not None:
                on_finish(aborted)
        finally:
            self.busyChanged.emit(False)


class FrameLoader(QObject):
    """Decodes frames on its own thread: the newest request first, then prefetch forward."""

    loaded = Signal(int, object)
    """index, RGB uint8 frame"""

    def __init__(self, video: CachedVideo, prefetch: int = 6) -> None:
        super().__init__()
        self.video = video
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

    def _next(self) -> int | None:
        with self._cond:
            while self._wanted is None and not self._stop:
                self._cond.wait()
            wanted, self._wanted = self._wanted, None
            return None if self._stop else wanted

    def _loop(self) -> None:
        n = len(self.video)
        while (index := self._next()) is not None:
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
