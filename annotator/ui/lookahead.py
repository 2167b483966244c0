"""Background model work the user never waits for, for segmenters that cache embeddings:
encoding the current and neighbouring frames ahead, and a faint preview of the mask under the
resting pointer (decoder only: the frame's embedding is cached).

Both run as background jobs on the model lane, so a click or a run asked for meanwhile stops
them at their next step. At most one hover waits (the newest pointer position).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal
from superqt.utils import qdebounced

from annotator.core.types import MaskProposal, Point, Prompts
from annotator.ui.controller import Controller
from annotator.ui.prompting import Prompting
from annotator.ui.workers import FrameLoader

HOVER_MS = 80
"""How long the pointer must rest before a preview is decoded."""
AHEAD_DELAY_MS = 400
"""Neighbours are encoded only once a frame has been shown this long: a click right after a
step never waits behind a neighbour's encoder pass, and scrubbing encodes nothing extra."""
RETRY_MS = 60
RETRIES = 5
"""Times a neighbour not decoded yet is waited for before giving up on it."""

Key = tuple[int, int]
"""(video id, frame index): the embedding cache key, as prompting uses it."""


class Lookahead(QObject):
    """Embeddings ahead and the hover preview; `preview` holds the mask shown (or None)."""

    hoverChanged = Signal()

    def __init__(self, ctl: Controller, prompting: Prompting) -> None:
        super().__init__(ctl)
        self.ctl, self.prompting = ctl, prompting
        self.preview: np.ndarray | None = None
        self.encoded: list[Key] = []
        """Keys the embedding jobs encoded, oldest first (tests and status)."""
        self._ready: Key | None = None  # the current frame's embedding is in the cache
        self._done_for: Key | None = None  # neighbours of this frame are encoded
        self._hover_at: tuple[float, float] | None = None
        self._generation = 0
        self._retries = 0
        self._waiting = False  # for a neighbour frame to be decoded, or the delay
        self.ahead_delay_ms = AHEAD_DELAY_MS
        self._shown = QElapsedTimer()
        self._shown.start()
        self._fire = qdebounced(self._run_next, timeout=HOVER_MS, parent=self)
        ctl.imageReady.connect(lambda _i: self._on_image())
        ctl.frameChanged.connect(lambda _i: self.leave())
        ctl.backendChanged.connect(lambda _b: self._reset())
        ctl.projectOpened.connect(self._reset)
        ctl.model_lane.busyChanged.connect(lambda busy: None if busy else self._run_next())

    @property
    def enabled(self) -> bool:
        """Whether the selected segmenter keeps embeddings by key (else nothing runs here)."""
        choice = self.ctl.choice()
        return choice is not None and choice.caches_embeddings and self.ctl.video is not None

    # --- pointer --------------------------------------------------------------------------------

    def hover(self, x: float, y: float) -> None:
        """The pointer moved over the frame: preview there once it rests."""
        if not self.enabled:
            return
        self._hover_at = (x, y)
        self._fire()

    def leave(self) -> None:
        """The pointer left the frame or clicked: drop the pending and shown preview."""
        self._fire.cancel()
        self._hover_at = None
        self._generation += 1
        if self.preview is not None:
            self.preview = None
            self.hoverChanged.emit()

    # --- scheduling -----------------------------------------------------------------------------

    def _key(self) -> Key | None:
        ctl = self.ctl
        if ctl.video is None or ctl.image is None or ctl.image_index != ctl.frame:
            return None
        return (ctl.video.id, ctl.frame)

    def _reset(self) -> None:
        self._ready = self._done_for = None
        self.leave()
        self._run_next()

    def _on_image(self) -> None:
        key = self._key()
        if key != self._ready:
            self._ready = key if key in self.encoded[-3:] else None
        self._retries = 0
        self._shown.restart()
        self.ctl.model_lane.cancel_background()
        self._run_next()

    def _run_next(self) -> None:
        """Start the most useful background job when the lane is free."""
        lane, key = self.ctl.model_lane, self._key()
        if lane.busy or key is None or not self.enabled:
            return
        if self._ready != key:
            self._start_embedding(key, [])
        elif self._hover_at is not None:
            self._start_hover(key)
        elif self._done_for != key and not self._waiting:
            left = self.ahead_delay_ms - self._shown.elapsed()
            if left > 0:
                self._wait(left)
                return
            n = self.ctl.frame_count
            self._start_embedding(key, [i for i in (key[1] + 1, key[1] - 1) if 0 <= i < n])

    def _start_embedding(self, key: Key, neighbours: list[int]) -> None:
        ctl, loader = self.ctl, self.ctl.loader
        assert ctl.image is not None
        assert loader is not None
        image = ctl.image
        missing: list[int] = []
        ctl.model_lane.start(
            "embeddings", _embed, ctl, key, image, loader, neighbours, missing, background=True,
            on_yield=lambda done: self._embedded(key, done),
            on_error=lambda exc: ctl.message.emit(f"encoding ahead failed: {exc}"),
            on_finish=lambda aborted: self._embedding_done(key, aborted, missing,
                                                           bool(neighbours)))

    def _embedded(self, current: Key, done: Key) -> None:
        self.encoded = [*[k for k in self.encoded if k != done][-8:], done]
        if done == current:
            self._ready = current
            if self._hover_at is not None:  # the user waits for this one: neighbours later
                self.ctl.model_lane.cancel_background()

    def _embedding_done(self, key: Key, aborted: bool, missing: list[int],
                        neighbours: bool) -> None:
        if aborted or not neighbours:
            return
        if missing and self._retries < RETRIES:
            self._retries += 1
            self._wait(RETRY_MS)
            return
        self._done_for = key

    def _wait(self, ms: int) -> None:
        self._waiting = True
        QTimer.singleShot(ms, self._retry)

    def _retry(self) -> None:
        self._waiting = False
        self._run_next()

    def _start_hover(self, key: Key) -> None:
        assert self._hover_at is not None
        assert self.ctl.image is not None
        x, y = self._hover_at
        self._hover_at = None
        prompts = self.prompting.prompts if self.prompting.target else Prompts()
        prompts = replace(prompts, points=(*prompts.points, Point(x, y, True)))
        generation = self._generation
        self.ctl.model_lane.start(
            "hover", _hover, self.ctl, self.ctl.image, key, prompts, background=True,
            on_return=lambda best: self._show(generation, key, best),
            on_error=lambda _exc: None)  # a failed preview is simply not shown

    def _show(self, generation: int, key: Key, best: MaskProposal | None) -> None:
        if generation != self._generation or key != self._key():
            return  # the pointer left, clicked or the frame changed meanwhile
        self.preview = None if best is None else best.mask
        self.hoverChanged.emit()


def _embed(ctl: Controller, key: Key, image: np.ndarray, loader: FrameLoader,
           neighbours: list[int], missing: list[int]) -> Iterator[Key]:
    """Worker side: encode the current frame, then the neighbours that are decoded already,
    then make the current frame's embedding the active one again (a cache hit)."""
    backend = ctl.ensure_backend()
    backend.set_frame(image, key)  # type: ignore[attr-defined]
    yield key
    for index in neighbours:
        frame = loader.cached(index)
        if frame is None:
            missing.append(index)
            continue
        backend.set_frame(frame, (key[0], index))  # type: ignore[attr-defined]
        yield (key[0], index)
    if neighbours:
        backend.set_frame(image, key)  # type: ignore[attr-defined]


def _hover(ctl: Controller, image: np.ndarray, key: Key,
           prompts: Prompts) -> MaskProposal | None:
    """Worker side: decoder only (the key hits the embedding cache), best candidate."""
    backend = ctl.ensure_backend()
    backend.set_frame(image, key)  # type: ignore[attr-defined]
    proposals = backend.predict(prompts)  # type: ignore[attr-defined]
    return proposals[0] if proposals else None
