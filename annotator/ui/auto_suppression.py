"""The "Suppression" choice for automatic instances: Fast NMS (YOLACT's own) or one of the NMS
family, and the NOH head file NOH-NMS needs. NOH-NMS stays greyed out, with the reason and the
fix in its tooltip and in the note below, until a head file is chosen. Widgets only: the choice
lives in `AutoInstancesTool` (QSettings)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator.tools.auto_instances import NOH_HELP, SUPPRESSIONS
from annotator.ui.auto_tool import AutoInstancesTool

NOH_SHORT = "NOH-NMS is off: it needs a trained head (none is released); see NOH head…"

HEAD_FILTER = "PyTorch state dict (*.pth *.pt);;All files (*)"
TIPS = {
    "fast": "YOLACT's Fast NMS (official): already-suppressed boxes still suppress",
    "greedy": "classic NMS: keeps every box Fast NMS keeps, and a few more",
    "cluster": "Cluster-NMS: the same boxes as greedy NMS, in parallel passes",
    "matrix": "Matrix NMS (SOLOv2): overlapping boxes keep decayed scores",
    "noh": "NOH-NMS: spares overlapping boxes where a hallucinated nearby object is expected",
}


class SuppressionBox(QWidget):
    """A combo box of SUPPRESSIONS, a "NOH head…" button and a one-line note."""

    def __init__(self, tool: AutoInstancesTool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tool = tool
        self.combo = QComboBox()
        self.combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.combo.setToolTip("how overlapping proposals of one class are suppressed")
        for key, name in SUPPRESSIONS.items():
            self.combo.addItem(name, key)
            self.combo.setItemData(self.combo.count() - 1, TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.head_button = QPushButton("NOH head…")
        self.head_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.head_button.setToolTip("the state dict of a trained nearby-objects hallucinator "
                                    "head (annotator.nn.ops.noh.NOHHead)")
        self.head_button.clicked.connect(lambda _checked=False: self.pick_head())
        self.note = QLabel()
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Suppression"))
        row.addWidget(self.combo, 1)
        row.addWidget(self.head_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.note)
        self.combo.activated.connect(self._chosen)
        self.refresh()

    def _noh_row(self) -> int:
        return self.combo.findData("noh")

    def refresh(self) -> None:
        """Grey NOH-NMS out unless a head file is configured; show the saved choice."""
        head = self.tool.noh_head()
        model = self.combo.model()
        assert isinstance(model, QStandardItemModel)
        item = model.item(self._noh_row())
        item.setEnabled(bool(head))
        item.setToolTip(TIPS["noh"] if head else NOH_HELP)
        self.note.setText(f"NOH head: {Path(head).name}" if head else NOH_SHORT)
        self.note.setToolTip(head or NOH_HELP)
        chosen = self.tool.suppression()
        if chosen == "noh" and not head:
            chosen = "fast"
        self.combo.setCurrentIndex(self.combo.findData(chosen))

    def _chosen(self, row: int) -> None:
        self.tool.set_suppression(str(self.combo.itemData(row)))
        self.refresh()

    def set_head(self, path: str) -> None:
        """Use this NOH head file ("" forgets it); NOH-NMS becomes selectable when it exists."""
        self.tool.set_noh_head(path)
        self.refresh()

    def pick_head(self) -> None:
        """Ask for the NOH head file."""
        path, _ = QFileDialog.getOpenFileName(self, "NOH head weights", "", HEAD_FILTER)
        if path:
            self.set_head(path)
