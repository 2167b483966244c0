"""Wires the sensor QA panel into the main window: a dock, the playhead, timeline flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from annotator.tools.videos import open_record
from annotator.ui.sensor_panel import SensorPanel

if TYPE_CHECKING:
    from annotator.ui.main_window import MainWindow


class SensorDock:
    """Keeps the panel on the controller's current Video (reloaded only when it changes)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.panel = SensorPanel()
        self.dock = QDockWidget("Sensors", window)
        self.dock.setObjectName("sensors")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()  # View > Sensors shows it
        self._loaded: tuple[int, int] | None = None
        ctl = window.ctl
        ctl.frameChanged.connect(self._on_frame)
        ctl.projectOpened.connect(self._reset)
        self.panel.frameRequested.connect(ctl.set_frame)
        self.panel.flagsChanged.connect(window.timeline.set_flags)

    def _reset(self) -> None:
        self._loaded = None
        self.panel.clear()

    def _on_frame(self, index: int) -> None:
        ctl = self.window.ctl
        if ctl.store is None or ctl.video is None:
            return
        key = (id(ctl.store), ctl.video.id)
        if key != self._loaded:
            self._loaded = key
            source = open_record(ctl.video)
            try:
                self.panel.load(ctl.store, ctl.video, source)
            finally:
                source.close()
        self.panel.set_frame(index)


def install_sensor_dock(window: MainWindow) -> SensorDock:
    """Add the Sensors dock (hidden until View > Sensors) to the window."""
    dock = SensorDock(window)
    view = next((a.menu() for a in window.menuBar().actions() if a.text() == "&View"), None)
    if view is not None:
        view.addAction(dock.dock.toggleViewAction())
    return dock
