"""The NMS family against a literal port of torchvision's CPU kernel, and their relations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from annotator.nn.ops import (
    batched_nms,
    box_iou,
    cluster_nms,
    fast_nms,
    matrix_nms,
    nms,
    noh_nms,
)


def reference_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """torchvision/csrc/ops/cpu/nms_kernel.cpp, element by element in float32 scalars."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, k].astype(np.float32) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for a, i in enumerate(order):
            if suppressed[i]:
                continue
            keep.append(int(i))
            for j in order[a + 1:]:
                if suppressed[j]:
                    continue
                w = max(np.float32(0), min(x2[i], x2[j]) - max(x1[i], x1[j]))
                h = max(np.float32(0), min(y2[i], y2[j]) - max(y1[i], y1[j]))
                inter = w * h
                if float(inter / (areas[i] + areas[j] - inter)) > threshold:
                    suppressed[j] = True
    return keep


def random_case(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Small integer boxes (exact IoUs, duplicates, zero areas) and tied scores."""
    n = int(rng.integers(0, 40))
    xy = rng.integers(0, 8, size=(n, 2))
    wh = rng.integers(0, 5, size=(n, 2))  # zero width/height happens
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    if n > 3:
        boxes[1] = boxes[0]  # an identical pair
    scores = rng.choice([0.2, 0.4, 0.6, 0.8], size=n).astype(np.float32)
    threshold = float(rng.choice([0.0, 0.25, 0.3, 0.5, 1 / 3, 0.7, rng.random()]))
    return torch.from_numpy(boxes), torch.from_numpy(scores), threshold


CASES = [random_case(np.random.default_rng(seed)) for seed in range(100)]


def test_greedy_matches_reference_kernel() -> None:
    for boxes, scores, t in CASES:
        expected = reference_nms(boxes.numpy(), scores.numpy(), t)
        assert nms(boxes, scores, t).tolist() == expected


def test_greedy_hand_cases() -> None:
    boxes = torch.tensor([[0, 0, 2, 1], [1, 0, 3, 1], [10, 10, 11, 11]], dtype=torch.float32)
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 1, 2]
    # IoU(0, 1) is float32(1/3) = 0.33333334 > 1/3: torchvision compares in double, suppresses.
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 1 / 3).tolist() == [0, 2]
    half = torch.tensor([[0, 0, 3, 1], [1, 0, 4, 1]], dtype=torch.float32)  # IoU exactly 0.5
    assert nms(half, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert nms(half, torch.tensor([0.9, 0.8]), 0.49).tolist() == [0]
    same = torch.tensor([[0, 0, 1, 1]] * 3, dtype=torch.float32)
    assert nms(same, torch.tensor([0.5, 0.7, 0.7]), 0.5).tolist() == [1]  # tie: lower index
    flat = torch.tensor([[0, 0, 0, 1], [0, 0, 0, 1]], dtype=torch.float32)  # 0/0 IoU
    assert nms(flat, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), -0.1).tolist() == [0]  # 0 > -0.1
    empty = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.dtype == torch.int64
    assert empty.numel() == 0


def test_batched_nms_is_per_class() -> None:
    rng = np.random.default_rng(7)
    for boxes, scores, t in CASES[:60]:
        labels = torch.from_numpy(rng.integers(0, 3, size=len(boxes)))
        keep = set()
        for c in range(3):
            members = np.flatnonzero(labels.numpy() == c)
            sub = reference_nms(boxes.numpy()[members], scores.numpy()[members], t)
            keep |= {int(members[k]) for k in sub}
        got = batched_nms(boxes, scores, labels, t)
        assert set(got.tolist()) == keep
        assert torch.all(scores[got][:-1] >= scores[got][1:])


def test_fast_nms_keeps_a_subset_of_greedy() -> None:
    strict = 0
    for boxes, scores, t in CASES:
        fast = set(fast_nms(boxes, scores, t).tolist())
        greedy = set(nms(boxes, scores, t).tolist())
        assert fast <= greedy
        strict += fast < greedy
    assert strict > 0  # the cases do exercise the difference


def test_fast_nms_chain_and_top_k() -> None:
    # 0 suppresses 1; 1 would suppress 2 although 2 does not overlap 0: Fast drops 2 too.
    boxes = torch.tensor([[0, 0, 4, 1], [1, 0, 5, 1], [2, 0, 6, 1]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert fast_nms(boxes, scores, 0.5).tolist() == [0]
    assert cluster_nms(boxes, scores, 0.5).tolist() == [0, 2]
    far = torch.tensor([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], dtype=torch.float32)
    assert fast_nms(far, torch.tensor([0.1, 0.3, 0.2]), 0.5, top_k=2).tolist() == [1, 2]


def test_cluster_nms_equals_greedy() -> None:
    for boxes, scores, t in CASES:
        assert cluster_nms(boxes, scores, t).tolist() == nms(boxes, scores, t).tolist()


def test_noh_nms_without_likelihood_is_greedy() -> None:
    for boxes, scores, t in CASES:
        probs = torch.zeros(len(boxes))
        keep, kept_scores = noh_nms(boxes, scores, boxes, probs, iou_threshold=t)
        assert keep.tolist() == nms(boxes, scores, t).tolist()
        assert torch.equal(kept_scores, scores[keep])


def _noh_pair() -> tuple[torch.Tensor, torch.Tensor]:
    boxes = torch.tensor([[0, 0, 10, 10], [2, 0, 12, 10]], dtype=torch.float32)  # IoU 2/3
    return boxes, torch.tensor([0.9, 0.8])


def test_noh_nms_rescues_the_hallucinated_neighbour() -> None:
    boxes, scores = _noh_pair()
    keep, kept = noh_nms(boxes, scores, boxes.flip(0), torch.tensor([0.7, 0.0]))
    assert keep.tolist() == [0, 1]
    assert kept.tolist() == pytest.approx([0.9, 0.8])
    keep, _ = noh_nms(boxes, scores, boxes.flip(0), torch.tensor([0.2, 0.0]))  # gate 0.3
    assert keep.tolist() == [0]


def test_noh_nms_decays_with_distance_from_the_hallucination() -> None:
    boxes, scores = _noh_pair()
    # The hallucinated box sits 0.5 sigma (dx = 0.1 in width units) from box 1.
    nearby = torch.tensor([[1, 0, 11, 10], [0, 0, 1, 1]], dtype=torch.float32)
    keep, kept = noh_nms(boxes, scores, nearby, torch.tensor([0.7, 0.0]))
    assert kept.tolist() == pytest.approx([0.9, 0.8 * math.exp(-0.125)], rel=1e-5)
    far = torch.tensor([[8, 0, 18, 10], [0, 0, 1, 1]], dtype=torch.float32)  # 3 sigma away
    keep, _ = noh_nms(boxes, scores, far, torch.tensor([0.7, 0.0]))
    assert keep.tolist() == [0]


def test_noh_nms_flagged_boxes_cannot_rescue() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [2, 0, 12, 10], [4, 0, 14, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    nearby = torch.stack([boxes[1], boxes[2], boxes[0]])  # 0 points at 1, 1 points at 2
    probs = torch.tensor([0.9, 0.9, 0.0])
    keep, _ = noh_nms(boxes, scores, nearby, probs)
    # Box 2 overlaps box 0 by 0.43 (<= 0.5) so only box 1 (flagged) could suppress or spare it:
    # being flagged, box 1 suppresses it greedily.
    assert keep.tolist() == [0, 1]
    assert float(box_iou(boxes[1:2], boxes[2:3])[0, 0]) > 0.5


def test_noh_nms_legacy_iou_option() -> None:
    boxes, scores = _noh_pair()
    # Official arithmetic: areas 11 x 11, intersection 8 x 10 -> IoU 80/162 < 0.5 (vs 2/3).
    keep, _ = noh_nms(boxes, scores, boxes, torch.zeros(2), legacy_iou=True)
    assert keep.tolist() == [0, 1]
    keep, _ = noh_nms(boxes, scores, boxes, torch.zeros(2))
    assert keep.tolist() == [0]


def test_matrix_nms_decay() -> None:
    far = torch.tensor([[0, 0, 1, 1], [5, 5, 6, 6]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8])
    assert torch.equal(matrix_nms(far, scores), scores)
    pair = torch.tensor([[0, 0, 3, 1], [1, 0, 4, 1]], dtype=torch.float32)  # IoU 0.5
    out = matrix_nms(pair, torch.tensor([0.8, 0.9]))  # box 1 is the better one
    assert out.tolist() == pytest.approx([0.8 * math.exp(-2.0 * 0.25), 0.9])
    out = matrix_nms(pair, torch.tensor([0.9, 0.8]), kernel="linear")
    assert out.tolist() == pytest.approx([0.9, 0.4])
    out = matrix_nms(pair, torch.tensor([0.9, 0.8]), labels=torch.tensor([0, 1]))
    assert out.tolist() == pytest.approx([0.9, 0.8])  # other label: untouched


def test_matrix_nms_compensates_for_suppressed_suppressors() -> None:
    boxes = torch.tensor([[0, 0, 3, 1], [1, 0, 4, 1], [2, 0, 5, 1]], dtype=torch.float32)
    out = matrix_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), kernel="linear")
    # IoU(0,1) = IoU(1,2) = 0.5, IoU(0,2) = 0.2; box 1's compensation is 0.5.
    decay2 = min((1 - 0.2) / 1.0, (1 - 0.5) / (1 - 0.5))
    assert out.tolist() == pytest.approx([0.9, 0.4, 0.7 * decay2])
