"""Autosave and reopen, recent projects, drag and drop, backend listing, help, sample start."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from annotator.core.masks import decode
from annotator.ui.controller import BackendChoice
from annotator.ui.dialogs import HelpDialog
from annotator.ui.main_window import MainWindow
from annotator.ui.recent import recent_projects
from annotator.ui.shortcuts import MOUSE, SHORTCUTS, markdown_table, rows
from tests.ui.conftest import click, finish_jobs, key, make_window, open_video, wait_proposal
from tests.ui.disc_backend import choice


def test_reopening_restores_the_project(qtbot, settings, square, tmp_path):
    project = tmp_path / "p.annotator"
    w = make_window(qtbot, settings)
    open_video(qtbot, w, square, project)
    click(qtbot, w, 30, 32)
    wait_proposal(qtbot, w)
    key(qtbot, w, Qt.Key.Key_Return)
    key(qtbot, w, Qt.Key.Key_F)
    finish_jobs(qtbot, w)
    model = w.objects.model
    model.setData(model.index(0), "ball")  # rename through the list's model
    model.setData(model.index(0), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    expected = {f: decode(w.ctl.store.mask(w.ctl.current, f).rle) for f in (0, 7)}
    assert not w.ctl.objects[0].visible and w.ctl.objects[0].label == "ball"
    w.close()  # nothing to save: every edit is already in the file
    assert w.ctl.store is None

    w2 = MainWindow([choice()], settings)
    qtbot.addWidget(w2)
    w2.show()
    recent = recent_projects(w2.ctl.settings)
    assert recent[0] == str(project.resolve())
    w2._fill_recent()
    w2.recent_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: w2.ctl.image_index == 0)
    ctl = w2.ctl
    assert [v.path for v in ctl.store.videos()] == [str(square.resolve())]
    assert [(o.label, o.visible) for o in ctl.objects] == [("ball", False)]
    obj = ctl.objects[0].id
    for f, mask in expected.items():
        assert np.array_equal(decode(ctl.store.mask(obj, f).rle), mask)
    assert len(ctl.store.prompts(ctl.video.id, obj)) == 1
    lane = w2.timeline.lane(obj)
    assert lane.state.all() and lane.prompts == {0}
    rows = w2.objects.model
    assert rows.rowCount() == 1 and rows.data(rows.index(0)).endswith("ball")
    assert w2.canvas.overlay_item.image.pixel(30, 32) == 0  # hidden object draws nothing
    w2.objects.model.setData(w2.objects.model.index(0), Qt.CheckState.Checked.value,
                             Qt.ItemDataRole.CheckStateRole)
    assert w2.canvas.overlay_item.image.pixel(30, 32) != 0
    w2.ctl.close()


def test_dropping_a_video_opens_it(qtbot, window, square, tmp_path):
    w = window
    w.ctl.open_project(tmp_path / "drop.annotator")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(square))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.dragEnterEvent(enter)  # offscreen Qt has no drag manager to route these, so call the
    assert enter.isAccepted()  # window's handlers with real event objects
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(drop)
    qtbot.waitUntil(lambda: w.ctl.image_index == 0)
    assert w.ctl.video is not None and w.ctl.video.name == square.stem
    assert w.tools.video_box.count() == 1 and w.frame_label.text().startswith("frame 1 /")


def test_opening_a_bare_video_makes_a_project_beside_it(qtbot, window, square):
    window.open_path(square)
    qtbot.waitUntil(lambda: window.ctl.image_index == 0)
    assert window.ctl.project_path == square.parent / f"{square.stem}.annotator"
    assert window.ctl.project_path.exists()


def test_unavailable_backend_is_greyed_out_with_the_fix(qtbot, settings):
    broken = BackendChoice("heavy", "Heavy model", "needs the weights: annotator models get "
                           "heavy", None)
    w = MainWindow([choice(), broken], settings)
    qtbot.addWidget(w)
    box = w.tools.backend_box
    item = box.model().item(box.findData("heavy"))
    assert not item.isEnabled() and "annotator models get heavy" in item.toolTip()
    messages = []
    w.ctl.message.connect(messages.append)
    w.ctl.set_backend("heavy")
    assert w.ctl.backend_id == "discs" and "unavailable" in messages[-1]
    assert "discs" in w.backend_label.text() and "MiB" in w.memory_label.text()
    assert w.tools.text_prompt.isEnabled()  # the disc backend takes text prompts
    w.ctl.close()


def test_help_lists_every_shortcut(qtbot, window):
    key(qtbot, window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(HelpDialog)))
    dialog = next(d for d in window.findChildren(HelpDialog) if d.isVisible())
    assert dialog.table.rowCount() == len(rows()) == len(SHORTCUTS) + len(MOUSE)
    texts = {dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert {s.text for s in SHORTCUTS} <= texts
    table = markdown_table()
    assert "| Ctrl+Z | Undo" in table and "| Tab |" in table
    bound = {a.objectName() for a in window.actions()}
    assert {s.name for s in SHORTCUTS if s.name != "select_object"} <= bound
    dialog.close()


def test_timeline_click_seeks(qtbot, window, square, tmp_path):
    w = window
    open_video(qtbot, w, square, tmp_path / "p.annotator")
    t = w.timeline
    x = round(t.x_of(12.5))
    qtbot.mouseClick(t, Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert w.ctl.frame == 12
    qtbot.waitUntil(lambda: w.ctl.image_index == 12)
    assert t.playhead == 12
