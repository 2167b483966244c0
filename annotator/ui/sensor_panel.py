"""Sensor QA panel: a Video's sensor streams plotted on its clock, and their flagged spans.

The panel only reads the project (`ProjectStore.sensor_streams`) and runs
`annotator.tools.sensor_qa.detect_anomalies` in a superqt worker, never on the GUI thread. It
talks to the main window through signals: `frameRequested(int)` when the user picks a moment
(playhead drag, plot click, a flagged span activated) and `flagsChanged(list)` with the flagged
frame ranges [(start, stop), ...] (stop exclusive) for the timeline; `set_frame` keeps the
playhead on the video's current frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from annotator.core.errors import AnnotatorError
from annotator.core.project import SensorRecord, VideoRecord
from annotator.store import ProjectStore
from annotator.tools.sensor_io import SensorStream, check_frame_times
from annotator.tools.sensor_qa import FlaggedSpan, QaConfig, QaReport, detect_anomalies
from annotator.ui.sensor_plot import SensorPlot
from annotator.video import frame_times as video_frame_times

NO_VIDEO = "Open a video to see the sensor streams recorded with it."
NO_STREAMS = ("No sensor streams for {name}. Add one (CSV or Parquet) with\n"
              "annotator sensors import PROJECT FILE")


def analyse(record: SensorRecord, frame_times: np.ndarray, config: QaConfig
            ) -> tuple[int, QaReport]:
    """Worker body: QA of one stream against the video's frame times."""
    stream = SensorStream(record.times, record.values, record.channels)
    return record.id, detect_anomalies(stream, frame_times, config)


def span_text(span: FlaggedSpan) -> str:
    """One list line per span: frames (inclusive, as the CLI prints), seconds, score, channels."""
    channels = ", ".join(span.channels) or "-"
    return (f"frames {span.start_frame}-{span.stop_frame - 1}  "
            f"({span.start_time:.2f}-{span.stop_time:.2f} s)  score {span.score:.2f}  "
            f"{channels}")


def one_line(exc: BaseException) -> str:
    """An error as a single line; AnnotatorError messages already say what to do."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if isinstance(exc, AnnotatorError) else f"{type(exc).__name__}: {text}"


class SensorPanel(QWidget):
    """Streams of the loaded Video: selector, plot with playhead and bands, Run QA, span list."""

    frameRequested = Signal(int)
    flagsChanged = Signal(list)
    busyChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, config: QaConfig | None = None) -> None:
        super().__init__(parent)
        self.config = config or QaConfig(window_s=2.0, z_threshold=3.0)
        self.records: list[SensorRecord] = []
        self.frame_times = np.zeros(0)
        self.reports: dict[int, QaReport] = {}
        self._worker: Any = None
        self._generation = 0
        self._worker_generation = -1
        self._build()
        self.clear()

    def _build(self) -> None:
        self.empty = QLabel(NO_VIDEO)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.streams = QComboBox()
        self.streams.setToolTip("sensor stream")
        self.streams.currentIndexChanged.connect(self._on_stream)
        self.run_button = QPushButton("Run QA")
        self.run_button.setToolTip("flag spans where the sensors depart from their usual "
                                   "covariance (Rglasso)")
        self.run_button.clicked.connect(self.run_qa)
        self.message = QLabel()
        self.message.setWordWrap(False)
        top = QHBoxLayout()
        top.addWidget(self.streams, 1)
        top.addWidget(self.run_button)
        self.plot = SensorPlot()
        self.plot.frameRequested.connect(self.frameRequested)
        self.span_list = QListWidget()
        self.span_list.itemActivated.connect(self._on_span)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(self.span_list)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        content = QWidget()
        box = QVBoxLayout(content)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(self.message)
        box.addWidget(split, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.pages)

    # -- loading -----------------------------------------------------------------------------

    def load(self, store: ProjectStore, video: VideoRecord,
             source_or_frame_times: object) -> None:
        """Show the streams of `video`; frame times come from its source (or are given)."""
        self._reset()
        try:
            times = check_frame_times(
                source_or_frame_times
                if isinstance(source_or_frame_times, np.ndarray | list | tuple)
                else video_frame_times(source_or_frame_times))
        except AnnotatorError as exc:  # a broken video: say so in the panel, keep the app up
            self.empty.setText(f"No frame times for {video.name}: {one_line(exc)}")
            self.pages.setCurrentIndex(0)
            self.flagsChanged.emit([])
            return
        self.frame_times = times
        self.plot.set_frame_times(times)
        self.records = store.sensor_streams(video.id)
        self._sync()
        if not self.records:
            self.empty.setText(NO_STREAMS.format(name=video.name))
            self.pages.setCurrentIndex(0)
            self.flagsChanged.emit([])
            return
        self.pages.setCurrentIndex(1)
        self.streams.blockSignals(True)
        for record in self.records:
            self.streams.addItem(f"{record.name} ({len(record.channels)} ch, "
                                 f"{len(record.times)} samples)", record.id)
        self.streams.blockSignals(False)
        self.streams.setCurrentIndex(0)
        self._on_stream(0)

    def clear(self) -> None:
        """No video: the 'open a video' state."""
        self._reset()
        self.empty.setText(NO_VIDEO)
        self.pages.setCurrentIndex(0)
        self.flagsChanged.emit([])

    def _reset(self) -> None:
        self._generation += 1  # results of a QA still running are for the old video: dropped
        self.records, self.reports = [], {}
        self.frame_times = np.zeros(0)
        self.plot.set_frame_times(self.frame_times)
        self.streams.blockSignals(True)
        self.streams.clear()
        self.streams.blockSignals(False)
        self.plot.show_stream(None)
        self.plot.set_bands([])
        self.span_list.clear()
        self.message.clear()
        self._sync()

    # -- state -------------------------------------------------------------------------------

    @property
    def current_record(self) -> SensorRecord | None:
        """The stream shown, if any."""
        i = self.streams.currentIndex()
        return self.records[i] if 0 <= i < len(self.records) else None

    @property
    def busy(self) -> bool:
        """Whether a QA run is under way."""
        return self._worker is not None

    @property
    def spans(self) -> tuple[FlaggedSpan, ...]:
        """Flagged spans of the shown stream (empty before its QA ran)."""
        record = self.current_record
        report = self.reports.get(record.id) if record is not None else None
        return report.spans if report is not None else ()

    @property
    def flags(self) -> list[tuple[int, int]]:
        """Flagged frame ranges [(start, stop), ...] of the shown stream, stop exclusive."""
        return [(s.start_frame, s.stop_frame) for s in self.spans]

    @Slot(int)
    def set_frame(self, index: int) -> None:
        """Move the playhead to frame `index` of the video (no frameRequested)."""
        self.plot.set_frame(index)

    # -- QA ----------------------------------------------------------------------------------

    @Slot()
    def run_qa(self) -> bool:
        """Start QA of the shown stream in a worker; False (ignored) while one runs."""
        record = self.current_record
        if self.busy or record is None or self.frame_times.size == 0:
            return False
        self._worker_generation = self._generation
        worker = create_worker(analyse, record, self.frame_times, self.config,
                               _start_thread=False,
                               _connect={"returned": self._on_report,
                                         "errored": self._on_error,
                                         "finished": self._on_finished})
        self._worker = worker
        self.message.setText(f"running QA on {record.name}…")
        self._sync()
        self.busyChanged.emit(True)
        worker.start()
        return True

    @Slot(object)
    def _on_report(self, result: tuple[int, QaReport]) -> None:
        if self._worker_generation != self._generation:
            return
        stream_id, report = result
        self.reports[stream_id] = report
        record = self.current_record
        if record is not None and record.id == stream_id:
            self._show_report()

    @Slot(object)
    def _on_error(self, exc: BaseException) -> None:
        if self._worker_generation == self._generation:
            self.message.setText(f"QA failed: {one_line(exc)}")
            self.message.setToolTip(str(exc))

    @Slot()
    def _on_finished(self) -> None:
        self._worker = None
        self._sync()
        self.busyChanged.emit(False)

    def _sync(self) -> None:
        self.run_button.setEnabled(not self.busy and bool(self.records))

    # -- showing -----------------------------------------------------------------------------

    @Slot(int)
    def _on_stream(self, _index: int) -> None:
        self.plot.show_stream(self.current_record)
        self.message.clear()
        self._show_report()

    def _show_report(self) -> None:
        """Bands, list and message for the shown stream's report (nothing before QA)."""
        spans = self.spans
        self.plot.set_bands([(s.start_time, s.stop_time) for s in spans])
        self.span_list.clear()
        for span in spans:
            item = QListWidgetItem(span_text(span))
            item.setData(Qt.ItemDataRole.UserRole, span.start_frame)
            self.span_list.addItem(item)
        record = self.current_record
        report = self.reports.get(record.id) if record is not None else None
        if report is not None:
            self.message.setText(self._summary(report))
        self.flagsChanged.emit(self.flags)

    @staticmethod
    def _summary(report: QaReport) -> str:
        n = len(report.spans)
        text = (f"{n} flagged span{'s' if n != 1 else ''} (threshold {report.threshold:.3f})"
                if n else "no anomalies found")
        if report.dropped_channels:
            text += f"; constant channels left out: {', '.join(report.dropped_channels)}"
        return text

    @Slot(QListWidgetItem)
    def _on_span(self, item: QListWidgetItem) -> None:
        self.frameRequested.emit(int(item.data(Qt.ItemDataRole.UserRole)))
