"""Hole filling of low-res mask logits, as the official CUDA connected-components op does it.

Background pixels (logit <= 0) are labelled with 8-connectivity; components of at most
`max_area` pixels (also those touching the border) are set to 0.1 (foreground). Computed with
OpenCV on the CPU for any device, so CPU and GPU runs give the same result. The official code
silently skips this step when its CUDA extension is missing (every CPU run): pass
`fill_hole_area=0` to a predictor to reproduce that.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor


def fill_holes(mask_logits: Tensor, max_area: int) -> Tensor:
    """N x 1 x H x W logits with small background components set to 0.1."""
    if max_area <= 0:
        return mask_logits
    bg = (mask_logits <= 0).squeeze(1).to("cpu", torch.uint8).numpy()
    holes = np.zeros(bg.shape, dtype=bool)
    for i, plane in enumerate(bg):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(plane, connectivity=8)
        areas = stats[:, cv2.CC_STAT_AREA][labels]
        holes[i] = (labels > 0) & (areas <= max_area)
    is_hole = torch.from_numpy(holes).to(mask_logits.device).unsqueeze(1)
    return torch.where(
        is_hole, torch.tensor(0.1, dtype=mask_logits.dtype, device=mask_logits.device), mask_logits
    )
