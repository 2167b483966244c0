"""Help > Models…: the Models dialog from the main window, and the backend lists refreshed after
a download so a backend whose weights just arrived can be picked without a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

from annotator.backends.protocol import GROUNDER, PROPOSER, SEGMENTER
from annotator.ui.controller import Controller
from annotator.ui.engines import BackendChoice, pick, registered_backends
from annotator.ui.models_dialog import ModelsDialog


def merge_choices(current: list[BackendChoice], fresh: list[BackendChoice]) -> None:
    """Replace the registry's entries in `current` by fresh ones (in place: the controller and
    its engines share the list); other entries, e.g. test backends, stay."""
    by_id = {c.id: c for c in fresh}
    current[:] = [by_id.pop(c.id, c) for c in current] + list(by_id.values())


def refill_box(box: QComboBox, ctl: Controller, role: str, selected: str) -> str:
    """Refill a panel's backend box with the ready backends of a role; returns the selection
    (the default for the role when nothing was selected)."""
    ready = [c for c in ctl.backends if c.ready and role in c.roles]
    if not ready:
        return selected
    chosen = selected or (pick(ctl.backends, role) or ready[0]).id
    box.clear()
    for choice in ready:
        box.addItem(choice.name, choice.id)
    box.setEnabled(True)
    box.setToolTip("")
    box.setCurrentIndex(max(0, box.findData(chosen)))
    return chosen


class ModelsMenu:
    """Opens the Models dialog and refreshes every backend list when a download finishes."""

    def __init__(self, window: QWidget, ctl: Controller,
                 on_refresh: Callable[[], None] | None = None) -> None:
        self.window, self.ctl = window, ctl
        self.on_refresh = on_refresh or (lambda: refresh_panels(window))
        self.dialog: ModelsDialog | None = None

    def open(self) -> ModelsDialog:
        """Show the dialog (one at a time)."""
        if self.dialog is None:
            self.dialog = ModelsDialog(self.window)
            self.dialog.downloaded.connect(lambda _model: self.refresh())
            self.dialog.finished.connect(lambda _r: self._closed())
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def _closed(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    def refresh(self) -> None:
        """Re-read the registry (weights may have arrived) and let the panels catch up."""
        ctl = self.ctl
        merge_choices(ctl.backends, registered_backends())
        if not ctl.backend_id:
            default = pick(ctl.backends, SEGMENTER)
            if default is not None:
                ctl.backend_id = default.id
        self.on_refresh()
        ctl.message.emit("backend list refreshed")


def refresh_panels(window: Any) -> None:
    """The main window's backend boxes after `ModelsMenu.refresh`: segmenters in the tools
    panel, proposers and grounders in the labelling panels."""
    window.tools.refill_backends()
    auto, text = window.auto, window.text
    auto.proposer_id = refill_box(window.auto_panel.proposer_box, auto.ctl, PROPOSER,
                                  auto.proposer_id)
    text.grounder_id = refill_box(window.text_panel.grounder_box, text.ctl, GROUNDER,
                                  text.grounder_id)
    panel = window.text_panel
    for widget in (panel.classes_edit, panel.background_edit, panel.preview_button,
                   panel.range_button):
        widget.setEnabled(text.ready)
