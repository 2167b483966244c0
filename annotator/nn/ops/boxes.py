"""Box conversions and IoU with torchvision's conventions (continuous coordinates, no +1).

Every function accepts leading batch dimensions, so the same arithmetic (and therefore the same
float32 rounding) serves greedy NMS, the matrix NMS variants and YOLACT's per-class Fast NMS.
"""

from __future__ import annotations

import torch


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(cx, cy, w, h) -> (x1, y1, x2, y2); YOLACT's `point_form`."""
    return torch.cat((boxes[..., :2] - boxes[..., 2:] / 2, boxes[..., :2] + boxes[..., 2:] / 2), -1)


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """(x1, y1, x2, y2) -> (cx, cy, w, h); YOLACT's `center_size`."""
    return torch.cat(((boxes[..., 2:] + boxes[..., :2]) / 2, boxes[..., 2:] - boxes[..., :2]), -1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(x2 - x1) * (y2 - y1), without the legacy +1."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_inter(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise intersection areas: (..., N, 4) x (..., M, 4) -> (..., N, M).

    Written per axis so the largest temporary is one (..., N, M) tensor, not (..., N, M, 2).
    """

    def overlap(lo: int, hi: int) -> torch.Tensor:
        side = torch.minimum(a[..., :, None, hi], b[..., None, :, hi])
        side -= torch.maximum(a[..., :, None, lo], b[..., None, :, lo])
        return side.clamp_(min=0)

    return overlap(0, 2).mul_(overlap(1, 3))


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU (..., N, M) = inter / (area_a + area_b - inter).

    A pair of zero-area boxes gives 0/0 = NaN, as in torchvision; callers that compare with a
    threshold rely on `NaN > t` being false.
    """
    inter = box_inter(a, b)
    union = box_area(a)[..., :, None] + box_area(b)[..., None, :]
    return inter.div_(union.sub_(inter))


def upper_iou(boxes: torch.Tensor) -> torch.Tensor:
    """IoU of score-sorted boxes with every higher-scored one: strict upper triangle, NaN -> 0.

    Row i, column j holds IoU(i, j) for i < j and 0 elsewhere; the matrix NMS variants read it.
    """
    iou = box_iou(boxes, boxes).nan_to_num_(0.0)
    return iou.triu_(diagonal=1)
