"""Side panels for machine labelling: automatic instances (propose, map classes, review) and
DenseCLIP pseudo-labels (class names, preview, label range). Widgets only: every button calls
the tools in `auto_tool` / `text_tool`."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QPushButton,
    QWidget,
)

from annotator.backends.protocol import GROUNDER, PROPOSER
from annotator.ui.auto_suppression import SuppressionBox
from annotator.ui.auto_tool import AutoInstancesTool
from annotator.ui.controller import Controller
from annotator.ui.text_tool import TextTool
from annotator.ui.tools_panel import LineEdit


def _button(text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.clicked.connect(lambda _checked=False: slot())
    return button


def _backend_box(ctl: Controller, role: str, selected: str) -> QComboBox:
    """Ready backends of a role; when none is, the first one's reason is shown greyed out."""
    box = QComboBox()
    box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    for choice in ctl.backends:
        if role in choice.roles and choice.ready:
            box.addItem(choice.name, choice.id)
    if box.count() == 0:
        reason = next((c.problem for c in ctl.backends if role in c.roles and c.problem), None)
        box.addItem("none ready", "")
        box.setToolTip(reason or "no backend with this role is installed")
        box.setEnabled(False)
    box.setCurrentIndex(max(0, box.findData(selected)))
    return box


class AutoPanel(QGroupBox):
    """Propose instances (A), map detector classes, accept or reject Proposals."""

    def __init__(self, tool: AutoInstancesTool, open_map: Callable[[], object],
                 parent: QWidget | None = None) -> None:
        super().__init__("Automatic instances", parent)
        self.tool = tool
        self.proposer_box = _backend_box(tool.ctl, PROPOSER, tool.proposer_id)
        self.proposer_box.activated.connect(
            lambda i: setattr(tool, "proposer_id", self.proposer_box.itemData(i)))
        grid = QGridLayout(self)
        grid.addWidget(self.proposer_box, 0, 0, 1, 2)
        self.run_button = _button("Propose (A)", "instances on this frame or the In/Out range",
                                  tool.run)
        self.map_button = _button("Classes…", "map detector classes to labels, or ignore them",
                                  open_map)
        self.accept_button = _button("Accept", "the current object's proposals (Enter)",
                                     tool.accept)
        self.reject_button = _button("Reject", "delete the current proposal object (R)",
                                     tool.reject)
        self.accept_all_button = _button("Accept all", "every proposal (Shift+Enter)",
                                         lambda: tool.accept(every=True))
        self.reject_all_button = _button("Reject all", "every proposal-only object (Shift+R)",
                                         lambda: tool.reject(every=True))
        for k, b in enumerate((self.run_button, self.map_button, self.accept_button,
                               self.reject_button, self.accept_all_button,
                               self.reject_all_button)):
            grid.addWidget(b, 1 + k // 2, k % 2)
        self.suppression_box = SuppressionBox(tool)
        grid.addWidget(self.suppression_box, 4, 0, 1, 2)


class TextPanel(QGroupBox):
    """Class names and background names for DenseCLIP pseudo-labels."""

    def __init__(self, tool: TextTool, parent: QWidget | None = None) -> None:
        super().__init__("Pseudo-labels from class names", parent)
        self.tool = tool
        form = QFormLayout(self)
        self.grounder_box = _backend_box(tool.ctl, GROUNDER, tool.grounder_id)
        self.grounder_box.activated.connect(
            lambda i: setattr(tool, "grounder_id", self.grounder_box.itemData(i)))
        form.addRow("Backend", self.grounder_box)
        self.classes_edit = LineEdit()
        self.classes_edit.setPlaceholderText("classes, e.g. person, car")
        form.addRow("Classes", self.classes_edit)
        self.background_edit = LineEdit()
        self.background_edit.setPlaceholderText("background, e.g. sky, road")
        self.background_edit.setToolTip("names that help the classifier; never become objects")
        form.addRow("Background", self.background_edit)
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(0.0, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setValue(0.5)
        self.min_score.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        form.addRow("Min score", self.min_score)
        for edit in (self.classes_edit, self.background_edit):
            edit.editingFinished.connect(self.apply)
        self.preview_button = _button("Preview", "label map of this frame: click a region to "
                                      "make it an object", self.preview)
        self.range_button = _button("Label range", "pseudo-label the In/Out range (or this "
                                    "frame); manual masks are never replaced",
                                    self.label_range)
        grid = QGridLayout()
        grid.addWidget(self.preview_button, 0, 0)
        grid.addWidget(self.range_button, 0, 1)
        form.addRow(grid)
        enabled = tool.ready
        for widget in (self.classes_edit, self.background_edit, self.preview_button,
                       self.range_button):
            widget.setEnabled(enabled)

    def apply(self) -> None:
        """Hand the names to the tool (also used for the text prompt's background)."""
        self.tool.set_names(self.classes_edit.text(), self.background_edit.text(),
                            self.min_score.value())

    def preview(self) -> bool:
        """Show the label map of this frame for the names typed."""
        self.apply()
        return self.tool.preview()

    def label_range(self) -> bool:
        """Pseudo-label the In/Out range for the names typed."""
        self.apply()
        return self.tool.label_range()

    def prompt(self, phrase: str) -> bool:
        """A text prompt, with the background names typed here."""
        self.apply()
        return self.tool.prompt(phrase)
