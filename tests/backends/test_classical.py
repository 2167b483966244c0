import numpy as np
import pytest

from annotator.backends import create_backend
from annotator.core.errors import PromptError
from annotator.core.masks import mask_iou
from annotator.core.types import Box, Point, Prompts
from annotator.tools.sample import SAMPLE_BOX, render
from annotator.video import open_video, write_video
from tests.factories import disc


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """30 frames of the built-in sample scene, written and read back as a real mp4."""
    path = tmp_path_factory.mktemp("sample") / "sample.mp4"
    write_video(path, render(30), 30.0)
    return open_video(path)


def _ball(t: int) -> np.ndarray:
    """The true ball mask of the sample at frame t (see tools/sample.py)."""
    return disc((360, 640), int(120 + 4.0 * t), int(180 + 30 * np.sin(t / 10)), 45)


def test_box_prompt_segments_the_ball(sample):
    backend = create_backend("classical")
    backend.set_frame(sample.frame(0))
    proposals = backend.predict(Prompts(box=SAMPLE_BOX))
    assert mask_iou(proposals[0].mask, _ball(0)) > 0.9
    assert all(0 <= p.score <= 1 for p in proposals)


def test_point_prompt_gives_ranked_candidates(sample):
    backend = create_backend("classical")
    backend.set_frame(sample.frame(0))
    proposals = backend.predict(Prompts(points=(Point(120, 180),)))
    assert 1 <= len(proposals) <= 3
    assert max(mask_iou(p.mask, _ball(0)) for p in proposals) > 0.85
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)


def test_same_prompt_same_masks_whatever_ran_before(sample):
    """GrabCut's random initialisation is seeded per call: a click gives the same candidates
    again after other work, and on the worker threads the three extents run on."""
    backend = create_backend("classical")
    backend.set_frame(sample.frame(0))
    click = Prompts(points=(Point(120, 180),))
    first = backend.predict(click)
    backend.predict(Prompts(box=SAMPLE_BOX))
    backend.predict(Prompts(points=(Point(400, 100),)))
    again = backend.predict(click)
    assert [p.score for p in again] == [p.score for p in first]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(first, again, strict=True))


def test_negative_point_removes_a_region(sample):
    backend = create_backend("classical")
    backend.set_frame(sample.frame(0))
    box_only = backend.predict(Prompts(box=Box(70, 130, 300, 230)))[0].mask
    with_neg = backend.predict(Prompts(box=Box(70, 130, 300, 230),
                                       points=(Point(250, 180, positive=False),)))[0].mask
    assert not with_neg[180, 250]
    assert with_neg.sum() <= box_only.sum()


def test_propagation_follows_the_ball_both_ways(sample):
    tracker = create_backend("classical")
    tracker.open(sample)
    tracker.add_mask(10, 1, _ball(10))
    forward = {fm.frame: fm for fm in tracker.propagate(10, 29)}
    backward = {fm.frame: fm for fm in tracker.propagate(10, 0, reverse=True)}
    assert sorted(forward) == list(range(10, 30))
    assert sorted(backward) == list(range(0, 11))
    assert mask_iou(forward[29].masks[1], _ball(29)) > 0.8
    assert mask_iou(backward[0].masks[1], _ball(0)) > 0.8
    assert 0 <= forward[29].scores[1] <= 1


def test_keyframe_on_the_way_resets_the_mask(sample):
    tracker = create_backend("classical")
    tracker.open(sample)
    tracker.add_mask(0, 1, _ball(0))
    corrected = np.zeros((360, 640), bool)
    corrected[10:50, 10:50] = True
    tracker.add_mask(5, 1, corrected)
    out = {fm.frame: fm.masks[1] for fm in tracker.propagate(0, 6)}
    assert (out[5] == corrected).all()
    assert mask_iou(out[6], corrected) > 0.5


def test_prompt_outside_the_frame_is_refused(sample):
    backend = create_backend("classical")
    backend.set_frame(sample.frame(0))
    with pytest.raises(PromptError, match="outside the 640x360 frame"):
        backend.predict(Prompts(points=(Point(700, 10),)))


def test_prompts_after_reopening_use_the_new_video(sample, tmp_path):
    """Regression: a cached frame of the previous video must not answer prompts on the next."""
    tracker = create_backend("classical")
    tracker.open(sample)
    tracker.add_prompts(0, 1, Prompts(points=(Point(120, 180),)))
    flipped = tmp_path / "flipped.mp4"
    write_video(flipped, (f[:, ::-1] for f in render(3)), 30.0)
    tracker.open(open_video(flipped))
    best = tracker.add_prompts(0, 1, Prompts(points=(Point(520, 180),)))[0].mask
    assert mask_iou(best, _ball(0)[:, ::-1]) > 0.85
