"""Text in the GUI with a colour TextGrounder: the label-map preview, a clicked region becoming an
Object, pseudo-labelling a range around a manual mask it must not touch, and a phrase that
selects the right square and then propagates."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from annotator.core.masks import decode
from annotator.core.types import Source
from tests.ui.conftest import click, drag, finish_jobs, key, make_window, open_video, wait_proposal
from tests.ui.lab_backends import (
    BLOB_FRAMES,
    ColourGrounder,
    as_choice,
    blue_box,
    iou,
    red_box,
    truth,
)

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(qtbot, settings, blobs, tmp_path):
    w = make_window(qtbot, settings, extra=[as_choice(ColourGrounder())])
    open_video(qtbot, w, blobs, tmp_path / "p.annotator")
    yield w
    finish_jobs(qtbot, w)
    w.ctl.close()


def _type(qtbot, edit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    y0, y1, x0, x1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2


def _mask(w, obj, frame):
    stored = w.ctl.store.mask(obj, frame)
    return None if stored is None else (decode(stored.rle), stored.provenance.source)


def test_preview_pick_region_then_label_range_keeps_manual_work(qtbot, window):
    w, panel = window, window.text_panel
    _type(qtbot, panel.classes_edit, "red, blue")
    _type(qtbot, panel.background_edit, "grey")
    qtbot.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.text.showing, timeout=5000)
    finish_jobs(qtbot, w)
    layer = w.canvas.labels_item.image
    assert layer is not None
    assert layer.pixel(*map(int, _centre(red_box(0)))) >> 24 > 0  # a class: coloured
    assert layer.pixel(2, 2) == 0  # background: clear
    click(qtbot, w, *_centre(red_box(0)))  # pick the red region
    (red,) = w.ctl.objects
    assert red.label == "red" and w.ctl.current == red.id
    mask, source = _mask(w, red.id, 0)
    assert source == Source.PSEUDO and iou(mask, truth(red_box(0))) > 0.8
    assert w.prompting.proposal is None  # the click picked, it did not prompt
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the pick
    assert w.ctl.objects == [] and w.ctl.store.count_masks() == 0
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
        | Qt.KeyboardModifier.ShiftModifier)  # redo: the same object again
    assert [o.id for o in w.ctl.objects] == [red.id]
    key(qtbot, w, Qt.Key.Key_Escape)  # hide the preview
    assert not w.text.showing and w.canvas.labels_item.image is None

    key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: w.ctl.image_index == w.ctl.frame == 2)
    key(qtbot, w, Qt.Key.Key_D)  # the user paints the red object's mask on frame 2
    w.tools.brush_size.setValue(5)
    drag(qtbot, w, (5, 50), (40, 50))
    painted, source = _mask(w, red.id, 2)
    assert source == Source.MANUAL
    key(qtbot, w, Qt.Key.Key_V)
    key(qtbot, w, Qt.Key.Key_Home)
    key(qtbot, w, Qt.Key.Key_I)
    key(qtbot, w, Qt.Key.Key_End)
    key(qtbot, w, Qt.Key.Key_O)
    qtbot.mouseClick(panel.range_button, Qt.MouseButton.LeftButton)
    assert w.ctl.model_lane.foreground == "pseudo-label"
    finish_jobs(qtbot, w)
    labels = sorted(o.label for o in w.ctl.objects)
    assert labels == ["blue", "red"]  # the picked red object is reused, blue is new
    for t in range(BLOB_FRAMES):
        mask, source = _mask(w, red.id, t)
        if t == 2:  # manual work untouched
            assert source == Source.MANUAL and np.array_equal(mask, painted)
        else:
            assert source == Source.PSEUDO and iou(mask, truth(red_box(t))) > 0.8
    blue = next(o for o in w.ctl.objects if o.label == "blue")
    assert iou(_mask(w, blue.id, 7)[0], truth(blue_box(7))) > 0.8


def test_text_prompt_selects_the_right_square_then_propagates(qtbot, window):
    w = window
    _type(qtbot, w.text_panel.background_edit, "grey, red")
    key(qtbot, w, Qt.Key.Key_T)
    assert w.tools.text_prompt.hasFocus()
    _type(qtbot, w.tools.text_prompt, "blue")
    qtbot.keyClick(w.tools.text_prompt, Qt.Key.Key_Return)
    wait_proposal(qtbot, w)
    prompts = w.prompting.prompts
    assert prompts.box is not None and len(prompts.points) == 1
    proposal = w.prompting.proposal.mask  # the disc backend's box candidate: the box
    assert iou(proposal, truth(blue_box(0))) > 0.8
    assert not (proposal & truth(red_box(0))).any()
    w.canvas.setFocus()
    key(qtbot, w, Qt.Key.Key_Return)
    obj = w.ctl.current
    assert _mask(w, obj, 0)[1] == Source.MANUAL
    key(qtbot, w, Qt.Key.Key_F)
    finish_jobs(qtbot, w)
    assert sorted(w.ctl.marks[obj]) == list(range(BLOB_FRAMES))
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert sorted(w.ctl.marks[obj]) == [0]
