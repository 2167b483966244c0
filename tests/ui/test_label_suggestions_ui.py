"""Label suggestions in the GUI with a colour-naming test recognizer: a click shows the ranked
names beside the mask, L takes the first (reusing a project Label of the same name), a click on
another name takes that one; Shift+L suggests for unlabelled objects over In/Out for review.
And Help > Models… opens the Models dialog, whose downloads refresh the backend lists."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotator.core.masks import encode
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.ui.engines import BackendChoice
from annotator.ui.models_menu import merge_choices
from annotator.ui.suggestions import project_label
from annotator.ui.vocabulary import VOCAB_LABELS, VOCAB_RELEASED, vocabulary_choice
from tests.ui.conftest import click, finish_jobs, key, make_window, open_video, wait_proposal
from tests.ui.lab_backends import BLOB_FRAMES, ColourNamer, as_choice, blue_box, red_box, truth

SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def named(qtbot, settings, blobs, tmp_path):
    namer = ColourNamer()
    w = make_window(qtbot, settings, extra=[as_choice(namer)], select="namer")
    open_video(qtbot, w, blobs, tmp_path / "p.annotator")
    yield w, namer
    finish_jobs(qtbot, w)
    w.ctl.close()


def labels(w) -> dict[int, str | None]:
    return {o.id: o.label for o in w.ctl.store.objects(w.ctl.video.id)}


def test_project_label_reuses_the_projects_spelling():
    assert project_label(["Tomato", "car"], "tomato") == "Tomato"
    assert project_label(["car"], "tomato") == "tomato"


def released(w) -> None:
    """Pick "names from: released vocabulary" in the panel, as a user would."""
    combo = w.suggestions_panel.vocabulary
    combo.setCurrentIndex(combo.findData(VOCAB_RELEASED))
    assert vocabulary_choice(w.ctl.settings) == VOCAB_RELEASED


def test_click_shows_suggestions_then_l_and_a_click_set_the_label(qtbot, named):
    w, namer = named
    w.ctl.store.label("Tomato")  # an existing project label: reused, not duplicated
    released(w)
    panel = w.suggestions_panel
    assert panel.list.count() == 0
    y0, y1, x0, x1 = red_box(0)
    click(qtbot, w, (x0 + x1) / 2, (y0 + y1) / 2)
    wait_proposal(qtbot, w)
    shown = [panel.list.item(i).text().split()[0] for i in range(panel.list.count())]
    assert shown == ["tomato", "sky", "rock"]
    assert namer.vocabularies == [None]
    assert "tomato 0.80" in panel.hint.text()
    obj = w.ctl.current
    key(qtbot, w, Qt.Key.Key_Return)  # the mask first; the suggestions stay for its label
    assert w.ctl.store.mask(obj, 0) is not None and panel.list.count() == 3
    key(qtbot, w, Qt.Key.Key_L)
    assert labels(w)[obj] == "Tomato"
    assert [lab.name for lab in w.ctl.store.labels()] == ["Tomato"]
    item = panel.list.item(1)
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, panel.list.visualItemRect(item).center())
    assert labels(w)[obj] == "sky"
    key(qtbot, w, Qt.Key.Key_N)  # another object: its suggestions are not shown
    assert panel.list.count() == 0
    key(qtbot, w, Qt.Key.Key_L)
    assert labels(w)[w.ctl.current] is None


def _track(w, label: str | None, box) -> int:
    store, vid = w.ctl.store, w.ctl.video.id
    obj = store.add_object(vid, label)
    store.write_masks((vid, obj.id, t, StoredMask(encode(truth(box(t))),
                                                   Provenance(Source.MANUAL)))
                      for t in range(BLOB_FRAMES))
    return obj.id


def test_batch_suggestions_over_in_out_then_review(qtbot, named):
    w, namer = named
    released(w)
    red, blue = _track(w, None, red_box), _track(w, None, blue_box)
    done = _track(w, "kept", red_box)
    w.ctl.reload_objects()
    for frame, k in ((2, Qt.Key.Key_I), (5, Qt.Key.Key_O)):
        w.ctl.set_frame(frame)
        key(qtbot, w, k)
    assert w.ctl.range == (2, 5)
    namer.keys.clear()
    key(qtbot, w, Qt.Key.Key_L, SHIFT)
    qtbot.waitUntil(lambda: getattr(w, "review", None) is not None, timeout=10000)
    finish_jobs(qtbot, w)
    vid = w.ctl.video.id
    assert sorted(namer.keys) == sorted([(vid, 2), (vid, 4), (vid, 5)] * 2)  # in range only
    review = w.review
    assert set(review.rows) == {red, blue}  # the labelled object is left alone
    assert review.rows[red][0].currentData() == "tomato"
    assert review.rows[blue][0].currentData() == "sky"
    assert labels(w)[red] is None  # nothing changes before accepting
    box, button = review.rows[blue]
    box.setCurrentIndex(box.findData("rock"))  # the user prefers another name for one
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert labels(w)[blue] == "rock" and not button.isEnabled()
    qtbot.mouseClick(review.accept_all_button, Qt.MouseButton.LeftButton)
    assert labels(w) == {red: "tomato", blue: "rock", done: "kept"}
    assert not review.isVisible()


def test_suggestions_come_from_the_project_labels_by_default(qtbot, named, settings):
    """With "names from: project labels" (the default) the recognizer ranks only the project's
    Label names, follows new Labels, and falls back to its released vocabulary without any."""
    w, namer = named
    assert w.suggestions_panel.vocabulary.currentData() == VOCAB_LABELS
    y0, y1, x0, x1 = red_box(0)
    click(qtbot, w, (x0 + x1) / 2, (y0 + y1) / 2)
    wait_proposal(qtbot, w)
    assert namer.vocabularies == [None]  # no Labels yet: the released vocabulary
    for name in ("Sky", "Tomato"):
        w.ctl.store.label(name)
    key(qtbot, w, Qt.Key.Key_Escape)
    click(qtbot, w, (x0 + x1) / 2, (y0 + y1) / 2)
    wait_proposal(qtbot, w)
    assert namer.vocabularies[-1] == ("Sky", "Tomato")
    panel = w.suggestions_panel
    assert [panel.list.item(i).text().split()[0] for i in range(panel.list.count())] == [
        "Tomato", "Sky"]
    key(qtbot, w, Qt.Key.Key_L)
    assert labels(w)[w.ctl.current] == "Tomato"
    assert settings.value("recognize/vocabulary", "labels") == "labels"
    released(w)
    assert settings.value("recognize/vocabulary") == "released"


def test_models_menu_opens_the_dialog_and_downloads_refresh_backends(qtbot, window):
    w = window
    help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
    assert w.models_action in help_menu.actions()
    stale = BackendChoice("classical", "Classical", "no opencv", None)
    w.ctl.backends[:] = [c if c.id != "classical" else stale for c in w.ctl.backends]
    w.tools.refill_backends()
    index = w.tools.backend_box.findData("classical")
    assert not w.tools.backend_box.model().item(index).isEnabled()
    w.models_action.trigger()
    dialog = w.models_menu.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.models.rowCount() > 0
    dialog.downloaded.emit("some_model")  # the registry now finds classical ready
    index = w.tools.backend_box.findData("classical")
    assert w.tools.backend_box.model().item(index).isEnabled()
    assert w.ctl.engines.choice("classical").ready
    w.ctl.set_backend("classical")
    assert w.ctl.backend_id == "classical"
    dialog.reject()
    qtbot.waitUntil(lambda: w.models_menu.dialog is None, timeout=2000)


def test_merge_keeps_unregistered_choices_in_order():
    def c(name: str, problem: str | None = None) -> BackendChoice:
        return BackendChoice(name, name, problem, None)

    current = [c("discs"), c("classical", "old"), c("x")]
    merge_choices(current, [c("classical"), c("new")])
    assert [(b.id, b.problem) for b in current] == [
        ("discs", None), ("classical", None), ("x", None), ("new", None)]
