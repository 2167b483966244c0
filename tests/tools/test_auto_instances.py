"""Auto-instances through the real store with a small colour-blob Proposer on real frames."""

import cv2
import numpy as np
import pytest

from annotator.backends.protocol import PROPOSER, BackendInfo, Proposer
from annotator.core.edits import UndoStack
from annotator.core.types import MaskProposal, Source
from annotator.store import open_project
from annotator.tools.auto_instances import (
    AutoInstancesConfig,
    accept,
    associate,
    auto_instances,
    reject,
)
from annotator.video import open_video, write_video

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


class BlobProposer:
    """Finds saturated red and blue blobs: a tiny detector with known answers."""

    info = BackendInfo("blobs", "Blobs", frozenset({PROPOSER}))

    def propose(self, frame):
        out = []
        for name, colour in COLOURS.items():
            near = np.abs(frame.astype(int) - colour).sum(axis=2) < 90
            count, labels = cv2.connectedComponents(near.astype(np.uint8))
            out += [MaskProposal(labels == i, 0.9, {}, name) for i in range(1, count)]
        return out


@pytest.fixture
def video(tmp_path):
    frames = []
    for t in range(8):
        f = np.full((64, 96, 3), 128, np.uint8)
        f[10:26, 5 + 4 * t:21 + 4 * t] = COLOURS["red"]  # moves right
        f[40:56, 70 - 4 * t:86 - 4 * t] = COLOURS["blue"]  # moves left
        frames.append(f)
    path = tmp_path / "blobs.mp4"
    write_video(path, frames, 10.0)
    return open_video(path)


def test_hungarian_keeps_identities_when_order_changes():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = ~a
    assert associate([a, b], [b, a], 0.3) == {0: 1, 1: 0}
    assert associate([a], [np.zeros_like(a)], 0.3) == {}


def test_instances_link_across_frames_and_map_labels(video, tmp_path):
    assert isinstance(BlobProposer(), Proposer)
    store = open_project(tmp_path / "p.annotator")
    v = store.add_video("blobs.mp4", "blobs", "h", len(video), 10.0, 96, 64)
    config = AutoInstancesConfig(min_score=0.5, label_map={"red": "car", "blue": None})
    steps = list(auto_instances(store, BlobProposer(), v.id, video, range(8), config, "blobs"))
    assert steps[-1].done == 8
    (car,) = store.objects(v.id)
    assert car.label == "car"
    records = store.masks(v.id)
    assert [r.frame for r in records] == list(range(8))
    assert {r.mask.provenance.source for r in records} == {Source.PROPOSAL}

    both = AutoInstancesConfig(min_score=0.5)
    list(auto_instances(store, BlobProposer(), v.id, video, range(8), both, "blobs"))
    labels = sorted(o.label for o in store.objects(v.id))
    assert labels == ["blue", "car", "red"]  # one object per blob per run, stable over frames


def test_accept_is_undoable_and_reject_deletes_only_proposals(video, tmp_path):
    store = open_project(tmp_path / "p.annotator")
    v = store.add_video("blobs.mp4", "blobs", "h", len(video), 10.0, 96, 64)
    list(auto_instances(store, BlobProposer(), v.id, video, range(4)))
    red, blue = store.objects(v.id)
    stack = UndoStack(store)
    stack.do(accept(store, store, [red.id]))
    assert {r.mask.provenance.source for r in store.masks(v.id, object_id=red.id)} == {"manual"}
    assert reject(store, [red.id, blue.id]) == [blue.id]
    assert [o.id for o in store.objects(v.id)] == [red.id]
    stack.undo()
    assert {r.mask.provenance.source for r in store.masks(v.id, object_id=red.id)} == {"proposal"}
