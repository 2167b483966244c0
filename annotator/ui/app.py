"""Desktop entry point: `run(path)` opens the main window on a video, folder, project or sample."""

from __future__ import annotations

import sys
from pathlib import Path

from platformdirs import user_data_dir
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from annotator.tools.sample import sample_video
from annotator.ui.main_window import MainWindow


def sample_project() -> Path:
    """The project the built-in sample opens in (kept between runs, so work is not lost)."""
    folder = Path(user_data_dir("annotator")) / "gui-sample"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "sample.annotator"


def open_sample(window: MainWindow) -> None:
    """Open the built-in sample video in its own project."""
    ctl = window.ctl
    ctl.open_project(sample_project())
    if ctl.video is None:
        ctl.add_video(sample_video())


def application() -> QApplication:
    """The running QApplication, created once."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    app.setOrganizationName("annotator")
    return app


def run(path: str | None) -> int:
    """Show the main window on `path` (a video, image folder or .annotator project) or the
    sample; returns the exit code."""
    app = application()
    window = MainWindow()
    window.show()
    if path is None:
        QTimer.singleShot(0, lambda: window._guard(lambda: open_sample(window)))
    else:
        QTimer.singleShot(0, lambda: window.open_path(path))
    return int(app.exec())
