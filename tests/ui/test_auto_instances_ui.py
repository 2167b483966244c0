"""Automatic instances from the GUI: A on the In/Out range gives linked Proposal objects drawn
faint and marked in the list; Enter accepts (undoable), R rejects; the class map persists; the
suppression choice persists, NOH-NMS only with a head file, and reaches a real YOLACT."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox

from annotator.backends.protocol import PROPOSER
from annotator.core.masks import decode
from annotator.core.types import Source
from annotator.ui.auto_suppression import SuppressionBox
from annotator.ui.auto_tool import AutoInstancesTool
from annotator.ui.class_map import IGNORE, ClassMapDialog
from annotator.ui.engines import BackendChoice
from annotator.ui.overlay import FILL_ALPHA, PROPOSAL_SHARE
from tests.ui.conftest import finish_jobs, key, make_window, open_video
from tests.ui.lab_backends import BlobProposer, as_choice, iou, red_box, truth

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot, settings, blobs, tmp_path):
    w = make_window(qtbot, settings, extra=[as_choice(BlobProposer())])
    open_video(qtbot, w, blobs, tmp_path / "p.annotator")
    yield w
    finish_jobs(qtbot, w)
    w.ctl.close()


def _sources(w, obj) -> dict[int, str]:
    return {r.frame: r.mask.provenance.source for r in w.ctl.store.masks(w.ctl.video.id,
                                                                         object_id=obj)}


def test_range_gives_linked_proposals_then_accept_reject_undo(qtbot, window):
    w = window
    assert w.auto.proposer_id == "blobs"
    key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_I)  # In at 1
    for _ in range(4):
        key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_O)  # Out at 5
    key(qtbot, w, Qt.Key.Key_A)
    assert w.ctl.model_lane.foreground == "auto-instances"
    finish_jobs(qtbot, w)
    red, blue = sorted(w.ctl.objects, key=lambda o: o.label == "blue")
    assert (red.label, blue.label) == ("red", "blue")  # one object per square, linked
    assert _sources(w, red.id) == dict.fromkeys(range(1, 6), Source.PROPOSAL)
    mask = decode(w.ctl.store.mask(red.id, 3).rle)
    assert iou(mask, truth(red_box(3))) > 0.8
    rows = [w.objects.model.index(k).data() for k in range(2)]
    assert all("proposal" in row for row in rows)
    qtbot.waitUntil(lambda: w.ctl.image_index == w.ctl.frame == 5)
    y0, y1, x0, x1 = red_box(5)
    pixel = w.canvas.overlay_item.image.pixel((x0 + x1) // 2, (y0 + y1) // 2)
    assert pixel >> 24 == round(255 * FILL_ALPHA * PROPOSAL_SHARE)  # faint fill

    w.ctl.select_object(red.id)
    key(qtbot, w, Qt.Key.Key_Return)  # accept the current object's proposals
    assert _sources(w, red.id) == dict.fromkeys(range(1, 6), Source.MANUAL)
    assert "proposal" not in w.objects.model.index(0).data()
    pixel = w.canvas.overlay_item.image.pixel((x0 + x1) // 2, (y0 + y1) // 2)
    assert pixel >> 24 == round(255 * FILL_ALPHA)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo: proposals again
    assert _sources(w, red.id) == dict.fromkeys(range(1, 6), Source.PROPOSAL)
    key(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert _sources(w, red.id) == dict.fromkeys(range(1, 6), Source.MANUAL)

    w.ctl.select_object(blue.id)
    key(qtbot, w, Qt.Key.Key_R)  # reject the blue proposals: the object goes
    assert [o.id for o in w.ctl.objects] == [red.id]
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # ...and comes back whole with Ctrl+Z
    assert [o.id for o in w.ctl.objects] == [red.id, blue.id]
    assert _sources(w, blue.id) == dict.fromkeys(range(1, 6), Source.PROPOSAL)
    key(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert [o.id for o in w.ctl.objects] == [red.id]
    key(qtbot, w, Qt.Key.Key_R, SHIFT)  # nothing left that holds only proposals
    assert [o.id for o in w.ctl.objects] == [red.id]
    assert w.ctl.store.count_masks() == 5


def test_class_map_dialog_maps_and_ignores_and_persists(qtbot, window, settings):
    w = window
    key(qtbot, w, Qt.Key.Key_A)  # this frame only: learn the classes
    finish_jobs(qtbot, w)
    key(qtbot, w, Qt.Key.Key_R, SHIFT)
    assert w.ctl.objects == []
    dialog = w.class_map_dialog()
    assert isinstance(dialog, ClassMapDialog) and dialog.classes() == ["red", "blue"]
    dialog.label_box("red").setCurrentText("car")
    dialog.label_box("blue").setCurrentText(IGNORE)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    assert w.auto.label_map() == {"red": "car", "blue": None}
    key(qtbot, w, Qt.Key.Key_A)
    finish_jobs(qtbot, w)
    assert [o.label for o in w.ctl.objects] == ["car"]
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    w.ctl.settings = again  # a later session reads the same map
    assert AutoInstancesTool(w.ctl).label_map() == {"red": "car", "blue": None}
    assert np.any(decode(w.ctl.store.masks(w.ctl.video.id)[0].mask.rle))


# --- suppression ---------------------------------------------------------------------------------


def _suppression_box(qtbot, w):
    box = SuppressionBox(w.auto)
    qtbot.addWidget(box)
    box.show()
    return box


def _down(qtbot, box, times):
    for _ in range(times):
        qtbot.keyClick(box.combo, Qt.Key.Key_Down)


def test_noh_nms_is_greyed_out_until_a_head_file_is_given(qtbot, window, settings, tmp_path):
    w = window
    box = _suppression_box(qtbot, w)
    assert [box.combo.itemText(i) for i in range(box.combo.count())] == [
        "Fast NMS", "Greedy NMS", "Cluster-NMS", "Matrix NMS", "NOH-NMS"]
    assert box.combo.currentData() == "fast" and w.auto.suppression() == "fast"
    noh = box.combo.model().item(4)
    assert not noh.isEnabled()
    assert "trained nearby-objects hallucinator head" in noh.toolTip()
    assert "NOH head…" in box.note.text() and "hallucinator head" in box.note.toolTip()
    _down(qtbot, box, 6)  # the keyboard stops at Matrix NMS: NOH-NMS cannot be chosen
    assert box.combo.currentData() == "matrix" and w.auto.suppression() == "matrix"
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert again.value("auto_instances/suppression") == "matrix"  # remembered

    head = tmp_path / "noh_head.pth"
    head.write_bytes(b"weights")
    box.set_head(str(head))
    assert noh.isEnabled() and head.name in box.note.text() and box.note.toolTip() == str(head)
    _down(qtbot, box, 1)
    assert w.auto.suppression() == "noh"
    later = SuppressionBox(AutoInstancesTool(w.ctl))  # a later session shows the same choice
    qtbot.addWidget(later)
    assert later.combo.currentData() == "noh"
    head.unlink()  # the file went away: greyed out again, Fast NMS shown
    later.refresh()
    assert later.combo.currentData() == "fast" and not later.combo.model().item(4).isEnabled()
    messages: list[str] = []
    w.ctl.message.connect(messages.append)
    assert not w.auto.run() and "hallucinator head" in messages[-1]


def test_a_proposer_without_the_choice_reports_it(qtbot, window):
    w = window
    box = _suppression_box(qtbot, w)
    _down(qtbot, box, 1)
    assert w.auto.suppression() == "greedy"
    messages: list[str] = []
    w.ctl.message.connect(messages.append)
    with qtbot.capture_exceptions() as raised:  # a job error is reported, never re-raised
        key(qtbot, w, Qt.Key.Key_A)
        finish_jobs(qtbot, w)
    assert any("Blobs (test) has no suppression choice" in m for m in messages)
    assert raised == []
    assert w.ctl.objects == []


@pytest.fixture
def yolact_window(qtbot, settings, blobs, tmp_path):
    from annotator.backends.builtin.yolact import YolactProposer
    from tests.nn.test_yolact_detect import person_checkpoint

    ckpt = person_checkpoint(tmp_path / "yolact_resnet50_person.pth")
    choice = BackendChoice("yolact", "YOLACT (test weights)", None,
                           lambda: YolactProposer("yolact_resnet50", ckpt, "cpu"),
                           frozenset(), frozenset({PROPOSER}))
    w = make_window(qtbot, settings, extra=[choice])
    open_video(qtbot, w, blobs, tmp_path / "p.annotator")
    yield w
    finish_jobs(qtbot, w)
    w.ctl.close()


def test_yolact_proposals_with_noh_nms_end_to_end(qtbot, yolact_window, tmp_path):
    import torch

    from annotator.nn.ops.noh import NOHHead

    w = yolact_window
    assert w.auto.proposer_id == "yolact"
    head = tmp_path / "noh_head.pth"
    torch.save(NOHHead().state_dict(), head)
    box = _suppression_box(qtbot, w)
    box.set_head(str(head))
    _down(qtbot, box, 4)
    assert w.auto.suppression() == "noh"
    key(qtbot, w, Qt.Key.Key_A)
    finish_jobs(qtbot, w)
    proposer = w.ctl.engines.built("yolact")
    assert proposer.suppression == "noh" and proposer.noh_head is not None
    assert w.ctl.objects and {o.label for o in w.ctl.objects} == {"person"}
    sources = {r.mask.provenance.source for r in w.ctl.store.masks(w.ctl.video.id)}
    assert sources == {Source.PROPOSAL}
