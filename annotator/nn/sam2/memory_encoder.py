"""SAM 2 memory encoder: mask (image size) + raw stride-16 features -> 64-d memory + sine pos.

MaskDownSampler: log4(total_stride) x [conv 3x3 s2 -> LayerNorm2d -> GELU] then a 1x1 conv;
fusion `pix_feat_proj(feat) + mask_feat`, two ConvNeXt blocks, 1x1 `out_proj`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from annotator.nn.sam.common import LayerNorm2d
from annotator.nn.sam2.position_encoding import PositionEmbeddingSine


class MaskDownSampler(nn.Module):
    """Keys `encoder.{0,3,6,9}` convs, `{1,4,7,10}` LayerNorm2d, `12` final 1x1 conv."""

    def __init__(
        self,
        embed_dim: int = 256,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int = 1,
        total_stride: int = 16,
    ) -> None:
        super().__init__()
        num_layers = int(math.log2(total_stride) // math.log2(stride))
        layers: list[nn.Module] = []
        in_ch, out_ch = 1, 1
        for _ in range(num_layers):
            out_ch = in_ch * stride**2
            layers += [
                nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding),
                LayerNorm2d(out_ch),
                nn.GELU(),
            ]
            in_ch = out_ch
        layers.append(nn.Conv2d(out_ch, embed_dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: dw 7x7 -> LayerNorm2d -> Linear x4 -> GELU -> Linear -> *gamma, residual."""

    def __init__(self, dim: int = 256, kernel_size: int = 7, padding: int = 3) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=padding, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A stack of CXBlocks (keys `layers.N`)."""

    def __init__(self, dim: int = 256, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """Encodes one frame's mask and features into memory features and their position encoding."""

    def __init__(self, out_dim: int = 64, in_dim: int = 256, fuser_layers: int = 2) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(embed_dim=in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim, fuser_layers)
        self.position_encoding = PositionEmbeddingSine(out_dim)
        self.out_proj: nn.Module = (
            nn.Conv2d(in_dim, out_dim, kernel_size=1) if out_dim != in_dim else nn.Identity()
        )

    def forward(self, pix_feat: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
        """pix_feat B x C x h x w, masks B x 1 x H x W (already scaled logits-like values)."""
        x = self.pix_feat_proj(pix_feat) + self.mask_downsampler(masks)
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x).to(x.dtype)
