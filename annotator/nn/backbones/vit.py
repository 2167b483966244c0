"""Plain ViT image encoder (ViTDet layout, as used by EfficientTAM): windowed + global blocks.

Patch embedding 16x16 -> absolute position embedding (stored at the 14 x 14 pre-training grid
plus a cls slot, bicubic-resized to the token grid on every forward, align_corners=False) ->
pre-LN blocks (LayerNorm eps 1e-6, fused qkv, exact-GELU MLP), 14 x 14 windows zero-padded
after norm1 and attended without a mask, no final norm. One output level, stride 16.
Keys follow the official checkpoints: `pos_embed`, `patch_embed.proj`, `blocks.N.{norm1, attn.qkv,
attn.proj, norm2, mlp.layers.0/1}`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.backbones.windows import window_partition, window_unpartition
from annotator.nn.sam import MLP


@dataclass(frozen=True)
class ViTConfig:
    """Width, depth and attention layout of a plain ViT."""

    embed_dim: int
    num_heads: int
    depth: int = 12
    patch_size: int = 16
    mlp_ratio: float = 4.0
    window_size: int = 14
    window_block_indexes: tuple[int, ...] = (0, 1, 3, 4, 6, 7, 9, 10)
    pretrain_img_size: int = 224
    pretrain_use_cls_token: bool = True


VIT_TI = ViTConfig(embed_dim=192, num_heads=3)
VIT_S = ViTConfig(embed_dim=384, num_heads=6)


def resize_abs_pos(pos_embed: Tensor, has_cls_token: bool, hw: tuple[int, int]) -> Tensor:
    """1 x N(+1) x C table -> 1 x H x W x C (bicubic, align_corners=False) like the official."""
    if has_cls_token:
        pos_embed = pos_embed[:, 1:]
    side = math.isqrt(pos_embed.shape[1])
    if side * side != pos_embed.shape[1]:
        raise ValueError("the position embedding is not a square grid")
    h, w = hw
    grid = pos_embed.reshape(1, side, side, -1)
    if (side, side) == (h, w):
        return grid
    grid = F.interpolate(grid.permute(0, 3, 1, 2), size=(h, w), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1)


class Attention(nn.Module):
    """Multi-head self-attention on B x H x W x C tokens (fused `qkv`, `proj`)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


class Block(nn.Module):
    """Pre-LN transformer block; window attention when `window_size` > 0."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, window_size: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim, 2, activation=nn.GELU)
        self.window_size = window_size

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            size = (x.shape[1], x.shape[2])
            x, padded = window_partition(x, self.window_size)
            x = window_unpartition(self.attn(x), self.window_size, padded, size)
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection (key `proj`), output B x H x W x C."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ViT(nn.Module):
    """ViTDet-style trunk; forward returns [B x C x H/16 x W/16] (a one-level pyramid)."""

    def __init__(self, cfg: ViTConfig, in_chans: int = 3) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.patch_size, in_chans, cfg.embed_dim)
        grid = cfg.pretrain_img_size // cfg.patch_size
        n_pos = grid * grid + (1 if cfg.pretrain_use_cls_token else 0)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, cfg.embed_dim))
        windows = set(cfg.window_block_indexes)
        self.blocks = nn.ModuleList(
            Block(
                cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, cfg.window_size if i in windows else 0
            )
            for i in range(cfg.depth)
        )
        self.channel_list: list[int] = [cfg.embed_dim]

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.patch_embed(x)
        pos = resize_abs_pos(self.pos_embed, self.cfg.pretrain_use_cls_token, x.shape[1:3])
        x = x + pos
        for blk in self.blocks:
            x = blk(x)
        return [x.permute(0, 3, 1, 2)]


def vit(cfg: ViTConfig | str) -> ViT:
    """A randomly initialised ViT ('ti' / 's' or a config)."""
    if isinstance(cfg, str):
        presets: dict[str, ViTConfig] = {"ti": VIT_TI, "s": VIT_S}
        if cfg not in presets:
            raise ValueError(f"unknown ViT size {cfg!r}; choose from {sorted(presets)}")
        cfg = presets[cfg]
    return ViT(cfg)


__all__: Sequence[str] = ["VIT_S", "VIT_TI", "ViT", "ViTConfig", "vit"]
