"""OVSAM's two necks on the CLIP RN50x16 maps C2..C5.

`Sam2ClipNeck` (official `MultiLayerTransformerNeck`, file `sam2clip_vith_rn50x16.pth`, prefix
`neck_student`) maps the four levels onto SAM's 64x64 grid, sums them with level encodings and
SAM ViT-H's positional embedding, runs five SAM ViT blocks and SAM's neck: the result is a SAM
image embedding (B, 256, 64, 64). `Fpn` (mmdet `FPN`, the `fpn_neck` of the `clip2sam_*` files)
gives the four 256-channel maps the classifier pools RoIs from.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from annotator.nn.ovsam.vit import Block
from annotator.nn.sam.common import LayerNorm2d

IN_CHANNELS = (384, 768, 1536, 3072)
STRIDES = (4, 8, 16, 32)
EMBED_STRIDE = 16  # the SAM grid: 1024 / 16 = 64


class ConvModule(nn.Module):
    """mmcv ConvModule without norm: `conv`, then ReLU when `relu` (keys `conv.*`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        bias: bool = True,
        relu: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self.act: nn.Module = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class PatchEmbed(nn.Module):
    """mmdet PatchEmbed (no norm): `projection` onto the 64x64 grid, output channels-last.

    Levels finer than stride 16 use a strided Conv2d, coarser ones a ConvTranspose2d (weight
    (in, out, k, k)). mmdet's corner padding adds nothing for 1024-pixel inputs.
    """

    def __init__(self, in_channels: int, embed_dim: int, stride: int) -> None:
        super().__init__()
        self.projection: nn.Module
        if stride > EMBED_STRIDE:
            k = stride // EMBED_STRIDE
            self.projection = nn.ConvTranspose2d(in_channels, embed_dim, k, stride=k)
        else:
            k = EMBED_STRIDE // stride
            self.projection = nn.Conv2d(in_channels, embed_dim, k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(x).permute(0, 2, 3, 1)


class Sam2ClipNeck(nn.Module):
    """C2..C5 -> SAM image embedding (B, out_channels, 64, 64)."""

    def __init__(
        self,
        input_size: int = 1024,
        embed_dim: int = 1280,
        out_channels: int = 256,
        depth: int = 5,
        num_heads: int = 16,
        window_size: int = 14,
        global_attn_indexes: tuple[int, ...] = (4,),
    ) -> None:
        super().__init__()
        grid = input_size // EMBED_STRIDE
        self.patch_embeds = nn.ModuleList(
            PatchEmbed(c, embed_dim, s) for c, s in zip(IN_CHANNELS, STRIDES, strict=True)
        )
        # SAM ViT-H's positional embedding, stored in the sam2clip file (persistent buffer)
        self.register_buffer("pos_embed", torch.zeros(1, grid, grid, embed_dim))
        self.level_encoding = nn.Embedding(len(IN_CHANNELS), embed_dim)
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio=4.0,
                window_size=0 if i in global_attn_indexes else window_size,
                input_size=(grid, grid),
            )
            for i in range(depth)
        )
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_channels, kernel_size=1, bias=False),
            LayerNorm2d(out_channels),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_channels),
        )

    def tokens_in(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Sum of the projected levels + level encodings + pos_embed, (B, 64, 64, C)."""
        total: torch.Tensor | int = 0
        for i, (embed, feat) in enumerate(zip(self.patch_embeds, feats, strict=True)):
            total = total + (embed(feat) + self.level_encoding.weight[i])
        assert isinstance(total, torch.Tensor)
        return total + self.pos_embed

    def forward(
        self, feats: list[torch.Tensor], trace: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The image embedding; `trace`, when given, receives the intermediate token grids."""
        x = self.tokens_in(feats)
        if trace is not None:
            trace["neck_tokens_in"] = x
        for i, block in enumerate(self.blocks):
            x = block(x)
            if trace is not None:
                trace[f"neck_block{i}"] = x
        return self.neck(x.permute(0, 3, 1, 2).contiguous())


class Fpn(nn.Module):
    """mmdet FPN: lateral 1x1 convs, nearest top-down sums, 3x3 output convs (all with bias)."""

    def __init__(self, in_channels: tuple[int, ...] = IN_CHANNELS, out_channels: int = 256) -> None:
        super().__init__()
        self.lateral_convs = nn.ModuleList(ConvModule(c, out_channels, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1) for _ in in_channels
        )

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, feats, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            size = laterals[i - 1].shape[2:]
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=size, mode="nearest"
            )
        return [conv(lat) for conv, lat in zip(self.fpn_convs, laterals, strict=True)]


__all__ = ["IN_CHANNELS", "STRIDES", "ConvModule", "Fpn", "PatchEmbed", "Sam2ClipNeck"]
