"""EdgeTAM's 2D Spatial Perceiver: compresses a 64x64x64 memory into 256 global + 256 patch
latents (keys `spatial_perceiver.*`).

Both paths share the same layers. Global latents attend to all tokens with the sine pos added
to keys *and* values after projection; their output pos is zero. Patch latents attend only to
their own window (no pos); their pos is the sine encoding of the latent grid. Final LayerNorm
on the latents only. All linears are bias-free; one head.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.sam2.position_encoding import PositionEmbeddingSine


def _feed_forward(dim: int, mult: int) -> nn.Sequential:
    """Keys `0` LayerNorm, `1` Linear up, `3` Linear down (no biases)."""
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


def _attend(q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:
    b, n, c = q.shape

    def split(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], x.shape[1], heads, c // heads).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(b, n, c)


class PerceiverAttention(nn.Module):
    """Latents attend to inputs; optional pos added to projected keys and values."""

    def __init__(self, dim: int, dim_head: int = 64, heads: int = 1) -> None:
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        self.norm_x = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, latents: Tensor, x: Tensor, pos: Tensor | None = None) -> Tensor:
        q = self.to_q(self.norm_latents(latents))
        k, v = self.to_kv(self.norm_x(x)).chunk(2, dim=-1)
        if pos is not None:
            k, v = k + pos, v + pos
        return self.to_out(_attend(q, k, v, self.heads))


class SelfAttention(nn.Module):
    """Pre-LN self-attention of the latents (keys `norm`, `to_q`, `to_kv`, `to_out`)."""

    def __init__(self, dim: int, dim_head: int = 64, heads: int = 1) -> None:
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        k, v = self.to_kv(x).chunk(2, dim=-1)
        return self.to_out(_attend(self.to_q(x), k, v, self.heads))


class PerceiverLayer(nn.Module):
    """Cross-attention + FF, then self-attention + FF, all residual."""

    def __init__(self, dim: int, dim_head: int, heads: int, ff_mult: int) -> None:
        super().__init__()
        self.attn = PerceiverAttention(dim, dim_head, heads)
        self.ff = _feed_forward(dim, ff_mult)
        self.self_attn = SelfAttention(dim, dim_head, heads)
        self.self_ff = _feed_forward(dim, ff_mult)

    def forward(self, latents: Tensor, x: Tensor, pos: Tensor | None = None) -> Tensor:
        latents = self.attn(latents, x, pos) + latents
        latents = self.ff(latents) + latents
        latents = self.self_attn(latents) + latents
        return self.self_ff(latents) + latents


class PerceiverResampler(nn.Module):
    """B x C x H x W memory (+ B x C x H x W pos) -> B x (N_g + N_2d) x C latents and pos."""

    def __init__(
        self,
        dim: int = 64,
        depth: int = 2,
        dim_head: int = 64,
        heads: int = 1,
        num_latents: int = 256,
        num_latents_2d: int = 256,
        ff_mult: int = 4,
    ) -> None:
        super().__init__()
        self.num_latents = num_latents
        self.num_latents_2d = num_latents_2d
        self.latents = nn.Parameter(torch.randn(num_latents, dim))
        self.latents_2d = nn.Parameter(torch.randn(num_latents_2d, dim))
        self.position_encoding = PositionEmbeddingSine(dim)
        self.layers = nn.ModuleList(
            PerceiverLayer(dim, dim_head, heads, ff_mult) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        lat_1d, pos_1d = self._global(x, pos)
        lat_2d, pos_2d = self._windowed(x)
        return torch.cat((lat_1d, lat_2d), dim=1), torch.cat((pos_1d, pos_2d), dim=1)

    def _global(self, x: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        latents = self.latents.unsqueeze(0).expand(x.shape[0], -1, -1)
        tokens = x.permute(0, 2, 3, 1).flatten(1, 2)
        tok_pos = pos.permute(0, 2, 3, 1).flatten(1, 2)
        for layer in self.layers:
            latents = layer(latents, tokens, tok_pos)
        return self.norm(latents), torch.zeros_like(latents)

    def _windowed(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        side = math.isqrt(self.num_latents_2d)
        win = h // side
        latents = self.latents_2d.unsqueeze(0).expand(b, -1, -1).reshape(-1, 1, c)
        # window partition, row-major over (window row, window col), tokens row-major inside
        tokens = x.permute(0, 2, 3, 1).reshape(b, h // win, win, w // win, win, c)
        tokens = tokens.permute(0, 1, 3, 2, 4, 5).reshape(-1, win * win, c)
        for layer in self.layers:
            latents = layer(latents, tokens)
        grid = latents.reshape(b, side, side, c).permute(0, 3, 1, 2)
        pos = self.position_encoding(grid).permute(0, 2, 3, 1).flatten(1, 2)
        return self.norm(grid.permute(0, 2, 3, 1).flatten(1, 2)), pos
