"""Dialogs: export settings, the shortcut list, and file choosers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.export import FORMATS
from annotator.export.davis import RESOLUTIONS
from annotator.ui.shortcuts import rows

VIDEO_FILTER = "Videos and projects (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.annotator);;All (*)"


@dataclass(frozen=True)
class ExportSettings:
    """What the export dialog asks for."""

    fmt: str
    out_dir: Path
    images: bool
    resolution: str


class ExportDialog(QDialog):
    """Format, output folder, frames or not, DAVIS resolution."""

    def __init__(self, default_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        form = QFormLayout()
        self.format_box = QComboBox()
        for name in FORMATS:
            self.format_box.addItem(name.upper() if name == "coco" else name.capitalize(), name)
        self.format_box.currentIndexChanged.connect(self._sync)
        form.addRow("Format", self.format_box)
        self.dir_edit = QLineEdit(str(default_dir))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.dir_edit)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.images_box = QCheckBox("write the frames as JPEG too")
        self.images_box.setChecked(True)
        form.addRow("", self.images_box)
        self.resolution_box = QComboBox()
        self.resolution_box.addItems(list(RESOLUTIONS))
        form.addRow("DAVIS size", self.resolution_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._sync()

    def _sync(self) -> None:
        self.resolution_box.setEnabled(self.format_box.currentData() == "davis")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.dir_edit.text())
        if folder:
            self.dir_edit.setText(folder)

    def settings(self) -> ExportSettings:
        """The chosen settings."""
        return ExportSettings(self.format_box.currentData(), Path(self.dir_edit.text()),
                              self.images_box.isChecked(), self.resolution_box.currentText())


class HelpDialog(QDialog):
    """Every mouse gesture and shortcut, from the one table the window binds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Shortcuts")
        items = rows()
        self.table = QTableWidget(len(items), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        for r, (keys, text) in enumerate(items):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.verticalHeader().hide()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(close)
        self.resize(560, 640)


def choose_open(parent: QWidget, start: str = "") -> str | None:
    """Ask for a video or project file."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open video or project", start, VIDEO_FILTER)
    return path or None


def choose_folder(parent: QWidget, start: str = "") -> str | None:
    """Ask for an image folder."""
    return QFileDialog.getExistingDirectory(parent, "Open image folder", start) or None
