"""The sensor plot: one curve per channel on the video clock, a playhead and anomaly bands.

Times on the x axis are the stream's own, which `annotator sensors import --offset` already put
on the video clock (seconds from the first frame), so frame `i` sits at `frame_times[i]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QWidget

from annotator.core.project import PALETTE_HEX, SensorRecord

BAND_BRUSH = (230, 25, 75, 60)
PLAYHEAD_PEN = {"color": "#ffe119", "width": 2}


def nearest_frame(frame_times: np.ndarray, t: float) -> int:
    """Index of the frame whose presentation time is closest to `t` (clamped to the video)."""
    right = int(np.clip(np.searchsorted(frame_times, t), 1, max(1, frame_times.size - 1)))
    if frame_times.size < 2:
        return 0
    left = right - 1
    return left if t - frame_times[left] <= frame_times[right] - t else right


class SensorPlot(pg.PlotWidget):
    """Channels of one stream, a draggable playhead and read-only bands over flagged spans.

    Long logs stay responsive: curves are peak-downsampled to the view and clipped to it.
    `frameRequested` fires only on user action (a drag of the playhead, a click in the plot),
    never when `set_frame` moves the playhead, so a video-driven update cannot loop back.
    """

    frameRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame_times = np.zeros(0)
        self.curves: list[pg.PlotDataItem] = []
        self.bands: list[pg.LinearRegionItem] = []
        item = self.getPlotItem()
        item.setLabel("bottom", "time", units="s")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        self.legend = item.addLegend(offset=(5, 5))
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=True, pen=PLAYHEAD_PEN)
        self.playhead.setZValue(20)
        self.playhead.sigDragged.connect(self._on_drag)
        item.addItem(self.playhead, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_frame_times(self, frame_times: np.ndarray) -> None:
        """The video's frame presentation times (s), used to snap to frames."""
        self.frame_times = np.asarray(frame_times, dtype=np.float64)

    def show_stream(self, record: SensorRecord | None) -> None:
        """Replace the curves with the channels of `record` (None: empty plot)."""
        item = self.getPlotItem()
        for curve in self.curves:
            item.removeItem(curve)
        self.legend.clear()
        self.curves = []
        if record is None:
            return
        for c, name in enumerate(record.channels):
            curve = item.plot(record.times, record.values[:, c], name=name,
                              pen=pg.mkPen(PALETTE_HEX[c % len(PALETTE_HEX)], width=1),
                              skipFiniteCheck=True)
            self.curves.append(curve)
        item.enableAutoRange()

    def set_bands(self, spans: Sequence[tuple[float, float]]) -> None:
        """Show a fixed, translucent band over each (start, stop) time span."""
        item = self.getPlotItem()
        for band in self.bands:
            item.removeItem(band)
        self.bands = []
        for start, stop in spans:
            band = pg.LinearRegionItem((start, stop), movable=False, brush=BAND_BRUSH)
            band.setZValue(-10)
            item.addItem(band, ignoreBounds=True)
            self.bands.append(band)

    def set_frame(self, index: int) -> None:
        """Move the playhead to frame `index` (no signal)."""
        if self.frame_times.size == 0:
            return
        index = int(np.clip(index, 0, self.frame_times.size - 1))
        self.playhead.setValue(float(self.frame_times[index]))

    @property
    def playhead_time(self) -> float:
        """Where the playhead is, in seconds."""
        return float(self.playhead.value())

    def _request(self, t: float) -> None:
        if self.frame_times.size:
            self.frameRequested.emit(nearest_frame(self.frame_times, t))

    def _on_drag(self, line: pg.InfiniteLine) -> None:
        self._request(float(line.value()))

    def _on_click(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        pos: QPointF = event.scenePos()  # type: ignore[attr-defined]
        box = self.getPlotItem().getViewBox()
        if box.sceneBoundingRect().contains(pos):
            self._request(box.mapSceneToView(pos).x())
