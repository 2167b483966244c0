"""EdgeSAM-style segmenters in the GUI: neighbours encoded ahead, a hover preview that runs the
decoder only, four candidates on Tab, and no encoder pass for a click after stepping (a test
Segmenter with a 3-entry embedding cache counts encoder calls)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from annotator.backends.protocol import SEGMENTER
from annotator.ui.engines import EMBEDDING_CACHES, BackendChoice, pick
from tests.ui.conftest import click, key, make_window, move, open_video, wait_proposal
from tests.ui.disc_backend import disc
from tests.ui.lab_backends import RADII, CountingSegmenter, as_choice


@pytest.fixture
def counted(qtbot, settings, square, tmp_path):
    seg = CountingSegmenter()
    w = make_window(qtbot, settings, extra=[as_choice(seg, caches_embeddings=True)],
                    select="counting")
    open_video(qtbot, w, square, tmp_path / "p.annotator")
    yield w, seg
    idle(qtbot, w)
    w.ctl.close()


def idle(qtbot, w) -> None:
    """Wait until background work too has stopped."""
    qtbot.waitUntil(lambda: not w.ctl.model_lane.busy, timeout=10000)


def _near_disc(mask: np.ndarray, x: float, y: float, r: float) -> None:
    """A disc of radius r centred within a pixel of (x, y) (the pointer maps to sub-pixels)."""
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() - x) < 1.5 and abs(ys.mean() - y) < 1.5
    assert abs(len(xs) - np.pi * r * r) < 4 * r


def test_edgesam_is_the_default_segmenter_when_its_weights_exist():
    def c(name: str, problem: str | None) -> BackendChoice:
        return BackendChoice(name, name, problem, object if problem is None else None,
                             roles=frozenset({SEGMENTER}))

    assert "edgesam" in EMBEDDING_CACHES
    assert pick([c("classical", None), c("edgesam", None)], SEGMENTER).id == "edgesam"
    assert pick([c("classical", None), c("edgesam", "no weights")], SEGMENTER).id == "classical"


def test_neighbours_encoded_ahead_and_hover_decodes_only(qtbot, counted):
    w, seg = counted
    vid = w.ctl.video.id
    qtbot.waitUntil(lambda: (vid, 1) in seg.encodes, timeout=5000)  # the next frame, ahead
    idle(qtbot, w)
    assert seg.encodes == [(vid, 0), (vid, 1)]  # frame 0 has no previous frame
    before = seg.decodes
    move(qtbot, w, 30, 20)
    move(qtbot, w, 40, 30)  # rests here
    qtbot.waitUntil(lambda: w.lookahead.preview is not None, timeout=5000)
    assert seg.encodes == [(vid, 0), (vid, 1)]  # the preview cost no encoder pass
    assert seg.decodes == before + 1  # debounced: one decode for the resting pointer
    _near_disc(w.lookahead.preview, 40, 30, RADII[0])  # the best candidate at the pointer
    layer = w.canvas.hover_item.image
    assert layer is not None and layer.pixel(40, 30) >> 24 == round(255 * 0.25)
    w.canvas.fitInView(0, 0, 300, 200)  # leave the frame: the preview goes
    move(qtbot, w, 250, 150)
    qtbot.waitUntil(lambda: w.lookahead.preview is None, timeout=2000)
    assert w.canvas.hover_item.image is None


def test_one_pending_hover_at_most(qtbot, counted):
    w, seg = counted
    idle(qtbot, w)
    seg.decode_delay = 0.8
    before = seg.decodes
    move(qtbot, w, 20, 20)
    qtbot.waitUntil(lambda: w.ctl.model_lane.job == "hover", timeout=3000)
    for x in (30, 40, 50, 60):  # each rests long enough to fire while the first decodes
        move(qtbot, w, x, 32)
        qtbot.wait(120)
    idle(qtbot, w)
    qtbot.waitUntil(lambda: w.lookahead.preview is not None and not w.ctl.model_lane.busy,
                    timeout=3000)
    assert seg.decodes == before + 2  # the first position, then only the latest one
    _near_disc(w.lookahead.preview, 60, 32, RADII[0])


def test_click_after_stepping_needs_no_encoder_pass(qtbot, counted):
    w, seg = counted
    vid = w.ctl.video.id
    idle(qtbot, w)
    click(qtbot, w, 40, 30)
    wait_proposal(qtbot, w)
    areas = [int(w.prompting.proposal.mask.sum())]
    for _ in range(4):
        key(qtbot, w, Qt.Key.Key_Tab)
        areas.append(int(w.prompting.proposal.mask.sum()))
    assert len(w.prompting.candidates) == 4
    x, y = w.prompting.prompts.points[-1].x, w.prompting.prompts.points[-1].y
    assert areas[:4] == [int(disc((64, 96), x, y, r).sum()) for r in RADII]
    assert areas[4] == areas[0]  # Tab wraps after the fourth
    key(qtbot, w, Qt.Key.Key_Escape)
    key(qtbot, w, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: w.ctl.image_index == w.ctl.frame == 1)
    click(qtbot, w, 45, 30)  # at once, before any new background work could finish
    wait_proposal(qtbot, w)
    assert seg.encodes.count((vid, 1)) == 1  # encoded ahead while frame 0 was shown
    qtbot.waitUntil(lambda: (vid, 2) in seg.encodes, timeout=5000)  # after a short rest
    idle(qtbot, w)
    assert seg.encodes == [(vid, 0), (vid, 1), (vid, 2)]  # and frame 2 ahead of this one
    key(qtbot, w, Qt.Key.Key_Return)
    assert w.ctl.store.mask(w.ctl.current, 1) is not None
