"""The tools panel: video and backend choice, mouse tool, brush size, overlay mode, text prompt,
candidate info and propagation buttons. Backends that cannot run are listed greyed out with the
reason and the fix."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from annotator.backends.protocol import GROUNDER, SEGMENTER
from annotator.ui.canvas import Tool
from annotator.ui.controller import Controller
from annotator.ui.engines import pick
from annotator.ui.overlay import OverlayMode
from annotator.ui.prompting import Prompting

BRUSH_SIZES = (1, 200)


class LineEdit(QLineEdit):
    """A line edit that keeps Enter and Esc for itself while it has focus, instead of the
    window's shortcuts (accept the proposal, drop it)."""

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and \
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clearFocus()
            return
        super().keyPressEvent(event)


class ToolsPanel(QWidget):
    """Controls that plug into the controller; emits `toolChanged` and `brushSizeChanged`."""

    toolChanged = Signal(str)
    brushSizeChanged = Signal(int)
    propagateRequested = Signal(bool)
    """reverse"""
    textPrompted = Signal(str)

    def __init__(self, ctl: Controller, prompting: Prompting,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctl, self.prompting = ctl, prompting
        form = QFormLayout(self)
        self.video_box = QComboBox()
        self.video_box.activated.connect(self._on_video)
        form.addRow("Video", self.video_box)
        self.backend_box = QComboBox()
        self._fill_backends()
        self.backend_box.activated.connect(
            lambda i: ctl.set_backend(self.backend_box.itemData(i)))
        form.addRow("Backend", self.backend_box)
        form.addRow("Tool", self._tool_row())
        self.brush_size = QSpinBox()
        self.brush_size.setRange(*BRUSH_SIZES)
        self.brush_size.setValue(15)
        self.brush_size.setToolTip("brush and eraser diameter in frame pixels ([ and ])")
        self.brush_size.valueChanged.connect(self.brushSizeChanged)
        form.addRow("Brush size", self.brush_size)
        self.overlay_box = QComboBox()
        for mode in OverlayMode:
            self.overlay_box.addItem(mode.value, mode)
        self.overlay_box.currentIndexChanged.connect(
            lambda i: ctl.set_overlay_mode(self.overlay_box.itemData(i)))
        form.addRow("Overlay", self.overlay_box)
        self.text_prompt = LineEdit()
        self.text_prompt.setPlaceholderText("describe the object, Enter to prompt")
        self.text_prompt.returnPressed.connect(
            lambda: self.textPrompted.emit(self.text_prompt.text()))
        form.addRow("Text", self.text_prompt)
        self.candidate_label = QLabel("no proposal")
        form.addRow("Proposal", self.candidate_label)
        form.addRow(self._propagate_row())
        for widget in (self.video_box, self.backend_box, self.overlay_box, self.brush_size):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        ctl.projectOpened.connect(self._fill_videos)
        ctl.backendChanged.connect(lambda _b: self._sync_backend())
        prompting.proposalChanged.connect(self._sync_proposal)
        self._sync_backend()

    def _tool_row(self) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[Tool, QToolButton] = {}
        for tool, key in ((Tool.PROMPT, "V"), (Tool.BRUSH, "D"), (Tool.ERASER, "E")):
            button = QToolButton()
            button.setText(tool.value.capitalize())
            button.setToolTip(f"{tool.value} ({key})")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(_emit(self.toolChanged.emit, tool.value))
            self.tool_group.addButton(button)
            self.tool_buttons[tool] = button
            layout.addWidget(button)
        self.tool_buttons[Tool.PROMPT].setChecked(True)
        return row

    def _propagate_row(self) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for text, tip, reverse in (("◀ Propagate", "propagate backward to In (B)", True),
                                   ("Propagate ▶", "propagate forward to Out (F)", False)):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(_emit(self.propagateRequested.emit, reverse))
            layout.addWidget(button)
        return row

    def set_tool(self, tool: Tool) -> None:
        """Reflect the active tool."""
        self.tool_buttons[tool].setChecked(True)

    def _fill_backends(self) -> None:
        model = self.backend_box.model()
        assert isinstance(model, QStandardItemModel)
        for choice in self.ctl.backends:
            if choice.roles and SEGMENTER not in choice.roles:
                continue  # proposers and text backends have their own panels
            text = choice.name if choice.problem is None else f"{choice.name} (unavailable)"
            self.backend_box.addItem(text, choice.id)
            item = model.item(self.backend_box.count() - 1)
            if choice.problem is not None:
                item.setEnabled(False)
                item.setToolTip(choice.problem)
            else:
                item.setToolTip(", ".join(sorted(choice.prompts)) + " prompts")

    def refill_backends(self) -> None:
        """List the backends again (after a download made one ready)."""
        self.backend_box.clear()
        self._fill_backends()
        self._sync_backend()

    def _sync_backend(self) -> None:
        index = self.backend_box.findData(self.ctl.backend_id)
        if index >= 0:
            self.backend_box.setCurrentIndex(index)
        choice = self.ctl.choice()
        takes_text = choice is not None and "text" in choice.prompts
        grounder = pick(self.ctl.backends, GROUNDER)
        self.text_prompt.setEnabled(takes_text or grounder is not None)
        self.text_prompt.setToolTip(
            f"{grounder.name} finds the phrase, the segmenter outlines it" if grounder else
            "" if takes_text else "needs a text backend: get DenseCLIP's weights "
            "(annotator models get clip_vit_b16)")

    def _fill_videos(self) -> None:
        self.video_box.clear()
        if self.ctl.store is None:
            return
        for video in self.ctl.store.videos():
            self.video_box.addItem(video.name, video.id)
        if self.ctl.video is not None:
            self.video_box.setCurrentIndex(self.video_box.findData(self.ctl.video.id))

    def _on_video(self, index: int) -> None:
        video_id = self.video_box.itemData(index)
        if video_id is not None and (self.ctl.video is None or video_id != self.ctl.video.id):
            self.ctl.select_video(video_id)

    def _sync_proposal(self) -> None:
        p = self.prompting
        if p.proposal is None:
            self.candidate_label.setText("waiting for the backend…" if p.active else "no proposal")
            return
        self.candidate_label.setText(f"candidate {p.index + 1}/{len(p.candidates)}, "
                                     f"score {p.proposal.score:.2f} (Tab, Enter, Esc)")


def _emit(signal_emit: Callable[..., object], value: object) -> Callable[[], None]:
    return lambda *_args: signal_emit(value)
