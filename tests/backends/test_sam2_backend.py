"""The EdgeTAM adapter on a real checkpoint file (random weights): the Tracker contract."""

import numpy as np
import pytest
import torch

from annotator.backends import create_backend, list_backends
from annotator.core.types import Box, Point, Prompts
from annotator.nn.sam2 import EDGETAM, build_model
from annotator.video import open_video
from tests.factories import square_video


@pytest.fixture(scope="module")
def edgetam(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    torch.save({"model": build_model(EDGETAM).state_dict()}, folder / "edgetam.pt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    mp.setenv("ANNOTATOR_MODELS", str(folder))
    yield create_backend("edgetam", device="cpu")
    mp.undo()
    torch.set_num_threads(threads)


def test_listed_ready_with_its_weights(edgetam, monkeypatch, tmp_path):
    (entry,) = [e for e in list_backends() if e.id == "edgetam"]
    assert entry.problem is None
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    monkeypatch.setenv("ANNOTATOR_CACHE", str(tmp_path / "cache"))
    (missing,) = [e for e in list_backends() if e.id == "edgetam"]
    assert "edgetam.pt" in missing.problem


def test_tracker_contract_both_directions_and_late_objects(edgetam, tmp_path):
    path, _ = square_video(tmp_path, count=5, size=(96, 64))
    video = open_video(path)
    edgetam.open(video)
    (proposal,) = edgetam.add_prompts(2, 1, Prompts(box=Box(20, 20, 50, 44)))
    assert proposal.mask.shape == (64, 96)
    assert 0.0 <= proposal.score <= 1.0
    forward = list(edgetam.propagate(2, 4))
    assert [fm.frame for fm in forward] == [2, 3, 4]
    backward = list(edgetam.propagate(2, 0, reverse=True))
    assert [fm.frame for fm in backward] == [2, 1, 0]
    for fm in forward + backward:
        assert all(m.shape == (64, 96) and m.dtype == bool for m in fm.masks.values())
        assert all(0.0 <= s <= 1.0 for s in fm.scores.values())
    edgetam.add_prompts(3, 2, Prompts(points=(Point(70, 30),)))  # a new object after tracking
    again = list(edgetam.propagate(3, 4))
    assert [fm.frame for fm in again] == [3, 4]
    edgetam.remove_object(2)
    edgetam.remove_object(99)  # never prompted: no error
    edgetam.close()


def test_image_mode_ranks_three_candidates_for_a_click(edgetam):
    frame = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    edgetam.set_frame(frame, key="f")
    ranked = edgetam.predict(Prompts(points=(Point(40, 30),)))
    assert len(ranked) == 3
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)
    assert len(edgetam.predict(Prompts(box=Box(10, 10, 60, 50)))) == 1


@pytest.mark.slow
def test_efficienttam_variant_loads_by_name_and_tracks(tmp_path, monkeypatch):
    from annotator.nn.sam2.efficienttam import EFFICIENTTAM_VARIANTS

    torch.manual_seed(0)
    cfg = EFFICIENTTAM_VARIANTS["efficienttam_ti"]
    torch.save({"model": build_model(cfg).state_dict()}, tmp_path / "efficienttam_ti.pt")
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tracker = create_backend("efficienttam", variant="efficienttam_ti", device="cpu")
        path, _ = square_video(tmp_path, count=3, size=(96, 64))
        tracker.open(open_video(path))
        tracker.add_prompts(0, 1, Prompts(box=Box(8, 20, 32, 44)))
        assert [fm.frame for fm in tracker.propagate(0, 2)] == [0, 1, 2]
    finally:
        torch.set_num_threads(threads)
