"""Deleting and creating Objects as undoable steps, through the real SQLite store: undo brings
an Object back whole (same id, label, colour, visibility, masks with provenance, prompts)."""

import numpy as np

from annotator.core.edits import UndoStack, set_masks
from annotator.core.masks import encode
from annotator.core.object_edits import created_objects, delete_objects
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.store import open_project


def _mask(rows: int, source: Source = Source.MANUAL) -> StoredMask:
    m = np.zeros((8, 8), bool)
    m[:rows] = True
    return StoredMask(encode(m), Provenance(source, "edgesam", "edge_sam.pth", 0.75))


def _state(store, video_id):
    objs = store.objects(video_id)
    masks = [(r.object_id, r.frame, r.mask) for r in store.masks(video_id)]
    prompts = [(p.object_id, p.frame, p.kind, p.payload) for p in store.prompts(video_id)]
    return objs, masks, prompts


def test_deleting_objects_undoes_and_redoes_whole(tmp_path):
    store = open_project(tmp_path / "p.annotator")
    video = store.add_video("v.mp4", "v", "h", 10, 10.0, 8, 8)
    keep = store.add_object(video.id, "tree")
    a = store.add_object(video.id, "car", "#123456")
    b = store.add_object(video.id)
    store.update_object(b.id, visible=False)
    store.write_masks([(video.id, a.id, 0, _mask(2)),
                       (video.id, a.id, 3, _mask(5, Source.PROPAGATED)),
                       (video.id, b.id, 1, _mask(1, Source.PROPOSAL)),
                       (video.id, keep.id, 0, _mask(3))])
    store.add_prompt(video.id, a.id, 0, "point", {"x": 1.5, "y": 2.0, "positive": True})
    stack = UndoStack(store)
    stack.do(set_masks(store, "paint", [(video.id, keep.id, 1, _mask(4))]))
    before = _state(store, video.id)

    changes = stack.do(delete_objects(store, "delete two", [a.id, b.id]))
    assert changes.objects_changed and changes.objects == {a.id, b.id}
    assert changes.frames == {(video.id, 0), (video.id, 1), (video.id, 3)}
    assert [o.id for o in store.objects(video.id)] == [keep.id]
    assert store.prompts(video.id) == []

    assert stack.undo_text() == "delete two"
    stack.undo()
    assert _state(store, video.id) == before  # same ids, label, colour, hidden, masks, prompts
    stack.redo()
    assert [o.id for o in store.objects(video.id)] == [keep.id]
    stack.undo()
    stack.undo()  # the earlier mask edit is still in the history
    assert store.mask(keep.id, 1) is None
    store.close()


def test_created_objects_undo_removes_them(tmp_path):
    store = open_project(tmp_path / "p.annotator")
    video = store.add_video("v.mp4", "v", "h", 10, 10.0, 8, 8)
    obj = store.add_object(video.id, "red")
    pseudo = _mask(3, Source.PSEUDO)
    store.write_masks([(video.id, obj.id, 2, pseudo)])
    stack = UndoStack(store)
    edit = created_objects(store, "pick red", [obj.id])
    stack.record(edit)
    assert stack.can_undo and not edit.empty
    stack.undo()
    assert store.objects(video.id) == [] and store.count_masks() == 0
    stack.redo()
    (back,) = store.objects(video.id)
    assert back == obj and store.mask(obj.id, 2) == pseudo
    stack.record(created_objects(store, "nothing", []))  # empty edits are not steps
    assert stack.undo_text() == "pick red"
    store.close()
