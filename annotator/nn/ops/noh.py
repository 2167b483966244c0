"""The Nearby Objects Hallucinator head of NOH-NMS (Zhou et al., ACM MM 2020).

A second Fast R-CNN box head on the same RoI-pooled features: two FC layers (detectron2
`FastRCNNConvFCHead`), then `overlap_prob` (sigmoid: likelihood that another object is nearby,
trained to regress the proposal's second-highest IoU with a ground-truth box) and `overlap_pred`
(deltas from the proposal to that nearby object, detectron2's Box2BoxTransform (10, 10, 5, 5)).
Its outputs feed `annotator.nn.ops.nms.noh_nms`. The head only means something once trained
(CrowdHuman in the paper); there is no general-purpose released checkpoint, so `load_noh_head`
insists on a file and says so.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from annotator.core.errors import CheckpointError

BBOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
SCALE_CLAMP = math.log(1000.0 / 16)  # detectron2's _DEFAULT_SCALE_CLAMP


class NOHHead(nn.Module):
    """RoI features (R, C, 7, 7) -> (nearby likelihood (R,), nearby-box deltas (R, 4))."""

    def __init__(self, in_channels: int = 256, pooler_size: int = 7, fc_dim: int = 1024) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_channels * pooler_size * pooler_size, fc_dim)
        self.fc2 = nn.Linear(fc_dim, fc_dim)
        self.overlap_prob = nn.Linear(fc_dim, 1)
        self.overlap_pred = nn.Linear(fc_dim, 4)
        nn.init.normal_(self.overlap_prob.weight, std=0.01)
        nn.init.normal_(self.overlap_pred.weight, std=0.001)
        nn.init.zeros_(self.overlap_prob.bias)
        nn.init.zeros_(self.overlap_pred.bias)

    def forward(self, roi_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.flatten(roi_features, start_dim=1)
        x = torch.relu(self.fc2(torch.relu(self.fc1(x))))
        return torch.sigmoid(self.overlap_prob(x))[:, 0], self.overlap_pred(x)


def apply_deltas(deltas: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """detectron2 Box2BoxTransform.apply_deltas with weights (10, 10, 5, 5): deltas -> boxes."""
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    ctr_x = boxes[:, 0] + 0.5 * widths
    ctr_y = boxes[:, 1] + 0.5 * heights
    wx, wy, ww, wh = BBOX_WEIGHTS
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = (deltas[:, 2] / ww).clamp(max=SCALE_CLAMP)
    dh = (deltas[:, 3] / wh).clamp(max=SCALE_CLAMP)
    cx = dx * widths + ctr_x
    cy = dy * heights + ctr_y
    w = torch.exp(dw) * widths
    h = torch.exp(dh) * heights
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=1)


def load_noh_head(path: str | Path, prefix: str = "", **kwargs: int) -> NOHHead:
    """A NOHHead with trained weights from `path` (keys under `prefix`), strictly matched.

    NOH-NMS needs a head trained jointly with a two-stage detector; untrained weights give
    meaningless likelihoods, which is why there is no random-init fallback here.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"NOH head weights not found at {path}: NOH-NMS needs a head trained with a "
            "two-stage detector (e.g. the official CrowdHuman model); none is bundled"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read NOH head weights {path}: {exc}") from exc
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    head = NOHHead(**kwargs)
    picked = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    expected = set(head.state_dict())
    missing = sorted(expected - set(picked))
    unexpected = sorted(set(picked) - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match the NOH head: missing {missing[:4]}, "
            f"unexpected {unexpected[:4]}"
        )
    try:
        head.load_state_dict(picked, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} has wrong tensor shapes for the NOH head: {exc}") from exc
    return head.eval()
