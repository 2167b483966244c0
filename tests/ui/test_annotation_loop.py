"""The keyboard-first loop with real mouse and key events: prompt, candidates, accept, edit,
propagate, undo (disc test backend; exact expected masks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from annotator.core.masks import area, decode
from annotator.core.types import Source
from annotator.ui.main_window import MainWindow
from annotator.ui.overlay import FILL_ALPHA, hex_rgb, premultiplied
from annotator.ui.timeline import KEYFRAME, MACHINE
from tests.ui.conftest import FRAMES, click, drag, finish_jobs, key, open_video, wait_proposal
from tests.ui.disc_backend import RADII, VELOCITY, disc

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _start(qtbot: object, w: MainWindow, square: Path, tmp_path: Path) -> None:
    open_video(qtbot, w, square, tmp_path / "p.annotator")


def _click_point(w: MainWindow) -> tuple[float, float]:
    point = w.prompting.prompts.points[-1]
    return point.x, point.y


def _stored(w: MainWindow, frame: int) -> np.ndarray | None:
    stored = w.ctl.store.mask(w.ctl.current, frame)  # type: ignore[union-attr, arg-type]
    return None if stored is None else decode(stored.rle)


def test_click_gives_mask_and_overlay(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    click(qtbot, w, 40, 30)
    wait_proposal(qtbot, w)
    x, y = _click_point(w)
    assert abs(x - 40) < 1 and abs(y - 30) < 1
    expected = disc((64, 96), x, y, RADII[0])
    assert np.array_equal(w.prompting.proposal.mask, expected)
    assert w.canvas.glyph_count == 1
    key(qtbot, w, Qt.Key.Key_Return)
    stored = w.ctl.store.mask(w.ctl.current, 0)
    assert stored is not None and stored.provenance.source == Source.MANUAL
    assert np.array_equal(decode(stored.rle), expected)
    assert w.prompting.proposal is None and w.canvas.glyph_count == 0
    # the single overlay layer shows the object's colour inside the mask, nothing outside
    layer = w.canvas.overlay_item.image
    color = hex_rgb(w.ctl.object(w.ctl.current).color)
    assert layer.pixel(40, 30) == premultiplied(color, FILL_ALPHA)
    assert layer.pixel(5, 5) == 0
    assert w.ctl.store.prompts(w.ctl.video.id)[0].payload["points"][0]["positive"] is True
    assert w.timeline.lane(w.ctl.current).state[0] == KEYFRAME


def test_negative_point_by_right_click_and_shift(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    click(qtbot, w, 40, 30)
    click(qtbot, w, 44, 30, Qt.MouseButton.RightButton)
    click(qtbot, w, 36, 30, modifier=SHIFT)
    wait_proposal(qtbot, w)
    qtbot.waitUntil(lambda: len(w.prompting.prompts.points) == 3)
    signs = [p.positive for p in w.prompting.prompts.points]
    assert signs == [True, False, False]
    qtbot.waitUntil(lambda: not w.prompting.proposal.mask[30, 44])
    assert not w.prompting.proposal.mask[30, 36]
    assert w.prompting.proposal.mask[30, 40]
    assert w.canvas.glyph_count == 3


def test_box_gives_mask(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    drag(qtbot, w, (20, 15), (60, 45))
    wait_proposal(qtbot, w)
    box = w.prompting.prompts.box
    assert box is not None and abs(box.x0 - 20) < 1 and abs(box.y1 - 45) < 1
    mask = w.prompting.proposal.mask
    ys, xs = np.nonzero(mask)
    assert (xs.min(), ys.min()) == (int(box.x0), int(box.y0))
    key(qtbot, w, Qt.Key.Key_Return)
    assert _stored(w, 0).sum() == mask.sum() > 1000


def test_tab_cycles_candidates_and_esc_drops(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    click(qtbot, w, 40, 30)
    wait_proposal(qtbot, w)
    areas = [int(w.prompting.proposal.mask.sum())]
    for _ in range(3):
        key(qtbot, w, Qt.Key.Key_Tab)
        areas.append(int(w.prompting.proposal.mask.sum()))
    assert areas[0] < areas[2] and areas[1] < areas[0] and areas[3] == areas[0]
    key(qtbot, w, Qt.Key.Key_Tab)
    key(qtbot, w, Qt.Key.Key_Tab)  # third candidate: the largest disc
    key(qtbot, w, Qt.Key.Key_Return)
    assert _stored(w, 0).sum() == areas[2]
    click(qtbot, w, 70, 30)
    wait_proposal(qtbot, w)
    key(qtbot, w, Qt.Key.Key_Escape)
    assert w.prompting.proposal is None and not w.prompting.active
    assert _stored(w, 0).sum() == areas[2]  # Esc never touches stored masks


def test_propagate_fills_timeline_and_undo_restores(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    click(qtbot, w, 30, 32)
    wait_proposal(qtbot, w)
    key(qtbot, w, Qt.Key.Key_Return)
    first = _stored(w, 0)
    key(qtbot, w, Qt.Key.Key_F)
    finish_jobs(qtbot, w)
    obj = w.ctl.current
    assert w.ctl.store.count_masks() == FRAMES
    lane = w.timeline.lane(obj).state
    assert lane[0] == KEYFRAME and (lane[1:] == MACHINE).all()
    low = np.flatnonzero(w.timeline.lane(obj).low)
    assert low.tolist() == [5, 10, 15]
    assert np.array_equal(_stored(w, 3), np.roll(first, 3 * VELOCITY, axis=1))
    assert w.ctl.frame == FRAMES - 1  # the playhead followed the run
    qtbot.waitUntil(lambda: w.ctl.image_index == FRAMES - 1)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # the whole run is one step
    assert w.ctl.store.count_masks() == 1
    assert (w.timeline.lane(obj).state[1:] == 0).all()
    assert w.canvas.overlay_item.image.pixel(30 + 19 * VELOCITY, 32) == 0
    key(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert w.ctl.store.count_masks() == FRAMES
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # and the accepted mask before it
    assert w.ctl.store.count_masks() == 0


def test_backward_propagation_stays_in_range(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    key(qtbot, w, Qt.Key.Key_End)
    assert w.ctl.frame == FRAMES - 1
    key(qtbot, w, Qt.Key.Key_Left, SHIFT)
    qtbot.waitUntil(lambda: w.ctl.image_index == w.ctl.frame == FRAMES - 11)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_I)  # In at frame 7
    key(qtbot, w, Qt.Key.Key_Right, SHIFT)
    assert w.ctl.range == (7, None) and w.ctl.frame == 17
    key(qtbot, w, Qt.Key.Key_O)  # Out at 17
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: w.ctl.image_index == w.ctl.frame == 15)
    click(qtbot, w, 60, 32)
    wait_proposal(qtbot, w)
    key(qtbot, w, Qt.Key.Key_Return)
    key(qtbot, w, Qt.Key.Key_B)
    finish_jobs(qtbot, w)
    frames = sorted(w.ctl.marks[w.ctl.current])
    assert frames == list(range(7, 16))
    assert w.timeline.range == (7, 17)
    key(qtbot, w, Qt.Key.Key_X)
    assert w.ctl.range == (None, None)
    key(qtbot, w, Qt.Key.Key_Home)
    assert w.ctl.frame == 0


def test_brush_and_eraser_edit_the_mask(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    key(qtbot, w, Qt.Key.Key_D)
    assert w.tools.tool_buttons[w.canvas.tool].isChecked() and w.canvas.tool == "brush"
    size = w.canvas.brush_size
    key(qtbot, w, Qt.Key.Key_BracketRight)
    assert w.canvas.brush_size > size
    w.tools.brush_size.setValue(9)
    drag(qtbot, w, (20, 30), (60, 30))
    painted = _stored(w, 0)
    assert painted is not None and painted[30, 20:61].all() and not painted[10, 40]
    key(qtbot, w, Qt.Key.Key_E)
    drag(qtbot, w, (40, 20), (40, 40))
    erased = _stored(w, 0)
    assert not erased[30, 40] and erased[30, 25] and erased.sum() < painted.sum()
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(_stored(w, 0), painted)
    key(qtbot, w, Qt.Key.Key_Delete)
    assert _stored(w, 0) is None
    key(qtbot, w, Qt.Key.Key_V)
    assert w.canvas.tool == "prompt"


def _two_objects(qtbot: object, w: MainWindow) -> tuple[int, int]:
    """Two objects, each a click accepted on frame 0 (at x 20 and 60)."""
    for x in (20, 60):
        key(qtbot, w, Qt.Key.Key_N)
        click(qtbot, w, x, 30)
        wait_proposal(qtbot, w)
        key(qtbot, w, Qt.Key.Key_Return)
    first, second = (o.id for o in w.ctl.objects)
    return first, second


def test_digits_select_objects_and_overlay_modes(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    first, second = _two_objects(qtbot, w)
    assert w.ctl.current == second
    key(qtbot, w, Qt.Key.Key_1)
    assert w.ctl.current == first and w.timeline.current == first
    assert w.objects.view.currentIndex().row() == 0
    layer = w.canvas.overlay_item.image
    assert layer.pixel(20, 30) != 0 and layer.pixel(60, 30) != 0
    key(qtbot, w, Qt.Key.Key_M)  # outline: the centre is clear, the edge is drawn opaque
    layer = w.canvas.overlay_item.image
    assert layer.pixel(20, 30) == 0
    assert layer.pixel(20 - RADII[0], 30) >> 24 == 255
    key(qtbot, w, Qt.Key.Key_M)  # off
    assert w.canvas.overlay_item.image.pixel(20 - RADII[0], 30) == 0
    key(qtbot, w, Qt.Key.Key_M)  # fill again
    key(qtbot, w, Qt.Key.Key_H)  # hide the current (first) object
    assert w.canvas.overlay_item.image.pixel(20, 30) == 0
    assert w.canvas.overlay_item.image.pixel(60, 30) != 0
    assert area(w.ctl.store.mask(first, 0).rle) > 0  # hidden, not deleted


def test_deleting_an_object_is_undoable(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    first, second = _two_objects(qtbot, w)
    w.ctl.update_object(first, label="ball")
    store, vid = w.ctl.store, w.ctl.video.id
    kept = (store.object(first), store.masks(vid, object_id=first),
            [(p.frame, p.kind, p.payload) for p in store.prompts(vid, first)])
    key(qtbot, w, Qt.Key.Key_1)
    qtbot.mouseClick(w.objects.delete_button, Qt.MouseButton.LeftButton)
    assert [o.id for o in w.ctl.objects] == [second]
    assert w.canvas.overlay_item.image.pixel(20, 30) == 0
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # the object, its masks and prompts come back
    assert [o.id for o in w.ctl.objects] == [first, second]
    assert (store.object(first), store.masks(vid, object_id=first),
            [(p.frame, p.kind, p.payload) for p in store.prompts(vid, first)]) == kept
    assert w.canvas.overlay_item.image.pixel(20, 30) != 0
    assert w.timeline.lane(first).state[0] == KEYFRAME
    key(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)
    assert [o.id for o in w.ctl.objects] == [second]


def test_space_plays_and_pauses(qtbot, window, square, tmp_path):
    w = window
    _start(qtbot, w, square, tmp_path)
    key(qtbot, w, Qt.Key.Key_Space)
    assert w.play_timer.isActive()
    qtbot.waitUntil(lambda: w.ctl.frame >= 3, timeout=5000)
    key(qtbot, w, Qt.Key.Key_Space)
    assert not w.play_timer.isActive()
    stopped = w.ctl.frame
    qtbot.wait(300)
    assert w.ctl.frame == stopped
    key(qtbot, w, Qt.Key.Key_Space)  # plays to the end and stops there
    qtbot.waitUntil(lambda: not w.play_timer.isActive(), timeout=10000)
    assert w.ctl.frame == FRAMES - 1
