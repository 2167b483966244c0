"""The suppression choice reaches the proposer through the auto-instances job; a proposer
without the choice refuses anything but its own NMS instead of silently ignoring it."""

import numpy as np
import pytest

from annotator.core.errors import BackendUnavailable
from annotator.store import open_project
from annotator.tools.auto_instances import SUPPRESSIONS, AutoInstancesConfig, auto_instances
from tests.tools.test_auto_instances import BlobProposer, video  # noqa: F401 (fixture)


def test_the_choices_are_the_models():
    pytest.importorskip("torch")
    from annotator.nn.yolact.suppression import SUPPRESSIONS as MODEL_CHOICES

    assert tuple(SUPPRESSIONS) == MODEL_CHOICES


def test_a_proposer_without_the_choice_refuses_other_suppressions(video, tmp_path):  # noqa: F811
    store = open_project(tmp_path / "p.annotator")
    v = store.add_video("blobs.mp4", "blobs", "h", len(video), 10.0, 96, 64)
    job = auto_instances(store, BlobProposer(), v.id, video, range(2),
                         AutoInstancesConfig(suppression="greedy"), "blobs")
    with pytest.raises(BackendUnavailable, match="Blobs has no suppression choice"):
        next(job)
    assert store.count_masks() == 0
    steps = list(auto_instances(store, BlobProposer(), v.id, video, range(2),
                                AutoInstancesConfig(suppression="fast"), "blobs"))
    assert len(steps) == 2 and all(np.any(m) for m in steps[-1].result.values())
