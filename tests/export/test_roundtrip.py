import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from annotator.core.errors import ExportError
from annotator.core.masks import encode
from annotator.core.palette import DAVIS_PALETTE
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.export import coco, davis
from annotator.export.davis import resize_ids, target_size
from annotator.store import open_project
from tests.factories import disc

H, W, N = 60, 80, 6


def _drain(job):
    return list(job)[-1]


@pytest.fixture
def project(tmp_path):
    """Two videos; objects with gaps, an overlap, holes, an unlabelled object, an empty mask."""
    store = open_project(tmp_path / "p.annotator")
    truth = {}
    for name in ("a b", "a b"):  # same name twice: unique sequence names
        v = store.add_video(f"/x/{name}.mp4", name, f"hash{len(truth)}", N, 10.0, W, H)
        cat = store.add_object(v.id, "cat")
        empty_obj = store.add_object(v.id, "never")  # no masks: not exported
        dog = store.add_object(v.id)
        writes = []
        for f in range(N):
            m1 = disc((H, W), 20 + 3 * f, 30, 12)
            m1[28:32, 18:22] = False  # a hole
            truth[(v.id, f, cat.id)] = m1
            writes.append((v.id, cat.id, f, StoredMask(encode(m1), Provenance(Source.MANUAL))))
            if f % 2 == 0:  # gaps
                m2 = disc((H, W), 40, 30, 10)  # overlaps cat on some frames
                truth[(v.id, f, dog.id)] = m2
                writes.append((v.id, dog.id, f, StoredMask(encode(m2),
                                                          Provenance(Source.PROPAGATED))))
        writes.append((v.id, empty_obj.id, 0, None))
        store.write_masks(writes)
    return store, truth


def test_coco_loads_with_pycocotools_and_round_trips(project, tmp_path):
    store, truth = project
    out = tmp_path / "coco"
    last = _drain(coco.write(store, out))
    assert last.result == out / "annotations.json"
    api = COCO(str(out / "annotations.json"))
    assert len(api.imgs) == 2 * N  # every frame, also those without masks
    assert {c["name"] for c in api.cats.values()} == {"cat", "object"}
    for ann in api.anns.values():
        assert ann["iscrowd"] == 0
        assert isinstance(ann["segmentation"]["counts"], str)
        assert ann["area"] == int(mask_utils.area(ann["segmentation"]))
        assert ann["bbox"] == mask_utils.toBbox(ann["segmentation"]).tolist()
        assert ann["attributes"]["track_id"] == ann["track_id"]
    back = coco.read(out / "annotations.json")
    videos = {v.id: v for v in store.videos()}
    seq = {videos[vid].id: name for vid, name in zip(videos, ["a_b", "a_b_2"], strict=True)}
    assert len(back) == len(truth)
    for (vid, f, oid), m in truth.items():
        assert (back[(seq[vid], f, oid)] == m).all()


def test_davis_full_resolution_round_trip_and_overlap_rule(project, tmp_path):
    store, truth = project
    out = tmp_path / "davis"
    _drain(davis.write(store, out, resolution="Full-Resolution"))
    png = out / "Annotations" / "Full-Resolution" / "a_b" / "00000.png"
    image = Image.open(png)
    assert image.mode == "P"
    assert bytes(image.getpalette()[:768]) == DAVIS_PALETTE[:len(image.getpalette()[:768])]
    ids = np.asarray(image)
    assert set(np.unique(ids)) == {0, 1, 2}  # contiguous ids, the empty object skipped
    sidecar = json.loads((out / "objects.json").read_text())
    assert sidecar["a_b"]["1"]["category"] == "cat"
    assert (out / "ImageSets" / "2017" / "val.txt").read_text().split() == ["a_b", "a_b_2"]
    back = davis.read(out, "Full-Resolution")
    seqs = {1: "a_b", 2: "a_b_2"}
    for (vid, f, oid), m in truth.items():
        got = back[(seqs[vid], f, oid)]
        if oid % 3 == 1:  # cat is under dog where they overlap (dog was created later)
            dog_mask = truth.get((vid, f, oid + 2), np.zeros_like(m))
            assert (got == (m & ~dog_mask)).all()
        else:
            assert (got == m).all()


def test_davis_480p_is_the_nearest_resize_of_the_id_map(project, tmp_path):
    store, truth = project
    out = tmp_path / "davis"
    _drain(davis.write(store, out))
    size = target_size(W, H, "480p")
    assert size == (640, 480)
    ids = np.asarray(Image.open(out / "Annotations" / "480p" / "a_b" / "00003.png"))
    full = np.zeros((H, W), np.uint8)
    full[truth[(1, 3, 1)]] = 1
    assert ids.shape == (480, 640)
    assert (ids == resize_ids(full, size)).all()


def test_unwritable_output_is_a_clear_error(project, tmp_path):
    store, _ = project
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot create output folder"):
        _drain(coco.write(store, blocker / "out"))
