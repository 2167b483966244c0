"""The main window: composes canvas, timeline, object list, tools panel and status bar, and
binds the shortcut table to controller intents. No project logic lives here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QColor, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from annotator.core.errors import AnnotatorError
from annotator.ui.auto_tool import AutoInstancesTool
from annotator.ui.canvas import Canvas, Tool
from annotator.ui.class_map import ClassMapDialog
from annotator.ui.controller import BackendChoice, Controller
from annotator.ui.dialogs import ExportDialog, HelpDialog, choose_folder, choose_open
from annotator.ui.labeling_panel import AutoPanel, TextPanel
from annotator.ui.lookahead import Lookahead
from annotator.ui.models_menu import ModelsMenu
from annotator.ui.object_list import ObjectList, object_title
from annotator.ui.overlay import OverlayMode, compose, hex_rgb
from annotator.ui.prompting import Prompting
from annotator.ui.recent import recent_projects
from annotator.ui.runs import Runs
from annotator.ui.sensor_dock import install_sensor_dock
from annotator.ui.shortcuts import SHORTCUTS
from annotator.ui.status import StatusArea
from annotator.ui.suggestions import LabelSuggestions
from annotator.ui.suggestions_view import SuggestionsPanel, open_review
from annotator.ui.text_tool import TextTool
from annotator.ui.timeline import Timeline, build_lane
from annotator.ui.tools_panel import ToolsPanel

PROPOSAL_ALPHA = 0.6
HOVER_ALPHA = 0.25


class MainWindow(QMainWindow):
    """Canvas over timeline in the centre; objects and tools on the right; status below."""

    def __init__(self, backends: list[BackendChoice] | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Annotator")
        self.setAcceptDrops(True)
        self.ctl = Controller(backends, settings, self)
        self.prompting = Prompting(self.ctl)
        self.runs = Runs(self.ctl)
        self.canvas = Canvas()
        self.timeline = Timeline()
        self.objects = ObjectList(self.ctl)
        self.tools = ToolsPanel(self.ctl, self.prompting)
        self.lookahead = Lookahead(self.ctl, self.prompting)
        self.auto = AutoInstancesTool(self.ctl)
        self.text = TextTool(self.ctl, self.prompting)
        self.auto_panel = AutoPanel(self.auto, self.class_map_dialog)
        self.text_panel = TextPanel(self.text)
        self.suggestions = LabelSuggestions(self.ctl, self.prompting)
        self.suggestions_panel = SuggestionsPanel(self.suggestions)
        self.models_menu = ModelsMenu(self, self.ctl)
        self._compose()
        self.status = StatusArea(self.statusBar(), self.ctl, self.runs.cancel)
        s = self.status
        self.frame_label, self.backend_label, self.memory_label = (
            s.frame_label, s.backend_label, s.memory_label)
        self.progress, self.cancel_button = s.progress, s.cancel_button
        self.actions_by_name = self._bind_shortcuts()
        self._menus()
        self._wire()
        self.sensors = install_sensor_dock(self)
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_tick)
        self.resize(1280, 800)

    # --- layout ---------------------------------------------------------------------------------

    def _compose(self) -> None:
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.canvas)
        split.addWidget(self.timeline)
        split.setStretchFactor(0, 1)
        self.setCentralWidget(split)
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.addWidget(self.objects, 1)
        layout.addWidget(self.tools)
        layout.addWidget(self.suggestions_panel)
        layout.addWidget(self.auto_panel)
        layout.addWidget(self.text_panel)
        dock = QDockWidget("Objects and tools")
        dock.setObjectName("side")
        dock.setWidget(side)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _menus(self) -> None:
        a = self.actions_by_name
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([a["open"], a["open_folder"]])
        self.recent_menu = file_menu.addMenu("Recent projects")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(a["export"])
        edit = self.menuBar().addMenu("&Edit")
        edit.addActions([a["undo"], a["redo"], a["delete_mask"], a["new_object"]])
        view = self.menuBar().addMenu("&View")
        view.addActions([a["overlay_mode"], a["zoom_in"], a["zoom_out"], a["zoom_fit"]])
        video = self.menuBar().addMenu("&Video")
        video.addActions([a[n] for n in ("play", "set_in", "set_out", "clear_range",
                                          "propagate_forward", "propagate_backward")])
        label = self.menuBar().addMenu("&Label")
        label.addActions([a[n] for n in ("auto_instances", "accept_all_proposals",
                                          "reject_proposals", "reject_all_proposals")])
        label.addAction("Detector classes…", self.class_map_dialog)
        label.addSeparator()
        label.addAction("Preview pseudo-labels", _bind(self._guard, self.text_panel.preview))
        label.addAction("Pseudo-label the range",
                        _bind(self._guard, self.text_panel.label_range))
        label.addActions([a["text_prompt"], a["accept_suggestion"], a["suggest_labels"]])
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(a["help"])
        self.models_action = help_menu.addAction("Models…", self.models_menu.open)

    def _bind_shortcuts(self) -> dict[str, QAction]:
        handlers = self._handlers()
        actions: dict[str, QAction] = {}
        for shortcut in SHORTCUTS:
            if shortcut.name == "select_object":
                for k, key in enumerate(shortcut.keys):
                    self._action(f"select_{k + 1}", f"Object {key}", (key,),
                                 _bind(self.ctl.select_index, k))
                continue
            actions[shortcut.name] = self._action(shortcut.name, shortcut.text, shortcut.keys,
                                                  handlers[shortcut.name])
        return actions

    def _action(self, name: str, text: str, keys: tuple[str, ...],
                slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: self._guard(slot))
        self.addAction(action)
        return action

    def _handlers(self) -> dict[str, Callable[[], object]]:
        ctl, p = self.ctl, self.prompting
        return {
            "open": self.open_dialog, "open_folder": self.open_folder_dialog,
            "export": self.export_dialog, "undo": ctl.undo, "redo": ctl.redo,
            "tool_prompt": _bind(self.set_tool, Tool.PROMPT),
            "tool_brush": _bind(self.set_tool, Tool.BRUSH),
            "tool_eraser": _bind(self.set_tool, Tool.ERASER),
            "brush_smaller": _bind(self._brush_step, -1),
            "brush_larger": _bind(self._brush_step, 1),
            "cycle": p.cycle, "accept": lambda: p.accept() or self.auto.accept(),
            "escape": self.escape, "auto_instances": self.auto.run,
            "accept_all_proposals": _bind(self.auto.accept, True),
            "reject_proposals": self.auto.reject,
            "reject_all_proposals": _bind(self.auto.reject, True),
            "text_prompt": self.tools.text_prompt.setFocus,
            "accept_suggestion": self.suggestions.accept_top,
            "suggest_labels": self.suggestions.suggest_all,
            "delete_mask": p.delete_mask, "new_object": ctl.add_object,
            "toggle_visible": self._toggle_visible,
            "prev_frame": _bind(ctl.step, -1), "next_frame": _bind(ctl.step, 1),
            "prev_10": _bind(ctl.step, -10), "next_10": _bind(ctl.step, 10),
            "first_frame": _bind(ctl.set_frame, 0),
            "last_frame": lambda: ctl.set_frame(ctl.frame_count - 1),
            "play": self.toggle_play, "set_in": ctl.set_in, "set_out": ctl.set_out,
            "clear_range": ctl.clear_range,
            "propagate_forward": _bind(self.runs.propagate, False),
            "propagate_backward": _bind(self.runs.propagate, True),
            "overlay_mode": self._next_overlay,
            "zoom_in": _bind(self.canvas.zoom, 1.25), "zoom_out": _bind(self.canvas.zoom, 0.8),
            "zoom_fit": self.canvas.fit, "help": self.show_help,
        }

    def _wire(self) -> None:
        ctl, c, t = self.ctl, self.canvas, self.timeline
        ctl.imageReady.connect(self._on_image)
        ctl.previewReady.connect(self._on_preview)
        ctl.overlayChanged.connect(self._refresh_overlay)
        ctl.frameChanged.connect(self.timeline.set_playhead)
        ctl.marksChanged.connect(self._refresh_lanes)
        ctl.objectsChanged.connect(self._refresh_lanes)
        ctl.currentObjectChanged.connect(t.set_current)
        ctl.rangeChanged.connect(lambda: t.set_range(*ctl.range))
        ctl.projectOpened.connect(self._on_project)
        ctl.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.prompting.proposalChanged.connect(self._refresh_proposal)
        c.pointClicked.connect(lambda x, y, pos: self._guard(lambda: self._click(x, y, pos)))
        c.hovered.connect(self.lookahead.hover)
        c.pointerLeft.connect(self.lookahead.leave)
        self.lookahead.hoverChanged.connect(self._refresh_hover)
        self.text.labelsChanged.connect(lambda: c.show_labels(self.text.layer()))
        self.tools.textPrompted.connect(
            lambda phrase: self._guard(lambda: self.text_panel.prompt(phrase)))
        c.boxDrawn.connect(lambda box: self._guard(lambda: self.prompting.set_box(box)))
        c.stroked.connect(lambda mask, erase: self._guard(
            lambda: self.prompting.paint(mask, erase)))
        t.frameRequested.connect(ctl.set_frame)
        self.suggestions.reviewReady.connect(
            lambda results: setattr(self, "review", open_review(self.suggestions, results, self)))
        self.tools.toolChanged.connect(lambda name: self.set_tool(Tool(name)))
        self.tools.brushSizeChanged.connect(lambda size: setattr(c, "brush_size", size))
        self.tools.propagateRequested.connect(self.runs.propagate)

    # --- intents --------------------------------------------------------------------------------

    def open_path(self, path: str | Path) -> None:
        """Open a video, image folder or project, reporting problems in the status bar."""
        self._guard(lambda: self.ctl.open_path(path))

    def open_dialog(self) -> None:
        """File > Open."""
        path = choose_open(self)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        """File > Open image folder."""
        path = choose_folder(self)
        if path:
            self.open_path(path)

    def export_dialog(self) -> ExportDialog | None:
        """Ask for export settings, then export in the background."""
        if self.ctl.project_path is None:
            self.statusBar().showMessage("open a project first", 5000)
            return None
        dialog = ExportDialog(self.ctl.project_path.parent / "export", self)
        dialog.accepted.connect(lambda: self._export(dialog))
        dialog.open()
        return dialog

    def _export(self, dialog: ExportDialog) -> None:
        s = dialog.settings()
        self.runs.export(s.fmt, s.out_dir, images=s.images, resolution=s.resolution)

    def show_help(self) -> HelpDialog:
        """Help > Shortcuts."""
        dialog = HelpDialog(self)
        dialog.open()
        return dialog

    def set_tool(self, tool: Tool) -> None:
        """Choose what the left mouse button does."""
        self.canvas.tool = tool
        self.tools.set_tool(tool)

    def class_map_dialog(self) -> ClassMapDialog:
        """Label > Detector classes: map each class to a label or ignore it (kept in settings)."""
        labels = [o.label for o in self.ctl.objects if o.label]
        dialog = ClassMapDialog(self.auto.known_classes(), self.auto.label_map(), labels, self)
        dialog.accepted.connect(lambda: self.auto.set_label_map(dialog.mapping()))
        dialog.open()
        return dialog

    def _click(self, x: float, y: float, positive: bool) -> None:
        if self.text.showing and positive:
            self.text.pick(x, y)
        else:
            self.prompting.add_point(x, y, positive)

    def escape(self) -> None:
        """Drop the proposal or the label-map preview, else cancel a running job."""
        if self.prompting.active:
            self.prompting.drop()
        elif self.text.showing:
            self.text.clear_preview()
        elif not self.runs.cancel():
            self.statusBar().showMessage("nothing to drop or cancel", 3000)

    def toggle_play(self) -> None:
        """Play from the current frame at the video's rate, or pause."""
        if self.play_timer.isActive():
            self.play_timer.stop()
        elif self.ctl.video is not None:
            self.play_timer.start(max(5, round(1000 / max(1.0, self.ctl.video.fps))))

    def _play_tick(self) -> None:
        ctl = self.ctl
        if ctl.frame >= ctl.frame_count - 1:
            self.play_timer.stop()
        elif ctl.image_index == ctl.frame:
            ctl.step(1)

    def _brush_step(self, direction: int) -> None:
        size = self.tools.brush_size.value()
        self.tools.brush_size.setValue(max(1, round(size * (1.25 if direction > 0 else 0.8))))

    def _toggle_visible(self) -> None:
        obj = self.ctl.object(self.ctl.current)
        if obj is not None:
            self.ctl.update_object(obj.id, visible=not obj.visible)

    def _next_overlay(self) -> None:
        mode = self.ctl.overlays.mode.next()
        self.tools.overlay_box.setCurrentIndex(list(OverlayMode).index(mode))

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except AnnotatorError as exc:
            self.statusBar().showMessage(str(exc), 10000)

    # --- view updates ---------------------------------------------------------------------------

    def _on_project(self) -> None:
        path = self.ctl.project_path
        self.setWindowTitle(f"Annotator — {path.name}" if path else "Annotator")
        self._refresh_lanes()

    def _on_image(self, _index: int) -> None:
        if self.ctl.image is not None:
            self.canvas.show_frame(self.ctl.image)
        self._refresh_overlay()
        self._refresh_prompt_glyphs()

    def _on_preview(self, _index: int, image: object) -> None:
        """A scrub-proxy frame with its masks, until the exact frame replaces it."""
        self.canvas.show_frame(image)  # type: ignore[arg-type]
        self.canvas.show_overlay(self.ctl.overlay())

    def _refresh_overlay(self) -> None:
        if self.ctl.image_index == self.ctl.frame:
            self.canvas.show_overlay(self.ctl.overlay())

    def _refresh_proposal(self) -> None:
        ctl, proposal = self.ctl, self.prompting.proposal
        obj = ctl.object(ctl.current)
        if proposal is None or obj is None:
            self.canvas.show_proposal(None)
        else:
            layer = compose([(proposal.mask, hex_rgb(obj.color))], proposal.mask.shape,
                            OverlayMode.FILL, PROPOSAL_ALPHA)
            self.canvas.show_proposal(layer)
        self._refresh_prompt_glyphs()

    def _refresh_hover(self) -> None:
        mask, obj = self.lookahead.preview, self.ctl.object(self.ctl.current)
        color = hex_rgb(obj.color) if obj else (255, 255, 255)
        self.canvas.show_hover(None if mask is None else compose(
            [(mask, color)], mask.shape, OverlayMode.FILL, HOVER_ALPHA))

    def _refresh_prompt_glyphs(self) -> None:
        prompts = self.prompting.prompts
        obj = self.ctl.object(self.ctl.current)
        color = QColor(obj.color if obj else "#ffffff")
        self.canvas.show_prompts(list(prompts.points), prompts.box, color)

    def _refresh_lanes(self) -> None:
        ctl = self.ctl
        lanes = [build_lane(o.id, object_title(o), o.color, ctl.frame_count,
                            ctl.marks.get(o.id, {}), ctl.prompt_frames.get(o.id, set()))
                 for o in ctl.objects]
        self.timeline.set_lanes(ctl.frame_count, lanes)
        self.timeline.set_current(ctl.current)
        self.timeline.set_playhead(ctl.frame)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in recent_projects(self.ctl.settings):
            action = self.recent_menu.addAction(path)
            action.triggered.connect(_bind(self.open_path, path))

    # --- window events --------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(urls[0])

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.ctl.model_lane.occupied or self.ctl.io_lane.occupied:
            answer = QMessageBox.question(self, "Annotator",
                                          "A job is running. Cancel it and quit? Finished "
                                          "frames are already saved.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.ctl.close()
        event.accept()


def _bind(func: Callable[..., object], *args: object) -> Callable[[], object]:
    return lambda *_a: func(*args)
