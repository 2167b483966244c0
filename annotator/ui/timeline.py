"""The timeline: one lane per Object showing masked frames, keyframes, prompts, low confidence,
the playhead and the In/Out range; click or drag to seek."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from annotator.core.types import FrameIndex, ObjectId, Source

LOW_CONFIDENCE = 0.5
"""Propagated masks scoring below this get a warning mark."""
HEADER = 16
LANE = 16
LABEL_WIDTH = 100

NONE, MACHINE, KEYFRAME = 0, 1, 2


@dataclass
class Lane:
    """What one Object's lane shows, per frame."""

    object_id: ObjectId
    title: str
    color: str
    state: np.ndarray
    """int8 per frame: 0 no mask, 1 machine mask, 2 keyframe (manual)"""
    low: np.ndarray
    """bool per frame: machine mask with a score below LOW_CONFIDENCE"""
    prompts: set[FrameIndex] = field(default_factory=set)


def build_lane(object_id: ObjectId, title: str, color: str, frame_count: int,
               marks: dict[FrameIndex, tuple[str, float | None]],
               prompts: set[FrameIndex]) -> Lane:
    """A lane from the store's (source, score) marks of one object."""
    state = np.zeros(frame_count, np.int8)
    low = np.zeros(frame_count, bool)
    for frame, (source, score) in marks.items():
        if 0 <= frame < frame_count:
            state[frame] = KEYFRAME if source == Source.MANUAL else MACHINE
            low[frame] = source != Source.MANUAL and score is not None and score < LOW_CONFIDENCE
    return Lane(object_id, title, color, state, low, set(prompts))


def runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, stop, value) of each run of equal values, stop exclusive."""
    if len(values) == 0:
        return []
    cuts = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(values)]])
    return [(int(a), int(b), int(values[a])) for a, b in zip(starts, stops, strict=True)]


class Timeline(QWidget):
    """Lanes over frames; emits `frameRequested` when clicked or dragged."""

    frameRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame_count = 0
        self.playhead = 0
        self.range: tuple[int | None, int | None] = (None, None)
        self.lanes: list[Lane] = []
        self.current: ObjectId | None = None
        self.flags: list[tuple[int, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(False)
        self._update_height()

    # --- data -----------------------------------------------------------------------------------

    def set_lanes(self, frame_count: int, lanes: list[Lane]) -> None:
        """Replace every lane."""
        self.frame_count = frame_count
        self.lanes = lanes
        self._update_height()
        self.update()

    def set_playhead(self, frame: int) -> None:
        """Move the playhead."""
        self.playhead = frame
        self.update()

    def set_range(self, lo: int | None, hi: int | None) -> None:
        """Show the In/Out range (None ends are open)."""
        self.range = (lo, hi)
        self.update()

    def set_flags(self, ranges: list[tuple[int, int]]) -> None:
        """Frame ranges [start, stop) flagged by sensor QA, drawn as a strip on the ruler."""
        self.flags = list(ranges)
        self.update()

    def set_current(self, object_id: ObjectId | None) -> None:
        """Highlight the current object's lane."""
        self.current = object_id
        self.update()

    def lane(self, object_id: ObjectId) -> Lane | None:
        """The lane of an object."""
        return next((lane for lane in self.lanes if lane.object_id == object_id), None)

    def _update_height(self) -> None:
        self.setFixedHeight(HEADER + LANE * max(1, len(self.lanes)) + 4)

    def sizeHint(self) -> QSize:
        return QSize(600, self.height())

    # --- geometry -------------------------------------------------------------------------------

    def x_of(self, frame: float) -> float:
        """Widget x of a frame's left edge."""
        width = max(1, self.width() - LABEL_WIDTH - 4)
        return LABEL_WIDTH + frame * width / max(1, self.frame_count)

    def frame_at(self, x: float) -> int:
        """The frame under a widget x."""
        width = max(1, self.width() - LABEL_WIDTH - 4)
        frame = int((x - LABEL_WIDTH) * max(1, self.frame_count) / width)
        return max(0, min(self.frame_count - 1, frame))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.frame_count and event.button() == Qt.MouseButton.LeftButton:
            self.frameRequested.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.frame_count and event.buttons() & Qt.MouseButton.LeftButton:
            self.frameRequested.emit(self.frame_at(event.position().x()))

    # --- painting -------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        if self.frame_count:
            self._paint_range(p)
            self._paint_ruler(p)
            for start, stop in self.flags:
                a, b = self.x_of(start), self.x_of(stop)
                p.fillRect(QRectF(a, 0, max(2.0, b - a), 4), QColor(255, 140, 0))
            for row, lane in enumerate(self.lanes):
                self._paint_lane(p, lane, HEADER + row * LANE)
            x = self.x_of(self.playhead + 0.5)
            p.setPen(QColor(255, 255, 255))
            p.drawLine(round(x), 0, round(x), self.height())
        p.end()

    def _paint_range(self, p: QPainter) -> None:
        lo, hi = self.range
        if lo is None and hi is None:
            return
        a = self.x_of(lo or 0)
        b = self.x_of((self.frame_count - 1 if hi is None else hi) + 1)
        p.fillRect(QRectF(a, 0, b - a, self.height()), QColor(90, 90, 140, 90))
        p.setPen(QColor(150, 150, 230))
        for x in (a, b):
            p.drawLine(round(x), 0, round(x), self.height())

    def _paint_ruler(self, p: QPainter) -> None:
        p.setPen(QColor(170, 170, 170))
        step = max(1, _nice_step(self.frame_count * 60 / max(1, self.width())))
        for f in range(0, self.frame_count, step):
            x = round(self.x_of(f))
            p.drawLine(x, HEADER - 5, x, HEADER - 1)
            p.drawText(x + 2, HEADER - 5, str(f))

    def _paint_lane(self, p: QPainter, lane: Lane, y: int) -> None:
        color = QColor(lane.color)
        if lane.object_id == self.current:
            p.fillRect(QRectF(0, y, self.width(), LANE), QColor(70, 70, 80))
        p.fillRect(QRectF(4, y + 3, 10, LANE - 6), color)
        p.setPen(QColor(230, 230, 230))
        p.drawText(QRectF(18, y, LABEL_WIDTH - 20, LANE), Qt.AlignmentFlag.AlignVCenter,
                   lane.title)
        faint = QColor(color)
        faint.setAlpha(110)
        for start, stop, value in runs(lane.state):
            if value == NONE:
                continue
            rect = QRectF(self.x_of(start), y + 4, self.x_of(stop) - self.x_of(start), LANE - 8)
            p.fillRect(rect, faint if value == MACHINE else color)
        for frame in np.flatnonzero(lane.state == KEYFRAME):
            self._diamond(p, self.x_of(frame + 0.5), y + LANE / 2, color)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(255, 255, 255))
        for frame in lane.prompts:
            x = self.x_of(frame + 0.5)
            p.drawPolygon(QPolygonF([_pt(x - 3, y), _pt(x + 3, y), _pt(x, y + 4)]))
        for frame in np.flatnonzero(lane.low):
            x = self.x_of(frame)
            p.fillRect(QRectF(x, y + LANE - 3, max(1.0, self.x_of(frame + 1) - x), 3),
                       QColor(255, 60, 60))

    def _diamond(self, p: QPainter, x: float, y: float, color: QColor) -> None:
        p.setPen(QColor(255, 255, 255))
        p.setBrush(color)
        r = 4
        p.drawPolygon(QPolygonF([_pt(x, y - r), _pt(x + r, y), _pt(x, y + r), _pt(x - r, y)]))


def _pt(x: float, y: float) -> QPointF:
    return QPointF(x, y)


def _nice_step(raw: float) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if step >= raw:
            return step
    return 10000
