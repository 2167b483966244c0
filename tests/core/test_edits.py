import numpy as np

from annotator.core.edits import UndoStack, set_masks
from annotator.core.masks import decode, encode
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.store import open_project


def _mask(value: int) -> StoredMask:
    m = np.zeros((8, 8), bool)
    m[:value] = True
    return StoredMask(encode(m), Provenance(Source.MANUAL))


def test_undo_redo_through_the_real_store(tmp_path):
    store = open_project(tmp_path / "p.annotator")
    video = store.add_video("v.mp4", "v", "h", 10, 10.0, 8, 8)
    obj = store.add_object(video.id)
    stack = UndoStack(store)
    stack.do(set_masks(store, "first", [(video.id, obj.id, 0, _mask(2))]))
    changes = stack.do(set_masks(store, "second", [(video.id, obj.id, 0, _mask(5)),
                                                   (video.id, obj.id, 1, _mask(1))]))
    assert changes.frames == {(video.id, 0), (video.id, 1)}
    assert decode(store.mask(obj.id, 0).rle).sum() == 40
    assert stack.undo_text() == "second"
    stack.undo()
    assert decode(store.mask(obj.id, 0).rle).sum() == 16
    assert store.mask(obj.id, 1) is None
    stack.redo()
    assert decode(store.mask(obj.id, 1).rle).sum() == 8
    stack.undo()
    stack.undo()
    assert store.mask(obj.id, 0) is None
    assert not stack.can_undo
    assert stack.undo() is None


def test_recorder_makes_a_run_one_step_and_keeps_first_before(tmp_path):
    store = open_project(tmp_path / "p.annotator")
    video = store.add_video("v.mp4", "v", "h", 10, 10.0, 8, 8)
    obj = store.add_object(video.id)
    store.put_mask(video.id, obj.id, 3, _mask(3))
    stack = UndoStack(store)
    with stack.recorder("propagate") as rec:
        for frame in range(5):
            rec.write([(video.id, obj.id, frame, _mask(6))])
        rec.write([(video.id, obj.id, 3, _mask(7))])  # same slot twice
        # written at once: visible before the run ends
        assert store.count_masks() == 5
    stack.undo()
    assert store.count_masks() == 1
    assert decode(store.mask(obj.id, 3).rle).sum() == 24
    stack.redo()
    assert decode(store.mask(obj.id, 3).rle).sum() == 56
