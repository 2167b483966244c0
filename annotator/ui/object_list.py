"""The object list: a Qt model over the controller's Objects and a view with add/colour/delete.

Label edits, visibility checks and colours go straight to the store through the controller.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator.core.project import ObjectRecord
from annotator.core.types import Source
from annotator.ui.controller import Controller

Index = QModelIndex | QPersistentModelIndex


def object_title(obj: ObjectRecord) -> str:
    """How an object is named in lists and lanes."""
    return f"#{obj.id} {obj.label or 'object'}"


class ObjectModel(QAbstractListModel):
    """Rows = the current video's Objects; label editable, visibility checkable."""

    def __init__(self, ctl: Controller) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        ctl.objectsChanged.connect(self._reset)
        ctl.marksChanged.connect(self._restyle)

    def _reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def _restyle(self) -> None:
        if self.ctl.objects:
            self.dataChanged.emit(self.index(0), self.index(len(self.ctl.objects) - 1))

    def proposal(self, obj: ObjectRecord) -> bool:
        """Whether the object holds Proposals not yet accepted (listed in italics)."""
        return any(src == Source.PROPOSAL for src, _ in self.ctl.marks.get(obj.id, {}).values())

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.ctl.objects)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.ctl.objects):
            return None
        obj = self.ctl.objects[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            key = f"{index.row() + 1}  " if index.row() < 9 else ""
            note = "  (proposal: Enter accepts, R rejects)" if self.proposal(obj) else ""
            return f"{key}{object_title(obj)}{note}"
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setItalic(self.proposal(obj))
            return font
        if role == Qt.ItemDataRole.EditRole:
            return obj.label or ""
        if role == Qt.ItemDataRole.DecorationRole:
            return QColor(obj.color)
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if obj.visible else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            return "double-click to rename; the box shows or hides its masks"
        if role == Qt.ItemDataRole.UserRole:
            return obj.id
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid():
            base |= Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def setData(self, index: Index, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        obj = self.ctl.objects[index.row()]
        if role == Qt.ItemDataRole.EditRole:
            self.ctl.update_object(obj.id, label=str(value).strip())
            return True
        if role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            self.ctl.update_object(obj.id, visible=checked)
            return True
        return False


class ObjectList(QWidget):
    """The object list view with its buttons; selection follows the current object."""

    def __init__(self, ctl: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctl = ctl
        self.model = ObjectModel(ctl)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        buttons = QHBoxLayout()
        self.add_button = _button("Add", "new object (N)", lambda: ctl.add_object())
        self.color_button = _button("Colour", "change the selected object's colour",
                                    self.pick_color)
        self.delete_button = _button("Delete", "delete the selected object and its masks",
                                     self.delete_current)
        for b in (self.add_button, self.color_button, self.delete_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        layout.addLayout(buttons)
        ctl.currentObjectChanged.connect(lambda _o: self._sync())
        ctl.objectsChanged.connect(self._sync)

    def _sync(self) -> None:
        ids = [o.id for o in self.ctl.objects]
        if self.ctl.current in ids:
            index = self.model.index(ids.index(self.ctl.current))
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _on_current(self, index: QModelIndex, _previous: QModelIndex) -> None:
        if index.isValid():
            self.ctl.select_object(index.data(Qt.ItemDataRole.UserRole))

    def pick_color(self) -> None:
        """Ask for a colour for the current object."""
        obj = self.ctl.object(self.ctl.current)
        if obj is None:
            return
        color = QColorDialog.getColor(QColor(obj.color), self, "Object colour")
        if color.isValid():
            self.ctl.update_object(obj.id, color=color.name())

    def delete_current(self) -> None:
        """Delete the current object."""
        if self.ctl.current is not None:
            self.ctl.delete_object(self.ctl.current)


def _button(text: str, tip: str, slot: Any) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.clicked.connect(slot)
    return button
