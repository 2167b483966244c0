"""SAM ViT blocks (segment-anything `image_encoder.py`: Block, Attention) for OVSAM's neck.

Pre-norm transformer blocks on channels-last (B, H, W, C) grids with decomposed relative
position embeddings, optionally inside non-overlapping windows (the grid is zero-padded to a
multiple of the window, as the official `window_partition` does). Keys as the official:
`norm1`, `attn.qkv`, `attn.proj`, `attn.rel_pos_h/_w`, `norm2`, `mlp.lin1/lin2`.

Attention runs through `F.scaled_dot_product_attention` with the relative-position terms as
an additive mask, a few heads at a time: the same maths as the official explicit softmax, but
the 4096 x 4096 global attention never needs all 16 heads' scores at once.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from annotator.nn.backbones.windows import window_partition, window_unpartition
from annotator.nn.sam.common import MLPBlock

# Heads per scaled_dot_product_attention call (bounds the score tensor of global attention).
HEAD_CHUNK = 4


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """(q_size, k_size, C) relative-position embeddings; linear resize if the table differs."""
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(
            rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
            size=max_rel_dist,
            mode="linear",
        )
        rel_pos = resized.reshape(-1, max_rel_dist).permute(1, 0)
    q_coords = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    relative = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[relative.long()]


class Attention(nn.Module):
    """Multi-head self-attention with decomposed relative positions over an (H, W) grid."""

    def __init__(self, dim: int, num_heads: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, HW, d)
        rh = get_rel_pos(h, h, self.rel_pos_h)  # (h, h, d)
        rw = get_rel_pos(w, w, self.rel_pos_w)  # (w, w, d)
        outs = []
        for s in range(0, self.num_heads, HEAD_CHUNK):
            qc = q[:, s : s + HEAD_CHUNK]
            rq = qc.reshape(*qc.shape[:2], h, w, -1)
            rel_h = torch.einsum("bnhwc,hkc->bnhwk", rq, rh)
            rel_w = torch.einsum("bnhwc,wkc->bnhwk", rq, rw)
            bias = (rel_h[..., :, None] + rel_w[..., None, :]).reshape(*qc.shape[:3], h * w)
            outs.append(
                F.scaled_dot_product_attention(
                    qc, k[:, s : s + HEAD_CHUNK], v[:, s : s + HEAD_CHUNK], attn_mask=bias
                )
            )
        out = torch.cat(outs, dim=1)  # (B, heads, HW, d)
        out = out.permute(0, 2, 1, 3).reshape(b, h, w, -1)
        return self.proj(out)


class Block(nn.Module):
    """x + attn(norm1(x)) (windowed when window_size > 0); x + mlp(norm2(x))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        window_size: int,
        input_size: tuple[int, int],
        ln_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        attn_size = input_size if window_size == 0 else (window_size, window_size)
        self.attn = Attention(dim, num_heads, attn_size)
        self.norm2 = nn.LayerNorm(dim, eps=ln_eps)
        self.mlp = MLPBlock(dim, int(dim * mlp_ratio), nn.GELU)
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            hw = (x.shape[1], x.shape[2])
            x, pad_hw = window_partition(x, self.window_size)
            x = window_unpartition(self.attn(x), self.window_size, pad_hw, hw)
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


__all__ = ["Attention", "Block", "get_rel_pos", "window_partition", "window_unpartition"]
