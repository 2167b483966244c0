"""The canvas: the frame, one mask layer, the proposal, prompt glyphs; zoom, pan, mouse tools.

Mouse gestures become intents (point, box, brush stroke) emitted as signals in frame pixels;
the canvas never edits the project itself.
"""

from __future__ import annotations

import enum

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from annotator.core.types import Box, Point

DRAG_PIXELS = 6
"""Screen pixels a press must move before it becomes a box instead of a click."""
POINT_RADIUS = 5.0


class Tool(enum.StrEnum):
    """What the left mouse button does on the canvas."""

    PROMPT = "prompt"
    BRUSH = "brush"
    ERASER = "eraser"


def rgb_image(frame: np.ndarray) -> QImage:
    """A QImage sharing an RGB uint8 HxWx3 array (keep the array alive while it is shown)."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888)


def argb_image(layer: np.ndarray) -> QImage:
    """A QImage sharing an HxW uint32 premultiplied ARGB array."""
    h, w = layer.shape
    return QImage(layer.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)


class ImageItem(QGraphicsItem):
    """Draws one QImage at scene (0, 0), holding the numpy buffer it shares."""

    def __init__(self, z: float) -> None:
        super().__init__()
        self.setZValue(z)
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None

    def set_image(self, image: QImage | None, buffer: np.ndarray | None = None) -> None:
        """Show an image (None hides the item)."""
        self.prepareGeometryChange()
        self._image, self._buffer = image, buffer
        self.update()

    @property
    def image(self) -> QImage | None:
        """The image shown, if any."""
        return self._image

    def boundingRect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._image is not None:
            painter.drawImage(QPointF(0, 0), self._image)


class Canvas(QGraphicsView):
    """QGraphicsView over one frame: mouse tools, wheel zoom, middle-button pan."""

    pointClicked = Signal(float, float, bool)
    boxDrawn = Signal(object)
    stroked = Signal(object, bool)
    """boolean HxW stroke mask, True when erasing"""
    hovered = Signal(float, float)
    """the pointer rests or moves over the frame (prompt tool, no button held)"""
    pointerLeft = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(32, 32, 36)))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.frame_item = ImageItem(0)
        self.overlay_item = ImageItem(1)
        self.proposal_item = ImageItem(2)
        self.hover_item = ImageItem(3)
        self.labels_item = ImageItem(0.5)
        for item in (self.frame_item, self.labels_item, self.overlay_item, self.proposal_item,
                     self.hover_item):
            self.scene().addItem(item)
        self._glyphs: list[QGraphicsItem] = []
        self._band = self._add_rect(QColor(255, 255, 255), dashed=True)
        self._band.hide()
        self._path_item = QGraphicsPathItem()
        self._path_item.setZValue(4)
        self.scene().addItem(self._path_item)
        self._cursor = QGraphicsEllipseItem()
        self._cursor.setZValue(5)
        self._cursor.setPen(_pen(QColor(255, 255, 255), dashed=True))
        self.scene().addItem(self._cursor)
        self._cursor.hide()
        self.tool = Tool.PROMPT
        self.brush_size = 15
        self._press: QPointF | None = None
        self._press_view: QPointF | None = None
        self._stroke: list[QPointF] = []
        self._pan_from: QPointF | None = None
        self._fitted = False

    # --- content --------------------------------------------------------------------------------

    def show_frame(self, frame: np.ndarray) -> None:
        """Show an RGB frame; the first one is fitted to the view."""
        frame = np.ascontiguousarray(frame)
        self.frame_item.set_image(rgb_image(frame), frame)
        self.scene().setSceneRect(self.frame_item.boundingRect())
        if not self._fitted:
            self.fit()

    def show_overlay(self, layer: np.ndarray | None) -> None:
        """Show the composed mask layer of the frame (None clears it)."""
        self.overlay_item.set_image(None if layer is None else argb_image(layer), layer)

    def show_proposal(self, layer: np.ndarray | None) -> None:
        """Show the candidate mask on top of the stored ones."""
        self.proposal_item.set_image(None if layer is None else argb_image(layer), layer)

    def show_hover(self, layer: np.ndarray | None) -> None:
        """Show the faint preview of the mask under the pointer (None clears it)."""
        self.hover_item.set_image(None if layer is None else argb_image(layer), layer)

    def show_labels(self, layer: np.ndarray | None) -> None:
        """Show a label map preview under the masks (None clears it)."""
        self.labels_item.set_image(None if layer is None else argb_image(layer), layer)

    def show_prompts(self, points: list[Point], box: Box | None, color: QColor) -> None:
        """Draw the prompt glyphs: green/red dots for points, a dashed rectangle for the box."""
        for item in self._glyphs:
            self.scene().removeItem(item)
        self._glyphs = []
        if box is not None:
            rect = self._add_rect(color, dashed=True)
            rect.setRect(QRectF(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0))
            self._glyphs.append(rect)
        for p in points:
            dot = QGraphicsEllipseItem(-POINT_RADIUS, -POINT_RADIUS, 2 * POINT_RADIUS,
                                       2 * POINT_RADIUS)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setPos(p.x, p.y)
            dot.setBrush(QColor(40, 200, 60) if p.positive else QColor(230, 40, 40))
            dot.setPen(_pen(QColor(255, 255, 255)))
            dot.setZValue(6)
            self.scene().addItem(dot)
            self._glyphs.append(dot)

    @property
    def glyph_count(self) -> int:
        """Prompt glyphs drawn now (tests and status)."""
        return len(self._glyphs)

    def _add_rect(self, color: QColor, dashed: bool = False) -> QGraphicsRectItem:
        rect = QGraphicsRectItem()
        rect.setPen(_pen(color, dashed))
        rect.setZValue(6)
        self.scene().addItem(rect)
        return rect

    # --- zoom -----------------------------------------------------------------------------------

    def fit(self) -> None:
        """Fit the whole frame in the view."""
        rect = self.frame_item.boundingRect()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
            self._fitted = True

    def zoom(self, factor: float) -> None:
        """Zoom by a factor around the mouse (keys zoom around the centre)."""
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._fitted and self.transform().m11() <= self._fit_scale() * 1.01:
            self.fit()

    def _fit_scale(self) -> float:
        rect = self.frame_item.boundingRect()
        if rect.isEmpty():
            return 1.0
        view = self.viewport().rect()
        return min(view.width() / rect.width(), view.height() / rect.height())

    # --- mouse ----------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position()
            return
        if event.button() == Qt.MouseButton.RightButton and self.tool == Tool.PROMPT:
            self.pointClicked.emit(pos.x(), pos.y(), False)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._press, self._press_view = pos, event.position()
        self.pointerLeft.emit()
        if self.tool != Tool.PROMPT:
            self._stroke = [pos]
            self._draw_stroke()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        self._move_cursor(pos)
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            return
        if self._press is None:
            self._hover(pos)
            return
        if self.tool != Tool.PROMPT:
            self._stroke.append(pos)
            self._draw_stroke()
        elif self._dragged(event.position()):
            self._band.setRect(QRectF(self._press, pos).normalized())
            self._band.show()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = None
            return
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        pos, start = self.mapToScene(event.position().toPoint()), self._press
        self._press = None
        self._band.hide()
        if self.tool != Tool.PROMPT:
            self._stroke.append(pos)
            self._finish_stroke()
        elif self._dragged(event.position()):
            self.boxDrawn.emit(Box(start.x(), start.y(), pos.x(), pos.y()).normalized())
        else:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.pointClicked.emit(pos.x(), pos.y(), not shift)

    def leaveEvent(self, event: QEvent) -> None:
        self.pointerLeft.emit()
        super().leaveEvent(event)

    def _hover(self, pos: QPointF) -> None:
        if self.tool == Tool.PROMPT and self.frame_item.boundingRect().contains(pos):
            self.hovered.emit(pos.x(), pos.y())
        else:
            self.pointerLeft.emit()

    def _dragged(self, view_pos: QPointF) -> bool:
        if self._press_view is None:
            return False
        d = view_pos - self._press_view
        return abs(d.x()) + abs(d.y()) >= DRAG_PIXELS

    def _move_cursor(self, pos: QPointF) -> None:
        if self.tool == Tool.PROMPT:
            self._cursor.hide()
            return
        r = self.brush_size / 2
        self._cursor.setRect(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r))
        self._cursor.show()

    def _draw_stroke(self) -> None:
        path = QPainterPath(self._stroke[0])
        for p in self._stroke[1:]:
            path.lineTo(p)
        color = QColor(255, 80, 80, 140) if self.tool == Tool.ERASER else QColor(255, 255, 255, 140)
        pen = QPen(color, self.brush_size, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        self._path_item.setPen(pen)
        self._path_item.setPath(path)

    def _finish_stroke(self) -> None:
        self._path_item.setPath(QPainterPath())
        image = self.frame_item.image
        if image is None or not self._stroke:
            return
        mask = stroke_mask(self._stroke, self.brush_size, (image.height(), image.width()))
        self._stroke = []
        self.stroked.emit(mask, self.tool == Tool.ERASER)


def stroke_mask(points: list[QPointF], size: int, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a brush stroke (round caps, `size` pixels wide) into a boolean mask."""
    mask = np.zeros(shape, np.uint8)
    pts = np.array([[round(p.x()), round(p.y())] for p in points], np.int32)
    radius = max(1, size // 2)
    for x, y in pts:
        cv2.circle(mask, (int(x), int(y)), radius, 1, -1)
    if len(pts) > 1:
        cv2.polylines(mask, [pts.reshape(-1, 1, 2)], False, 1, thickness=max(1, size))
    return mask.astype(bool)


def _pen(color: QColor, dashed: bool = False) -> QPen:
    pen = QPen(color, 1.5)
    pen.setCosmetic(True)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen
