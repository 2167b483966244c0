"""The YOLACT adapter loads a real checkpoint file through the registry and proposes instances."""

import numpy as np
import pytest
import torch

from annotator.backends import create_backend, list_backends
from annotator.backends.weights import manifests
from annotator.nn.yolact import build_yolact


@pytest.mark.slow
def test_yolact_proposer_from_a_saved_checkpoint(tmp_path, monkeypatch):
    torch.manual_seed(0)
    file_name = manifests()["yolact_resnet50"].file_name
    torch.save(build_yolact("yolact_resnet50").state_dict(), tmp_path / file_name)
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    proposer = create_backend("yolact", variant="yolact_resnet50", device="cpu",
                              score_threshold=0.0, top_k=5)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    found = proposer.propose(frame)
    assert len(found) <= 5
    assert all(p.mask.shape == (120, 160) and p.label for p in found)
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    assert "yolact" in {e.id for e in list_backends()}
