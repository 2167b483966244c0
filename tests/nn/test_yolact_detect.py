"""YOLACT's Detect with each suppression choice: Fast NMS unchanged, the others in the expected
direction on a crowded synthetic fixture, NOH-NMS end to end with a (random) head file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from annotator.core.errors import BackendUnavailable, CheckpointError
from annotator.nn.ops.noh import NOHHead
from annotator.nn.yolact import CONFIGS, YolactOutput, detect
from annotator.nn.yolact.detect import RawDetections, decode, multiclass_fast_nms, postprocess
from annotator.nn.yolact.suppression import nearby_objects

CFG = replace(CONFIGS["yolact_resnet50"](), max_num_detections=10**6)  # no final cut
LEVELS = (69, 35, 18, 9, 5)  # YOLACT's P3..P7 at 550


def test_yolact_postprocess_handles_a_frame_without_detections():
    raw = RawDetections(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0),
                        torch.zeros(0, 32), torch.zeros(138, 138, 32))
    classes, scores, boxes, masks = postprocess(raw, 120, 160)
    assert classes.numel() == 0 and scores.numel() == 0
    assert boxes.shape == (0, 4) and masks.shape == (0, 120, 160)


@pytest.fixture(scope="module")
def crowded() -> YolactOutput:
    """600 priors in a small area (many overlaps), three classes clearly above the rest."""
    g = torch.Generator().manual_seed(0)
    p = 600
    priors = torch.cat((0.3 + 0.4 * torch.rand(p, 2, generator=g),
                        0.1 + 0.2 * torch.rand(p, 2, generator=g)), dim=1)
    logits = torch.randn(1, p, 81, generator=g)
    logits[..., 1:4] += 3.0 * torch.rand(1, p, 3, generator=g)
    fpn = [torch.randn(1, 256, s, s, generator=g) for s in LEVELS]
    return YolactOutput(loc=0.5 * torch.randn(1, p, 4, generator=g),
                        conf=torch.softmax(logits, dim=-1), mask=torch.zeros(1, p, 32),
                        priors=priors, proto=torch.zeros(1, 20, 20, 32), fpn=fpn)


def _pairs(raw: RawDetections, boxes: torch.Tensor) -> dict[tuple[int, tuple], float]:
    """{(class, box): score}: boxes identify priors (their decoded coordinates)."""
    rows = [tuple(b) for b in raw.boxes.tolist()]
    return {(int(c), rows[i]): float(s)
            for i, (c, s) in enumerate(zip(raw.classes, raw.scores, strict=True))}


def _scores(out: YolactOutput) -> dict[tuple[int, tuple], float]:
    """The score of every (class, box) candidate before suppression."""
    boxes = decode(out.loc[0], out.priors).tolist()
    conf = out.conf[0, :, 1:].tolist()
    return {(c, tuple(box)): row[c] for box, row in zip(boxes, conf, strict=True)
            for c in range(80)}


def test_fast_is_the_default_and_the_official_path(crowded):
    default = detect(crowded, CFG)
    fast = detect(crowded, CFG, suppression="fast")
    for a, b in zip((default.boxes, default.classes, default.scores, default.coeffs),
                    (fast.boxes, fast.classes, fast.scores, fast.coeffs), strict=True):
        assert torch.equal(a, b)
    boxes = decode(crowded.loc[0], crowded.priors)
    keep = crowded.conf[0, :, 1:].max(dim=1).values > CFG.nms_conf_thresh
    classes, idx, scores = multiclass_fast_nms(boxes[keep], crowded.conf[0, keep, 1:].t(), CFG)
    assert torch.equal(fast.classes, classes) and torch.equal(fast.scores, scores)
    assert torch.equal(fast.boxes, boxes[keep][idx])


def test_greedy_keeps_a_superset_of_fast_and_cluster_equals_greedy(crowded):
    fast = _pairs(detect(crowded, CFG, suppression="fast"), crowded.priors)
    greedy_raw = detect(crowded, CFG, suppression="greedy")
    greedy = _pairs(greedy_raw, crowded.priors)
    assert set(fast) < set(greedy)  # strictly more: the choice matters on this fixture
    assert all(greedy[k] == v for k, v in fast.items())  # scores unchanged
    assert list(greedy_raw.scores) == sorted(greedy_raw.scores, reverse=True)
    cluster = detect(crowded, CFG, suppression="cluster")
    assert torch.equal(cluster.classes, greedy_raw.classes)
    assert torch.equal(cluster.boxes, greedy_raw.boxes)


def test_matrix_decays_scores_and_keeps_each_class_best(crowded):
    before = _scores(crowded)
    matrix = _pairs(detect(crowded, CFG, suppression="matrix"), crowded.priors)
    fast = _pairs(detect(crowded, CFG, suppression="fast"), crowded.priors)
    assert set(matrix) != set(fast)
    assert all(v <= before[k] + 1e-7 and v > CFG.nms_conf_thresh for k, v in matrix.items())
    for c in range(3):
        best = max((k for k in before if k[0] == c), key=lambda k: before[k])
        assert matrix[best] == pytest.approx(before[best])


def _head(prob_bias: float, seed: int = 0) -> NOHHead:
    torch.manual_seed(seed)
    head = NOHHead().eval()
    with torch.no_grad():
        head.overlap_prob.bias.fill_(prob_bias)
    return head


def test_noh_with_zero_likelihood_is_greedy_on_scored_candidates(crowded):
    noh = detect(crowded, CFG, suppression="noh", noh_head=_head(-100.0))
    greedy = _pairs(detect(crowded, CFG, suppression="greedy"), crowded.priors)
    above = {k: v for k, v in greedy.items() if v > CFG.nms_conf_thresh}
    # a box's fate under greedy depends only on better-scored boxes, so dropping each class's
    # low-score tail first changes nothing else
    assert _pairs(noh, crowded.priors) == above


def test_noh_with_likelihood_spares_boxes_with_decayed_scores(crowded):
    before = _scores(crowded)
    spared = _pairs(detect(crowded, CFG, suppression="noh", noh_head=_head(100.0)),
                    crowded.priors)
    plain = _pairs(detect(crowded, CFG, suppression="noh", noh_head=_head(-100.0)),
                   crowded.priors)
    assert set(spared) != set(plain)
    assert all(v <= before[k] + 1e-7 for k, v in spared.items())


def test_nearby_objects_pools_each_box_from_its_level(crowded):
    boxes = torch.tensor([[0.1, 0.1, 0.2, 0.2], [0.0, 0.0, 1.0, 1.0]])
    nearby, probs = nearby_objects(_head(0.0), crowded.fpn, boxes, CFG)
    assert nearby.shape == (2, 4) and probs.shape == (2,)
    assert bool(((probs > 0) & (probs < 1)).all()) and bool(((nearby >= 0) & (nearby <= 1)).all())


def test_noh_without_a_head_says_what_is_needed(crowded):
    with pytest.raises(BackendUnavailable, match=r"hallucinator head.*noh_head=PATH"):
        detect(crowded, CFG, suppression="noh")
    with pytest.raises(ValueError, match="unknown suppression"):
        detect(crowded, CFG, suppression="soft")


def _first_frame(videos_dir: Path) -> np.ndarray:
    from annotator.video import open_video

    video = open_video(videos_dir / "bedroom.mp4")
    try:
        return video.frame(0)
    finally:
        video.close()


def person_checkpoint(path: Path) -> Path:
    """Save a random yolact_resnet50 whose class head says "person" (a little noisy)
    everywhere, so that random weights still give proposals."""
    from annotator.nn.yolact import build_yolact

    torch.manual_seed(0)
    model = build_yolact("yolact_resnet50")
    conf = model.prediction_layers[0].conf_layer
    with torch.no_grad():
        conf.weight.mul_(0.1)
        bias = conf.bias.view(CFG.num_priors, CFG.num_classes)
        bias[:, 0], bias[:, 1] = -5.0, 5.0
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def yolact_file(tmp_path_factory) -> Path:
    return person_checkpoint(tmp_path_factory.mktemp("yolact") / "yolact_resnet50_person.pth")


def test_proposer_with_noh_head_runs_end_to_end_on_a_real_frame(videos_dir, yolact_file,
                                                                 tmp_path):
    from annotator.backends.builtin.yolact import YolactProposer

    frame = _first_frame(videos_dir)
    head_file = tmp_path / "noh_head.pth"
    torch.save(NOHHead().state_dict(), head_file)
    with pytest.raises(BackendUnavailable, match="hallucinator"):
        YolactProposer("yolact_resnet50", yolact_file, "cpu", suppression="noh")
    with pytest.raises(CheckpointError):
        YolactProposer("yolact_resnet50", yolact_file, "cpu", suppression="noh",
                       noh_head=yolact_file)
    proposer = YolactProposer("yolact_resnet50", yolact_file, "cpu", suppression="noh",
                              noh_head=head_file)
    found = proposer.propose(frame)
    assert 0 < len(found) <= proposer.top_k
    assert all(p.label == "person" and p.mask.shape == frame.shape[:2] for p in found)
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    proposer.set_suppression("fast")
    assert proposer.noh_head is None and len(proposer.propose(frame)) > 0
