"""Unit tests of SAM 2-family parts and of the streaming video session (tiny random model)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from scipy import ndimage

from annotator.core.errors import PromptError
from annotator.nn.backbones import repvit_m1
from annotator.nn.sam2 import EDGETAM, Sam2VideoPredictor
from annotator.nn.sam2.holes import fill_holes
from annotator.nn.sam2.memory_bank import plan_memory
from annotator.nn.sam2.perceiver import PerceiverResampler
from annotator.nn.sam2.position_encoding import compute_axial_cis, rotate, rotate_framewise
from tests.nn._sam2_helpers import single_thread, tiny_model


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread():
        yield


def test_fill_holes_matches_8_connected_labelling() -> None:
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(0.3, 1.0, (3, 1, 40, 48)).astype(np.float32))
    got = fill_holes(logits, 8).numpy()
    for i in range(3):
        bg = logits[i, 0].numpy() <= 0
        labels, _ = ndimage.label(bg, structure=np.ones((3, 3)))
        areas = np.bincount(labels.ravel())
        hole = (labels > 0) & (areas[labels] <= 8)
        want = np.where(hole, np.float32(0.1), logits[i, 0].numpy())
        assert hole.any() and (~hole & bg).any()
        np.testing.assert_array_equal(got[i, 0], want)
    assert fill_holes(logits, 0) is logits


def test_rope_v2_leaves_global_tokens_and_rotates_patch_tokens_per_frame() -> None:
    cis = compute_axial_cis(64, 4, 4)
    x = torch.randn(2, 1, 3 * (5 + 16), 64)
    out = rotate_framewise(x, cis, 3).view(2, 1, 3, 21, 64)
    xv = x.view(2, 1, 3, 21, 64)
    for f in range(3):
        assert torch.equal(out[:, :, f, :5], xv[:, :, f, :5])
        torch.testing.assert_close(out[:, :, f, 5:], rotate(xv[:, :, f, 5:], cis))
    # rotation preserves norms of each channel pair, and is not the identity
    assert not torch.allclose(out[:, :, 0, 6:], xv[:, :, 0, 6:])


def test_perceiver_windows_and_positions() -> None:
    torch.manual_seed(0)
    p = PerceiverResampler().eval()
    x = torch.randn(1, 64, 64, 64)
    pos = torch.randn(1, 64, 64, 64)
    lat, lat_pos = p(x, pos)
    assert lat.shape == lat_pos.shape == (1, 512, 64)
    assert torch.count_nonzero(lat_pos[:, :256]) == 0
    x2 = x.clone()
    x2[:, :, 8:12, 20:24] += 1.0  # window (row 2, col 5) of the 16 x 16 grid
    lat2, _ = p(x2, pos)
    changed = (lat2[0, 256:] - lat[0, 256:]).abs().amax(dim=1) > 0
    assert changed.nonzero().flatten().tolist() == [2 * 16 + 5]
    assert not torch.equal(lat2[:, :256], lat[:, :256])  # global latents see everything


def test_repvit_fuse_keeps_outputs() -> None:
    torch.manual_seed(0)
    net = repvit_m1().eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.2, 0.5)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        ref = net(x)
        net.fuse_()
        got = net(x)
    assert [t.shape[1] for t in got] == [48, 96, 192, 384]
    for a, b in zip(ref, got, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_memory_plan_forward_and_reverse() -> None:
    plan = plan_memory(EDGETAM, 10, {0}, set(range(1, 10)), num_frames=100, reverse=False)
    assert plan.spatial == (
        (0, 0, True),
        (1, 4, False),
        (2, 5, False),
        (3, 6, False),
        (4, 7, False),
        (5, 8, False),
        (6, 9, False),
    )
    assert plan.pointers == ((0, True), *((t, False) for t in range(9, 0, -1)))
    plan = plan_memory(EDGETAM, 5, {9}, {6, 8}, num_frames=10, reverse=True)
    assert plan.spatial == ((0, 9, True), (4, 8, False), (6, 6, False))
    assert plan.pointers == ((9, True), (6, False), (8, False))
    # pointers never come from a future conditioning frame
    plan = plan_memory(EDGETAM, 3, {5}, set(), num_frames=10, reverse=False)
    assert plan.spatial == ((0, 5, True),) and plan.pointers == ()


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    return [np.roll(base, 2 * t, axis=1) for t in range(5)]


def test_session_streams_frames_and_adds_objects_after_tracking(frames: list) -> None:
    calls: list[int] = []

    def get_frame(i: int) -> np.ndarray:
        calls.append(i)
        return frames[i]

    session = Sam2VideoPredictor(tiny_model(), keep_frames=None).start(get_frame, len(frames))
    assert calls == [0]  # only to read the video size
    first = session.add_points(0, 1, [[30, 20]], [1])
    assert first.mask_logits.shape == (1, 60, 80) and first.object_ids == [1]
    pass1 = {r.frame_index: r.mask_logits.copy() for r in session.propagate()}
    assert sorted(pass1) == list(range(5))
    assert len(session.features) <= 2

    res = session.add_points(3, 2, box=[10, 10, 40, 50])  # new object on a tracked frame
    assert res.object_ids == [1, 2]
    np.testing.assert_array_equal(res.mask_logits[0], pass1[3][0])
    pass2 = {r.frame_index: r.mask_logits for r in session.propagate()}
    for f in range(5):  # object 1 keeps its own memory: unchanged
        np.testing.assert_array_equal(pass2[f][0], pass1[f][0])
    assert 3 in session.tracks[1].cond and 3 not in session.tracks[0].cond
    np.testing.assert_array_equal(pass2[3][1], res.mask_logits[1])  # its keyframe, as stored
    # frames before its keyframe are tracked from that keyframe's memory (SAM 2 per object)
    assert not np.array_equal(pass2[1][1], pass2[2][1])
    back = [r.frame_index for r in session.propagate(start_frame=3, reverse=True)]
    assert back == [3, 2, 1, 0]


def test_session_bounded_memory_is_exact_within_the_window(frames: list) -> None:
    model = tiny_model()
    results, kept = {}, {}
    for keep in (None, 3, 1):
        session = Sam2VideoPredictor(model, keep_frames=keep).start(lambda i: frames[i], 5)
        session.add_points(0, 1, [[30, 20]], [1])
        results[keep] = [r.mask_logits for r in session.propagate()]
        kept[keep] = sorted(session.tracks[0].non_cond)
    # frame 4 reads frames 1..3 (5-frame video): keeping 3 frames back is exact
    for a, b in zip(results[None], results[3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert kept[None] == [1, 2, 3, 4] and kept[1] == [3, 4]
    assert not np.array_equal(results[1][4], results[None][4])


def test_click_on_keyframe_after_tracking(frames: list) -> None:
    model = tiny_model()
    for refine in (True, False):
        session = Sam2VideoPredictor(model, refine_keyframes=refine).start(lambda i: frames[i], 5)
        first = session.add_points(0, 1, [[30, 20]], [1]).mask_logits
        list(session.propagate(max_frames=1))
        again = session.add_points(0, 1, [[30, 20], [60, 40]], [1, 0]).mask_logits
        assert not np.array_equal(first, again)
        emitted = next(iter(session.propagate(max_frames=0))).mask_logits
        # refine: the keyframe takes the new clicks; official: they are dropped at propagation
        np.testing.assert_array_equal(emitted, again if refine else first)


def test_session_errors(frames: list) -> None:
    session = Sam2VideoPredictor(tiny_model()).start(lambda i: frames[i], len(frames))
    with pytest.raises(PromptError):
        list(session.propagate())
    with pytest.raises(PromptError):
        session.add_points(99, 1, [[1, 1]], [1])
    with pytest.raises(PromptError):
        session.add_points(0, 1, [[1, 1]], [1, 0])
