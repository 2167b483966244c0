"""Non-maximum suppression: greedy (torchvision semantics), Fast, Cluster, Matrix and NOH-NMS.

Shared conventions, chosen so that the variants can be compared exactly:

- boxes are (x1, y1, x2, y2) with IoU computed as in torchvision (no +1);
- scores are ordered with a *stable* descending sort, so equal scores keep the lower index first;
- a box is suppressed iff IoU > threshold (IoU == threshold is kept), the threshold compared as a
  Python float (double) like torchvision's C++ kernel, even for float32 IoUs;
- a pair of zero-area boxes (IoU 0/0) never suppresses.

Every function returns kept indices into the caller's tensors, in decreasing score order.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from annotator.nn.ops.boxes import box_area, box_iou, upper_iou


def _empty_keep(device: torch.device) -> torch.Tensor:
    return torch.empty(0, dtype=torch.int64, device=device)


def _order(scores: torch.Tensor, top_k: int | None = None) -> torch.Tensor:
    """Indices by descending score, ties by ascending index, optionally truncated."""
    order = torch.sort(scores, descending=True, stable=True).indices
    return order if top_k is None else order[:top_k]


def _cut(threshold: float, dtype: torch.dtype) -> float:
    """A value `c` of `dtype` with `x > c` iff `x > threshold` for every x of `dtype`.

    For float32 that is the largest float32 <= threshold, so comparing in float32 gives the
    answer torchvision's kernel gets by promoting the IoU to double.
    """
    if dtype != torch.float32 or not math.isfinite(threshold):
        return threshold
    c = np.float32(threshold)
    if float(c) > threshold:
        c = np.nextafter(c, np.float32(-np.inf))
    return float(c)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS with torchvision.ops.nms semantics (CPU kernel); loops over kept boxes only.

    The bookkeeping runs on the CPU: the loop is inherently sequential.
    """
    if boxes.numel() == 0:
        return _empty_keep(boxes.device)
    order = _order(scores)
    b = boxes[order].cpu()
    x1, y1, x2, y2 = b.unbind(1)
    areas = box_area(b)
    cut = _cut(iou_threshold, b.dtype)
    suppressed = torch.zeros(len(b), dtype=torch.bool)
    flags = suppressed.numpy()  # shares memory: cheap per-index reads in the loop
    keep: list[int] = []
    for i in range(len(b)):
        if flags[i]:
            continue
        keep.append(i)
        rest = slice(i + 1, None)
        w = (torch.minimum(x2[rest], x2[i]) - torch.maximum(x1[rest], x1[i])).clamp(min=0)
        h = (torch.minimum(y2[rest], y2[i]) - torch.maximum(y1[rest], y1[i])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= iou > cut
    return order[torch.tensor(keep, dtype=torch.int64, device=order.device)]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Per-category greedy NMS (torchvision.ops.batched_nms); result sorted by score."""
    if boxes.numel() == 0:
        return _empty_keep(boxes.device)
    kept = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    for c in torch.unique(idxs):
        members = torch.nonzero(idxs == c).flatten()
        kept[members[nms(boxes[members], scores[members], iou_threshold)]] = True
    keep = torch.nonzero(kept).flatten()
    return keep[_order(scores[keep])]


def fast_nms(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, top_k: int | None = None
) -> torch.Tensor:
    """YOLACT's Fast NMS: keep j iff its max IoU with *any* higher-scored box is <= threshold.

    Already-suppressed boxes still suppress, so the result is a subset of greedy NMS's.
    `top_k` keeps only the best-scored boxes first (YOLACT: 200 per class).
    """
    order = _order(scores, top_k)
    if order.numel() == 0:
        return order
    max_iou = upper_iou(boxes[order]).max(dim=0).values
    return order[~(max_iou > _cut(iou_threshold, max_iou.dtype))]


def cluster_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    top_k: int | None = None,
    max_iter: int | None = None,
) -> torch.Tensor:
    """Cluster-NMS (Zheng et al. 2021): Fast NMS iterated until the kept set is stable.

    Each pass zeroes the rows of boxes suppressed so far, so they stop suppressing; the fixed
    point is exactly greedy NMS (box j only depends on boxes before it: at most n passes).
    """
    order = _order(scores, top_k)
    n = order.numel()
    if n == 0:
        return order
    iou = upper_iou(boxes[order])
    cut = _cut(iou_threshold, iou.dtype)
    keep = torch.ones(n, dtype=torch.bool, device=iou.device)
    matrix = iou
    for _ in range(n + 1 if max_iter is None else max_iter):
        new_keep = ~(matrix.max(dim=0).values > cut)
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
        matrix = iou * keep[:, None].to(iou.dtype)
    return order[keep]


def matrix_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor | None = None,
    kernel: str = "gaussian",
    sigma: float = 2.0,
) -> torch.Tensor:
    """Matrix NMS (SOLOv2) on boxes: one parallel pass that decays scores; returns new scores.

    decay_j = min_i f(IoU_ij) / f(max_k IoU_ki) over higher-scored i of the same label, with
    f(u) = exp(-sigma * u^2) ("gaussian", SOLOv2 code's parameterisation) or 1 - u ("linear").
    Scores are returned in the input order; threshold them to drop boxes.
    """
    if kernel not in ("gaussian", "linear"):
        raise ValueError(f"kernel must be 'gaussian' or 'linear', not {kernel!r}")
    order = _order(scores)
    if order.numel() == 0:
        return scores.clone()
    iou = upper_iou(boxes[order])
    if labels is not None:
        lab = labels[order]
        iou = iou * (lab[:, None] == lab[None, :]).to(iou.dtype)
    compensate = iou.max(dim=0).values[:, None]  # row i: max IoU of box i with a better box
    if kernel == "gaussian":
        decay = torch.exp(-sigma * iou**2) / torch.exp(-sigma * compensate**2)
    else:
        decay = (1 - iou) / (1 - compensate)
    out = scores.clone()
    out[order] = scores[order] * decay.min(dim=0).values
    return out


def _noh_deltas(box: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """Top-left-corner deltas of `others` relative to `box` (NOH-NMS's parameterisation)."""
    w = box[2] - box[0]
    h = box[3] - box[1]
    ow = others[:, 2] - others[:, 0]
    oh = others[:, 3] - others[:, 1]
    return torch.stack(
        (
            (others[:, 0] - box[0]) / w,
            (others[:, 1] - box[1]) / h,
            torch.log(ow / w),
            torch.log(oh / h),
        ),
        dim=1,
    )


def _legacy_iou(box: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """The NOH-NMS code's IoU: +1 in the areas, none in the intersection, 0 unless iw, ih > 0."""
    iw = torch.minimum(others[:, 2], box[2]) - torch.maximum(others[:, 0], box[0])
    ih = torch.minimum(others[:, 3], box[3]) - torch.maximum(others[:, 1], box[1])
    area = (others[:, 2] - others[:, 0] + 1) * (others[:, 3] - others[:, 1] + 1)
    area_m = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    iou = iw * ih / (area + area_m - iw * ih)
    return torch.where((iw > 0) & (ih > 0), iou, torch.zeros_like(iou))


def noh_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    nearby_boxes: torch.Tensor,
    nearby_probs: torch.Tensor,
    iou_threshold: float = 0.5,
    prob_threshold: float = 0.3,
    sigma: float = 0.2,
    flag_threshold: float = 0.6,
    score_threshold: float = 0.01,
    legacy_iou: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """NOH-NMS (Zhou et al., ACM MM 2020; official `batched_noh_nms`, method 3).

    Soft-NMS-style loop: pick the best remaining box M; each remaining box overlapping M by
    IoU > `iou_threshold` keeps w * score, where w = exp(-|d - mu|^2 / (2 sigma^2)) measures how
    well it sits where M's hallucinated nearby object (`nearby_boxes`, likelihood
    `nearby_probs`) says another object is, if M's likelihood > `prob_threshold` and M was not
    itself spared as someone's neighbour; otherwise w = 0 (greedy). Boxes with w >=
    `flag_threshold` are flagged (they cannot spare others); scores < `score_threshold` drop.
    With every likelihood <= `prob_threshold` this is greedy NMS. `legacy_iou` reproduces the
    official code's mixed +1 IoU. Returns (kept indices, their decayed scores), best first.
    """
    n = len(boxes)
    nearby_probs = nearby_probs.reshape(-1)
    s = scores.clone()
    alive = torch.ones(n, dtype=torch.bool, device=boxes.device)
    flagged = torch.zeros_like(alive)
    cut = _cut(iou_threshold, boxes.dtype)
    keep: list[int] = []
    while True:
        candidates = torch.nonzero(alive).flatten()
        if candidates.numel() == 0:
            break
        i = int(candidates[torch.argmax(s[candidates])])
        alive[i] = False
        keep.append(i)
        rest = candidates[candidates != i]
        if rest.numel() == 0:
            break
        m = boxes[i]
        iou = _legacy_iou(m, boxes[rest]) if legacy_iou else box_iou(m[None], boxes[rest])[0]
        over = rest[iou > cut]
        if over.numel() == 0:
            continue
        weight = torch.zeros(len(over), dtype=s.dtype, device=s.device)
        if float(nearby_probs[i]) > prob_threshold and not bool(flagged[i]):
            mu = _noh_deltas(m, nearby_boxes[i][None])
            dist2 = ((_noh_deltas(m, boxes[over]) - mu) ** 2).sum(dim=1)
            weight = torch.exp(-dist2 / (2.0 * sigma**2)).to(s.dtype)
            flagged[over[weight >= flag_threshold]] = True
        s[over] = weight * s[over]
        alive[over[s[over] < score_threshold]] = False
    kept = torch.tensor(keep, dtype=torch.int64, device=boxes.device)
    return kept, s[kept]
