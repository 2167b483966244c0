"""The EdgeSAM adapter through the registry, on a real checkpoint file written by torch.save."""

import numpy as np
import pytest
import torch

from annotator.backends import create_backend, list_backends
from annotator.core.errors import BackendUnavailable, PromptError
from annotator.core.types import Box, Point, Prompts
from annotator.nn.edgesam.build import build_edge_sam


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    torch.save(build_edge_sam().state_dict(), folder / "edge_sam.pth")
    return folder


def test_unavailable_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (entry,) = [e for e in list_backends() if e.id == "edgesam"]
    assert "edge_sam.pth not found" in entry.problem
    with pytest.raises(BackendUnavailable, match=r"edge_sam\.pth"):
        create_backend("edgesam")


def test_segmenter_ranks_candidates_and_caches_embeddings(checkpoint_dir, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_MODELS", str(checkpoint_dir))
    (entry,) = [e for e in list_backends() if e.id == "edgesam"]
    assert entry.problem is None
    seg = create_backend("edgesam", device="cpu")
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    seg.set_frame(frame, key=("v", 0))
    embedding = seg.predictor.get_image_embedding()
    clicks = seg.predict(Prompts(points=(Point(60, 40), Point(10, 10, positive=False))))
    assert len(clicks) == 4
    assert all(p.mask.shape == (96, 128) and p.mask.dtype == bool for p in clicks)
    scores = [p.score for p in clicks]
    assert scores == sorted(scores, reverse=True)
    assert all("iou" in p.extra for p in clicks)
    boxed = seg.predict(Prompts(box=Box(20, 10, 100, 80)))
    assert len(boxed) == 3
    seg.set_frame(frame[::-1].copy(), key=("v", 1))
    seg.set_frame(frame, key=("v", 0))  # from the cache, no second encoder pass
    assert seg.predictor.get_image_embedding() is embedding
    with pytest.raises(PromptError, match="outside the 128x96 frame"):
        seg.predict(Prompts(points=(Point(200, 10),)))
