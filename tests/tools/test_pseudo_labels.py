"""Pseudo-labels and phrase prompts through the real store, with a colour grounder on real
frames; the DenseCLIP adapter itself is exercised with a tiny CLIP checkpoint file."""

import numpy as np
import pytest
import torch

from annotator.backends.protocol import GROUNDER, BackendInfo, TextGrounder
from annotator.core.masks import decode, encode
from annotator.core.project import StoredMask
from annotator.core.types import DenseLabels, Provenance, Source
from annotator.store import open_project
from annotator.tools.pseudo_labels import (
    PseudoLabelConfig,
    phrase_prompts,
    pseudo_label,
    regions,
    regions_to_objects,
)
from annotator.video import open_video, write_video

COLOURS = {"tomato": (220, 30, 30), "sky": (30, 30, 220), "grass": (30, 200, 30)}


class ColourGrounder:
    """Labels pixels by nearest reference colour: a grounder with known answers."""

    info = BackendInfo("colours", "Colours", frozenset({GROUNDER}))

    def label_map(self, frame, class_names, key=None):
        ref = np.array([COLOURS[n] for n in class_names], np.float32)
        dist = np.linalg.norm(frame[None].astype(np.float32) - ref[:, None, None], axis=-1)
        scores = np.exp(-dist / 40)
        scores /= scores.sum(0, keepdims=True)
        return DenseLabels(scores.argmax(0), scores.astype(np.float32), tuple(class_names))

    def heatmap(self, frame, phrase, background=(), key=None):
        return self.label_map(frame, [phrase, *background]).scores[0]


@pytest.fixture
def video(tmp_path):
    frames = []
    for t in range(5):
        f = np.zeros((48, 64, 3), np.uint8)
        f[:] = COLOURS["grass"]
        f[:16] = COLOURS["sky"]
        f[24:40, 10 + 3 * t:26 + 3 * t] = COLOURS["tomato"]
        frames.append(f)
    path = tmp_path / "garden.mp4"
    write_video(path, frames, 10.0)
    return open_video(path)


def test_pseudo_labels_never_replace_manual_work(video, tmp_path):
    assert isinstance(ColourGrounder(), TextGrounder)
    store = open_project(tmp_path / "p.annotator")
    v = store.add_video("garden.mp4", "garden", "h", 5, 10.0, 64, 48)
    manual = store.add_object(v.id, "tomato")
    mine = np.zeros((48, 64), bool)
    mine[0:5, 0:5] = True
    store.put_mask(v.id, manual.id, 2, StoredMask(encode(mine), Provenance(Source.MANUAL)))
    config = PseudoLabelConfig(classes=("tomato",), background=("sky", "grass"))
    list(pseudo_label(store, ColourGrounder(), v.id, video, range(5), config, "colours"))
    objects = store.objects(v.id)
    assert len(objects) == 2  # the manual tomato object is not reused for pseudo-labels
    pseudo_obj = next(o for o in objects if o.id != manual.id)
    recs = store.masks(v.id, object_id=pseudo_obj.id)
    assert [r.frame for r in recs] == list(range(5))
    assert {r.mask.provenance.source for r in recs} == {Source.PSEUDO}
    truth = np.zeros((48, 64), bool)
    truth[24:40, 10:26] = True
    assert (decode(recs[0].mask.rle) ^ truth).sum() < 20
    assert (decode(store.mask(manual.id, 2).rle) == mine).all()  # untouched
    # a second run reuses the pseudo object, and skips a slot a human has since edited
    store.put_mask(v.id, pseudo_obj.id, 4, StoredMask(encode(mine), Provenance(Source.MANUAL)))
    list(pseudo_label(store, ColourGrounder(), v.id, video, range(5), config, "colours"))
    assert len(store.objects(v.id)) == 2
    assert store.mask(pseudo_obj.id, 4).provenance.source == Source.MANUAL


def test_picked_regions_and_phrase_prompts(video, tmp_path):
    store = open_project(tmp_path / "p.annotator")
    v = store.add_video("garden.mp4", "garden", "h", 5, 10.0, 64, 48)
    dense = ColourGrounder().label_map(video.frame(0), ["tomato", "sky", "grass"])
    sky = regions(dense.labels == 1, 10)
    assert len(sky) == 1
    (obj,) = regions_to_objects(store, v.id, 0, [("sky", sky[0])])
    assert store.object(obj).label == "sky"
    prompts = phrase_prompts(ColourGrounder().heatmap(video.frame(3), "tomato", ["sky", "grass"]))
    b = prompts.box
    assert (b.x0, b.y0) == pytest.approx((19, 24), abs=2)
    assert (b.x1, b.y1) == pytest.approx((35, 40), abs=2)
    assert prompts.points[0].positive


def test_denseclip_adapter_with_a_tiny_checkpoint(tmp_path, monkeypatch):
    from annotator.backends import create_backend
    from annotator.nn.clip.model import CLIP, ClipConfig
    from annotator.nn.clip.tokenizer import find_vocab

    if find_vocab() is None:
        pytest.skip("CLIP vocabulary not found: `make test` fetches it (ANNOTATOR_CLIP_VOCAB)")
    torch.manual_seed(0)
    tiny = ClipConfig(32, 32, 2, 64, 16, 77, 49408, 64, 1, 2)
    torch.save(CLIP(tiny).state_dict(), tmp_path / "ViT-B-16.pt")
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    grounder = create_backend("maskclip", device="cpu", short_side=64, config=tiny)
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    dense = grounder.label_map(frame, ["cat", "dog", "wall"], key=1)
    assert dense.labels.shape == (48, 64)
    assert dense.scores.shape == (3, 48, 64)
    assert np.allclose(dense.scores.sum(0), 1, atol=1e-4)
    heat = grounder.heatmap(frame, "a red cup", key=1)
    assert heat.shape == (48, 64) and np.isfinite(heat).all()
