"""The real default backend through the UI: click -> GrabCut mask, F -> optical-flow masks."""

from __future__ import annotations

from PySide6.QtCore import Qt

from annotator.core.masks import decode, mask_iou
from tests.factories import square_video
from tests.ui.conftest import click, finish_jobs, key, make_window, open_video, wait_proposal


def test_classical_click_and_propagate(qtbot, settings, tmp_path):
    path, truth = square_video(tmp_path, count=8, size=(160, 96))
    w = make_window(qtbot, settings)
    w.ctl.set_backend("classical")
    assert w.ctl.backend_id == "classical"
    open_video(qtbot, w, path, tmp_path / "p.annotator")
    click(qtbot, w, 20, 48)  # the red square's centre on frame 0
    wait_proposal(qtbot, w)
    assert mask_iou(w.prompting.proposal.mask, truth[0]) > 0.6
    key(qtbot, w, Qt.Key.Key_Return)
    key(qtbot, w, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_O)  # Out = frame 3
    key(qtbot, w, Qt.Key.Key_Home)
    key(qtbot, w, Qt.Key.Key_F)
    finish_jobs(qtbot, w)
    obj = w.ctl.current
    assert sorted(w.ctl.marks[obj]) == [0, 1, 2, 3]
    for f in (1, 2, 3):
        assert mask_iou(decode(w.ctl.store.mask(obj, f).rle), truth[f]) > 0.5
    w.ctl.close()
