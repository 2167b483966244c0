"""The suppression step of YOLACT's Detect, with the NMS family as alternatives to Fast NMS.

`fast` is the official path (`detect.multiclass_fast_nms`). The others run per class on the
same candidates (each class's `nms_top_k` best boxes among the priors that passed
`nms_conf_thresh`) with the same IoU threshold, then share the official final cut
(`max_num_detections` best over all classes):

- `greedy`: torchvision-semantics greedy NMS; keeps a superset of Fast NMS's boxes.
- `cluster`: Cluster-NMS; the same boxes as greedy, in matrix passes.
- `matrix`: Matrix NMS (SOLOv2 settings: gaussian kernel, sigma 2); scores decay and boxes whose
  decayed score is <= `nms_conf_thresh` (SOLOv2's update_thr 0.05) are dropped.
- `noh`: NOH-NMS. As in its two-stage original, candidates are first filtered by score
  (> `nms_conf_thresh`, detectron2's 0.05); each candidate's nearby-object Gaussian comes from a
  trained NOHHead on RoIAlign features of the YOLACT FPN (see `nearby_objects`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from annotator.core.errors import BackendUnavailable
from annotator.nn.ops.nms import cluster_nms, matrix_nms, nms, noh_nms
from annotator.nn.ops.noh import NOHHead, apply_deltas
from annotator.nn.ops.roi_align import roi_align
from annotator.nn.yolact.config import YolactConfig

SUPPRESSIONS = ("fast", "greedy", "cluster", "matrix", "noh")
"""Suppression choices; `fast` is the official default."""
NOH_HEAD_NEEDED = (
    "NOH-NMS needs a trained nearby-objects hallucinator head for YOLACT (none is released): "
    "pass its state dict file with noh_head=PATH (in the app: Suppression > NOH head…)"
)
MATRIX_SIGMA = 2.0
CANONICAL_LEVEL, CANONICAL_SIZE = 4, 224.0  # detectron2's FPN RoI level assignment
POOLER_SIZE = 7
HEAD_CHUNK = 256  # RoIs per NOH-head pass (bounds the (R, 256*7*7) feature memory)

Kept = tuple[torch.Tensor, torch.Tensor]
"""(indices into one class's candidates, their output scores), best first."""


def check_suppression(name: str, head: NOHHead | None) -> None:
    """Raise for an unknown choice, or for `noh` without a head (one line, says the fix)."""
    if name not in SUPPRESSIONS:
        raise ValueError(f"unknown suppression {name!r}; choose one of {SUPPRESSIONS}")
    if name == "noh" and head is None:
        raise BackendUnavailable(NOH_HEAD_NEEDED)


def _level_of(boxes_px: torch.Tensor, levels: int) -> torch.Tensor:
    """detectron2 `assign_boxes_to_levels` on P3..P(2+levels): 0-based index into the pyramid."""
    side = torch.sqrt((boxes_px[:, 2] - boxes_px[:, 0]) * (boxes_px[:, 3] - boxes_px[:, 1]))
    level = torch.floor(CANONICAL_LEVEL + torch.log2(side / CANONICAL_SIZE + 1e-8))
    return (level.clamp(3, 2 + levels) - 3).to(torch.int64)


@torch.no_grad()
def nearby_objects(
    head: NOHHead, pyramid: list[torch.Tensor], boxes: torch.Tensor, cfg: YolactConfig,
    batch_idx: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each box's hallucinated nearby box (relative xyxy) and its likelihood.

    RoI features: 7x7 RoIAlignV2 (aligned, adaptive sampling) from the FPN level detectron2's
    rule picks for the box size (canonical 224 px at P4, clamped to YOLACT's P3..P7), spatial
    scale = level size / max_size; the head's deltas are decoded on the box and clipped.
    """
    size = float(cfg.max_size)
    boxes_px = boxes.clamp(0, 1) * size
    probs = boxes.new_zeros(len(boxes))
    deltas = boxes.new_zeros(len(boxes), 4)
    level = _level_of(boxes_px, len(pyramid))
    for k, feat in enumerate(pyramid):
        members = torch.nonzero(level == k).flatten()
        for chunk in members.split(HEAD_CHUNK):
            rois = roi_align(feat[batch_idx : batch_idx + 1], [boxes_px[chunk]], POOLER_SIZE,
                             spatial_scale=feat.shape[-1] / size, sampling_ratio=0, aligned=True)
            probs[chunk], deltas[chunk] = head(rois)
    nearby = apply_deltas(deltas, boxes_px).clamp(0, size) / size
    return nearby, probs


def _per_class(
    boxes: torch.Tensor, scores: torch.Tensor, cfg: YolactConfig,
    rule: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Kept], min_score: float | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run `rule(candidate box indices, their boxes, their scores)` per class; final cut."""
    top = min(cfg.nms_top_k, scores.shape[1])
    sorted_scores, idx = torch.sort(scores, dim=1, descending=True, stable=True)
    classes, box_idx, kept_scores = [], [], []
    for c in range(scores.shape[0]):
        cand, sc = idx[c, :top], sorted_scores[c, :top]
        if min_score is not None:
            cand, sc = cand[sc > min_score], sc[sc > min_score]
        if cand.numel() == 0:
            continue
        keep, out_scores = rule(cand, boxes[cand], sc)
        classes.append(torch.full_like(keep, c))
        box_idx.append(cand[keep])
        kept_scores.append(out_scores)
    if not classes:
        empty = torch.zeros(0, dtype=torch.int64, device=scores.device)
        return empty, empty, scores.new_zeros(0)
    all_scores, order = torch.sort(torch.cat(kept_scores), descending=True, stable=True)
    order = order[: cfg.max_num_detections]
    return (torch.cat(classes)[order], torch.cat(box_idx)[order],
            all_scores[: cfg.max_num_detections])


def multiclass_suppress(
    boxes: torch.Tensor, scores: torch.Tensor, cfg: YolactConfig, method: str,
    nearby: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A non-`fast` suppression on (C, P) scores -> (class ids, box indices, scores), best first.

    `nearby` (NOH-NMS only) holds every box's (nearby box, likelihood), as `nearby_objects`
    returns them for `boxes`.
    """
    thresh = cfg.nms_thresh

    def greedy(_: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> Kept:
        keep = nms(b, s, thresh)
        return keep, s[keep]

    def cluster(_: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> Kept:
        keep = cluster_nms(b, s, thresh)
        return keep, s[keep]

    def matrix(_: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> Kept:
        decayed = matrix_nms(b, s, kernel="gaussian", sigma=MATRIX_SIGMA)
        keep = torch.nonzero(decayed > cfg.nms_conf_thresh).flatten()
        keep = keep[torch.sort(decayed[keep], descending=True, stable=True).indices]
        return keep, decayed[keep]

    def noh(cand: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> Kept:
        assert nearby is not None
        return noh_nms(b, s, nearby[0][cand], nearby[1][cand], iou_threshold=thresh)

    rules = {"greedy": greedy, "cluster": cluster, "matrix": matrix, "noh": noh}
    if method not in rules:
        raise ValueError(f"unknown suppression {method!r}; choose one of {SUPPRESSIONS}")
    if method == "noh" and nearby is None:
        raise BackendUnavailable(NOH_HEAD_NEEDED)
    min_score = cfg.nms_conf_thresh if method == "noh" else None
    return _per_class(boxes, scores, cfg, rules[method], min_score)


def noh_inputs(
    head: NOHHead, pyramid: list[torch.Tensor], boxes: torch.Tensor, scores: torch.Tensor,
    cfg: YolactConfig, batch_idx: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`nearby_objects` for the boxes NOH-NMS may look at (any class's top_k with score >
    nms_conf_thresh), scattered into (P, 4) / (P,) arrays (zero likelihood elsewhere)."""
    top = min(cfg.nms_top_k, scores.shape[1])
    sorted_scores, idx = torch.sort(scores, dim=1, descending=True, stable=True)
    cand = torch.unique(idx[:, :top][sorted_scores[:, :top] > cfg.nms_conf_thresh])
    nearby, probs = boxes.clone(), boxes.new_zeros(len(boxes))
    if cand.numel():
        nearby[cand], probs[cand] = nearby_objects(head, pyramid, boxes[cand], cfg, batch_idx)
    return nearby, probs
