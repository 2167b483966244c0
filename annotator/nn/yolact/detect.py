"""YOLACT inference around the network: preprocessing, Detect (Fast NMS), mask assembly.

Follows dbolya/yolact utils/augmentations.py `FastBaseTransform`, layers/functions/detection.py
`Detect` (as eval.py configures it: Fast NMS per class, no second threshold) and
layers/output_utils.py `postprocess` (crop at prototype resolution, then upsample, then > 0.5);
YOLACT++'s mask-IoU rescoring as eval.py `prep_display` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from annotator.nn.ops.boxes import upper_iou
from annotator.nn.ops.noh import NOHHead
from annotator.nn.yolact.config import COCO_CLASSES, YolactConfig
from annotator.nn.yolact.model import Yolact, YolactOutput
from annotator.nn.yolact.suppression import check_suppression, multiclass_suppress, noh_inputs


@dataclass(frozen=True)
class Detection:
    """One YOLACT instance in frame pixels."""

    class_id: int  # index into COCO_CLASSES (0..79)
    label: str
    score: float
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 (truncated pixels, x2/y2 exclusive-ish)
    mask: np.ndarray  # (H, W) bool at frame size


@dataclass
class RawDetections:
    """Detect's output for one image: relative boxes, classes, scores, mask coefficients."""

    boxes: torch.Tensor  # (N, 4) x1, y1, x2, y2 in [0, 1]
    classes: torch.Tensor  # (N,) int64
    scores: torch.Tensor  # (N,) descending
    coeffs: torch.Tensor  # (N, mask_dim)
    proto: torch.Tensor  # (Hp, Wp, mask_dim)


def normalize(x: torch.Tensor, cfg: YolactConfig) -> torch.Tensor:
    """(x - mean) / std on a 0..255 RGB NCHW tensor (the BGR constants, reordered)."""
    mean = torch.tensor(cfg.means_rgb, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.std_rgb, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def preprocess(frame: np.ndarray, cfg: YolactConfig, device: torch.device) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> (1, 3, S, S): FastBaseTransform (square resize, no aspect kept)."""
    x = torch.from_numpy(np.ascontiguousarray(frame)).to(device=device, dtype=torch.float32)
    x = x.permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(cfg.max_size, cfg.max_size), mode="bilinear", align_corners=False)
    return normalize(x, cfg)


def decode(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """SSD-style decoding with variances (0.1, 0.2) -> (x1, y1, x2, y2), relative."""
    boxes = torch.cat(
        (
            priors[:, :2] + loc[:, :2] * 0.1 * priors[:, 2:],
            priors[:, 2:] * torch.exp(loc[:, 2:] * 0.2),
        ),
        1,
    )
    xy = boxes[:, :2] - boxes[:, 2:] / 2
    return torch.cat((xy, boxes[:, 2:] + xy), 1)


def multiclass_fast_nms(
    boxes: torch.Tensor, scores: torch.Tensor, cfg: YolactConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fast NMS per class on (C, P) scores -> (class ids, box indices, scores), best first.

    Per class: top `nms_top_k` by score, keep boxes whose max IoU with a higher-scored box of the
    class is <= nms_thresh (low scores survive: no second threshold); then the best
    `max_num_detections` over all classes.
    """
    sorted_scores, idx = torch.sort(scores, dim=1, descending=True, stable=True)
    idx = idx[:, : cfg.nms_top_k]
    sorted_scores = sorted_scores[:, : cfg.nms_top_k]
    iou_max = upper_iou(boxes[idx]).max(dim=1).values
    keep = iou_max <= cfg.nms_thresh
    classes = torch.arange(scores.shape[0], device=scores.device)[:, None].expand_as(keep)[keep]
    box_idx = idx[keep]
    kept_scores, order = torch.sort(sorted_scores[keep], descending=True, stable=True)
    order = order[: cfg.max_num_detections]
    return classes[order], box_idx[order], kept_scores[: cfg.max_num_detections]


def detect(
    out: YolactOutput, cfg: YolactConfig, batch_idx: int = 0, suppression: str = "fast",
    noh_head: NOHHead | None = None,
) -> RawDetections:
    """Decode, drop priors whose best foreground score is <= nms_conf_thresh, suppress.

    `suppression` is one of SUPPRESSIONS (`fast`, the official Fast NMS, by default); `noh`
    needs a trained `noh_head` (BackendUnavailable otherwise).
    """
    check_suppression(suppression, noh_head)
    boxes = decode(out.loc[batch_idx], out.priors)
    cur = out.conf[batch_idx, :, 1:].t()  # (C - 1, P): background dropped
    keep = cur.max(dim=0).values > cfg.nms_conf_thresh
    proto = out.proto[batch_idx]
    if not bool(keep.any()):
        empty = boxes.new_zeros(0)
        return RawDetections(
            boxes.new_zeros(0, 4), empty.long(), empty, boxes.new_zeros(0, cfg.mask_dim), proto
        )
    boxes, coeffs = boxes[keep], out.mask[batch_idx, keep]
    if suppression == "fast":
        classes, idx, scores = multiclass_fast_nms(boxes, cur[:, keep], cfg)
    else:
        nearby = None
        if noh_head is not None and suppression == "noh":
            nearby = noh_inputs(noh_head, out.fpn, boxes, cur[:, keep], cfg, batch_idx)
        classes, idx, scores = multiclass_suppress(boxes, cur[:, keep], cfg, suppression, nearby)
    return RawDetections(boxes[idx], classes, scores, coeffs[idx], proto)


def sanitize(
    x1: torch.Tensor, x2: torch.Tensor, size: int, padding: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Official `sanitize_coordinates(cast=False)`: to pixels, ordered, padded, clamped."""
    a, b = x1 * size, x2 * size
    lo = torch.clamp(torch.minimum(a, b) - padding, min=0)
    hi = torch.clamp(torch.maximum(a, b) + padding, max=size)
    return lo, hi


def crop_masks(masks: torch.Tensor, boxes: torch.Tensor, padding: int = 1) -> torch.Tensor:
    """Zero (N, h, w) soft masks outside their (padded) box, at prototype resolution."""
    _, h, w = masks.shape
    x1, x2 = sanitize(boxes[:, 0], boxes[:, 2], w, padding)
    y1, y2 = sanitize(boxes[:, 1], boxes[:, 3], h, padding)
    cols = torch.arange(w, device=masks.device, dtype=x1.dtype)[None, None, :]
    rows = torch.arange(h, device=masks.device, dtype=y1.dtype)[None, :, None]
    inside = (
        (cols >= x1[:, None, None])
        & (cols < x2[:, None, None])
        & (rows >= y1[:, None, None])
        & (rows < y2[:, None, None])
    )
    return masks * inside.to(masks.dtype)


def assemble_masks(raw: RawDetections) -> torch.Tensor:
    """sigmoid(proto @ coeffs^T), cropped to the boxes: (N, Hp, Wp) soft masks."""
    masks = torch.sigmoid(raw.proto @ raw.coeffs.t()).permute(2, 0, 1)
    return crop_masks(masks, raw.boxes)


def postprocess(
    raw: RawDetections, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> classes, scores, boxes (N, 4) int64 pixels, masks (N, H, W) bool at frame size."""
    if raw.scores.numel() == 0:  # a frame without detections (interpolate refuses N=0)
        empty = raw.boxes.new_zeros((0, height, width), dtype=torch.bool)
        return raw.classes, raw.scores, raw.boxes.new_zeros((0, 4), dtype=torch.long), empty
    soft = assemble_masks(raw)
    masks = F.interpolate(soft[None], (height, width), mode="bilinear", align_corners=False)[0]
    x1, x2 = sanitize(raw.boxes[:, 0], raw.boxes[:, 2], width)
    y1, y2 = sanitize(raw.boxes[:, 1], raw.boxes[:, 3], height)
    boxes = torch.stack((x1, y1, x2, y2), dim=1).long()
    return raw.classes, raw.scores, boxes, masks > 0.5


def rescore(model: Yolact, raw: RawDetections, score_threshold: float = 0.0) -> RawDetections:
    """YOLACT++ display scores (`prep_display`): box score x the mask IoU that maskiou_net
    predicts for the detection's class on its cropped soft mask; re-sorted, and cut at the first
    score below `score_threshold`."""
    if model.maskiou_net is None or raw.scores.numel() == 0:
        return raw
    iou = model.maskiou_net(assemble_masks(raw)[:, None])
    scores = raw.scores * iou.gather(1, raw.classes[:, None])[:, 0]
    scores, order = torch.sort(scores, descending=True, stable=True)
    below = torch.nonzero(scores < score_threshold).flatten()
    n = int(below[0]) if below.numel() else len(scores)
    order, scores = order[:n], scores[:n]
    return RawDetections(raw.boxes[order], raw.classes[order], scores, raw.coeffs[order],
                         raw.proto)


@torch.inference_mode()
def predict(
    model: Yolact, frame: np.ndarray, score_threshold: float = 0.0, top_k: int | None = None,
    suppression: str = "fast", noh_head: NOHHead | None = None,
) -> list[Detection]:
    """Instances in an RGB uint8 (H, W, 3) frame, best first.

    `score_threshold` and `top_k` are the official display filters (eval.py defaults 0 and 5;
    the README demo uses 0.15 and 15); None keeps all (at most max_num_detections).
    `suppression` / `noh_head` as in `detect`. YOLACT++ rescores by mask IoU (see `rescore`)
    before `top_k`, as the official display does.
    """
    cfg = model.config
    check_suppression(suppression, noh_head)
    device = next(model.parameters()).device
    height, width = frame.shape[:2]
    raw = detect(model(preprocess(frame, cfg, device)), cfg, 0, suppression, noh_head)
    keep = raw.scores > score_threshold if score_threshold > 0 else None
    if keep is not None:
        raw = RawDetections(
            raw.boxes[keep], raw.classes[keep], raw.scores[keep], raw.coeffs[keep], raw.proto
        )
    if model.maskiou_net is not None:
        raw = rescore(model, raw, score_threshold)
    if top_k is not None:
        raw = RawDetections(
            raw.boxes[:top_k],
            raw.classes[:top_k],
            raw.scores[:top_k],
            raw.coeffs[:top_k],
            raw.proto,
        )
    classes, scores, boxes, masks = postprocess(raw, height, width)
    masks_np = masks.cpu().numpy()
    return [
        Detection(
            int(c),
            COCO_CLASSES[int(c)],
            float(s),
            (int(b[0]), int(b[1]), int(b[2]), int(b[3])),
            masks_np[i],
        )
        for i, (c, s, b) in enumerate(
            zip(classes.tolist(), scores.tolist(), boxes.tolist(), strict=True)
        )
    ]
