"""The class-mapping dialog: each detector class -> a project label, its own name, or ignored."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

KEEP = "(keep the class name)"
IGNORE = "(ignore)"


class ClassMapDialog(QDialog):
    """A table of detector classes with an editable label each; `mapping()` reads it back."""

    def __init__(self, classes: list[str], mapping: dict[str, str | None], labels: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Detector classes")
        self._labels = [label for label in dict.fromkeys(labels) if label]
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Detector class", "Project label"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.new_class = QLineEdit()
        self.new_class.setPlaceholderText("another detector class, e.g. person")
        for name in dict.fromkeys([*classes, *mapping]):
            self.add_class(name, mapping.get(name, ""))
        add = QPushButton("Add")
        add.clicked.connect(lambda: self.add_class(self.new_class.text().strip()))
        row = QHBoxLayout()
        row.addWidget(self.new_class)
        row.addWidget(add)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self.resize(420, 360)

    def add_class(self, name: str, label: str | None = "") -> None:
        """A row for a detector class; label '' keeps the class name, None ignores it."""
        if not name or name in self.classes():
            return
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        box = QComboBox()
        box.setEditable(True)
        box.addItems([KEEP, IGNORE, *self._labels])
        box.setCurrentText(IGNORE if label is None else (label or KEEP))
        self.table.setCellWidget(row, 1, box)
        self.new_class.clear()

    def classes(self) -> list[str]:
        """The detector classes listed."""
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())]

    def label_box(self, name: str) -> QComboBox:
        """The label editor of a class's row."""
        row = self.classes().index(name)
        box = self.table.cellWidget(row, 1)
        assert isinstance(box, QComboBox)
        return box

    def mapping(self) -> dict[str, str | None]:
        """Class -> label (None = ignore); classes left at KEEP are not in the map."""
        out: dict[str, str | None] = {}
        for name in self.classes():
            text = self.label_box(name).currentText().strip()
            if text == IGNORE:
                out[name] = None
            elif text and text != KEEP:
                out[name] = text
        return out
