"""The status bar: frame number, the user's running job with its progress and Cancel, the
backend and device, and memory in use. Background work (embeddings ahead, hover previews) is
not shown: the user never waits for it."""

from __future__ import annotations

from collections.abc import Callable

import psutil
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from annotator.ui.controller import Controller


class StatusArea(QObject):
    """Permanent status-bar widgets kept in step with the controller's lanes."""

    def __init__(self, bar: QStatusBar, ctl: Controller, cancel: Callable[[], object]) -> None:
        super().__init__(bar)
        self.ctl = ctl
        self.frame_label = QLabel("no video")
        self.backend_label = QLabel()
        self.memory_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.clicked.connect(lambda _checked=False: cancel())
        self.cancel_button.hide()
        for widget in (self.frame_label, self.progress, self.cancel_button, self.backend_label,
                       self.memory_label):
            bar.addPermanentWidget(widget)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.update_status)
        self.timer.start(1000)
        for lane in (ctl.model_lane, ctl.io_lane):
            lane.progress.connect(self._on_progress)
            lane.busyChanged.connect(lambda _busy: self._sync_busy())
        ctl.backendChanged.connect(lambda _b: self.update_status())
        ctl.frameChanged.connect(
            lambda i: self.frame_label.setText(f"frame {i + 1} / {ctl.frame_count}"))
        self.update_status()

    def _on_progress(self, _name: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _sync_busy(self) -> None:
        lanes = [lane for lane in (self.ctl.model_lane, self.ctl.io_lane)
                 if lane.foreground not in ("", "predict")]
        self.progress.setVisible(bool(lanes))
        self.cancel_button.setVisible(bool(lanes))
        if lanes:
            self.progress.setFormat(f"{lanes[0].foreground} %v/%m")
            self.progress.setValue(0)

    def update_status(self) -> None:
        """Backend, device and memory (refreshed every second)."""
        ctl = self.ctl
        choice = ctl.choice()
        device = str(getattr(ctl.backend, "device", "cpu"))
        self.backend_label.setText(f"backend: {choice.id if choice else 'none'} | {device}")
        rss = psutil.Process().memory_info().rss / 2**20
        self.memory_label.setText(f"memory: {rss:.0f} MiB")
