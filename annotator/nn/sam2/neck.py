"""SAM 2 image encoder = trunk + FPN neck (+ scalp of the coarsest level).

Keys follow SAM 2 (`image_encoder.trunk.*`, `image_encoder.neck.convs.N.conv.*`). The trunk is
pluggable: any module with a `channel_list` (coarsest first) whose forward returns feature maps
finest first. EdgeTAM: RepViT-M1 wrapped in `TimmTrunk` (keys `trunk.body.*`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.sam2.position_encoding import PositionEmbeddingSine


@dataclass
class BackboneOut:
    """Feature levels finest first (`backbone_fpn`) and their sine encodings (`vision_pos_enc`)."""

    backbone_fpn: list[Tensor]
    vision_pos_enc: list[Tensor]

    @property
    def vision_features(self) -> Tensor:
        return self.backbone_fpn[-1]


class TimmTrunk(nn.Module):
    """Holds a timm-layout feature extractor under the key `body` (EdgeTAM's `TimmBackbone`)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.channel_list: list[int] = list(body.channel_list)

    def forward(self, x: Tensor) -> list[Tensor]:
        return list(self.body(x))


class FpnNeck(nn.Module):
    """1x1 lateral convs to d_model; top-down (nearest x2, float32) only into the listed levels."""

    def __init__(
        self,
        d_model: int,
        backbone_channel_list: Sequence[int],
        fpn_top_down_levels: Sequence[int] | None = None,
        fuse_type: str = "sum",
    ) -> None:
        super().__init__()
        if fuse_type not in ("sum", "avg"):
            raise ValueError(f"fuse_type must be 'sum' or 'avg', got {fuse_type!r}")
        self.position_encoding = PositionEmbeddingSine(d_model)
        self.convs = nn.ModuleList()
        for dim in backbone_channel_list:
            seq = nn.Sequential()
            seq.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=1))
            self.convs.append(seq)
        n = len(backbone_channel_list)
        self.fpn_top_down_levels = list(
            range(n) if fpn_top_down_levels is None else fpn_top_down_levels
        )
        self.fuse_type = fuse_type

    def forward(self, xs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        n = len(self.convs) - 1
        out: list[Tensor] = [xs[0]] * (n + 1)
        prev: Tensor | None = None
        for i in range(n, -1, -1):
            lateral = self.convs[n - i](xs[i])
            if i in self.fpn_top_down_levels and prev is not None:
                top_down = F.interpolate(prev.to(torch.float32), scale_factor=2.0, mode="nearest")
                prev = lateral + top_down
                if self.fuse_type == "avg":
                    prev = prev / 2
            else:
                prev = lateral
            out[i] = prev
        pos = [self.position_encoding(x).to(x.dtype) for x in out]
        return out, pos


class ImageEncoder(nn.Module):
    """Trunk -> neck; drops the `scalp` coarsest levels (they still feed the top-down path)."""

    def __init__(self, trunk: nn.Module, neck: nn.Module, scalp: int = 0) -> None:
        super().__init__()
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, x: Tensor) -> BackboneOut:
        features, pos = self.neck(self.trunk(x))
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return BackboneOut(list(features), list(pos))
