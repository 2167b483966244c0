"""SAM 2 memory attention: current-frame tokens attend to memory tokens (RoPE attention).

Layer: pre-LN self-attention (RoPE only) -> pre-LN cross-attention (keys = memory + memory
pos, values = memory, queries without pos) -> pre-LN ReLU MLP; final LayerNorm. The cross-
attention module is pluggable (`CrossAttention` protocol): `RoPEAttention` (SAM 2,
EfficientTAM) tiles the query table over every memory frame; `RoPEAttentionV2` (EdgeTAM) uses
a separate key table for the trailing tokens of each memory frame. Object-pointer tokens at
the tail of the memory never get RoPE.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.sam2.position_encoding import compute_axial_cis, rotate, rotate_framewise


def _rotate_leading(k: Tensor, n_rope: int, rotate_keys: Callable[[Tensor], Tensor]) -> Tensor:
    """Apply RoPE to the first `n_rope` keys; trailing keys (object pointers) stay as they are."""
    if n_rope <= 0:
        return k
    return torch.cat((rotate_keys(k[:, :, :n_rope]), k[:, :, n_rope:]), dim=2)


class SDPAttention(nn.Module):
    """Projections + scaled-dot-product attention (SAM 2 `Attention`; keys q/k/v/out_proj)."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        kv_dim = kv_in_dim if kv_in_dim is not None else embedding_dim
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(kv_dim, self.internal_dim)
        self.v_proj = nn.Linear(kv_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def _heads(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def _project(self, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))

    def _finish(self, q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        b, h, n, c = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * c))

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return self._finish(*self._project(q, k, v))


class _TableCache:
    """RoPE tables per (device, side): recomputed on shape change, never in the state dict."""

    def __init__(self, dim: int, theta: float) -> None:
        self.dim, self.theta = dim, theta
        self._tables: dict[tuple[int, int, torch.device], Tensor] = {}

    def get(self, end_x: int, end_y: int, device: torch.device) -> Tensor:
        key = (end_x, end_y, device)
        if key not in self._tables:
            self._tables[key] = compute_axial_cis(self.dim, end_x, end_y, self.theta).to(device)
        return self._tables[key]


class RoPEAttention(SDPAttention):
    """Axial RoPE on q and on the first N_k - num_k_exclude_rope keys.

    The table covers the sqrt(N_q) x sqrt(N_q) query grid; with `rope_k_repeat` it is tiled
    once per memory frame over the keys (cross-attention), else keys must match queries.
    Variants override `_rope` (which tables rotate what) or `_attend` (what attends to what).
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        kv_in_dim: int | None = None,
        rope_theta: float = 10000.0,
        rope_k_repeat: bool = False,
    ) -> None:
        super().__init__(embedding_dim, num_heads, downsample_rate, kv_in_dim)
        self.rope_k_repeat = rope_k_repeat
        self._cis = _TableCache(self.internal_dim // num_heads, rope_theta)

    def forward(  # type: ignore[override]
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        num_k_exclude_rope: int = 0,
        num_spatial_mem: int = -1,
    ) -> Tensor:
        q, k, v = self._project(q, k, v)
        n_rope = k.shape[-2] - num_k_exclude_rope
        q, k = self._rope(q, k, n_rope, num_spatial_mem)
        return self._attend(q, k, v, n_rope)

    def _rope(self, q: Tensor, k: Tensor, n_rope: int, num_spatial_mem: int
              ) -> tuple[Tensor, Tensor]:
        side = math.isqrt(q.shape[-2])
        cis = self._cis.get(side, side, q.device)
        if q.shape[-2] != k.shape[-2] and not self.rope_k_repeat:
            raise ValueError("keys and queries differ in length but rope_k_repeat is off")
        q = rotate(q, cis)
        k = _rotate_leading(k, n_rope, lambda t: rotate(t, cis, n_rope // q.shape[-2]))
        return q, k

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, n_rope: int) -> Tensor:
        return self._finish(q, k, v)


class RoPEAttentionV2(RoPEAttention):
    """EdgeTAM cross-attention: q uses a q_sizes table; each of the `num_spatial_mem` memory
    frames' trailing prod(k_sizes) keys use a k_sizes table (leading global tokens: none)."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        kv_in_dim: int | None = None,
        rope_theta: float = 10000.0,
        q_sizes: tuple[int, int] = (64, 64),
        k_sizes: tuple[int, int] = (16, 16),
    ) -> None:
        super().__init__(embedding_dim, num_heads, downsample_rate, kv_in_dim, rope_theta)
        self.q_sizes, self.k_sizes = q_sizes, k_sizes

    def _rope(self, q: Tensor, k: Tensor, n_rope: int, num_spatial_mem: int
              ) -> tuple[Tensor, Tensor]:
        q = rotate(q, self._cis.get(*self.q_sizes, q.device))
        cis = self._cis.get(*self.k_sizes, k.device)
        k = _rotate_leading(k, n_rope, lambda t: rotate_framewise(t, cis, num_spatial_mem))
        return q, k


class CrossAttention(Protocol):
    """What a memory-attention layer needs from its cross-attention module."""

    def __call__(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        num_k_exclude_rope: int = 0,
        num_spatial_mem: int = -1,
    ) -> Tensor: ...


class MemoryAttentionLayer(nn.Module):
    """Pre-LN self-attention, cross-attention to memory, ReLU MLP (dropout inactive)."""

    def __init__(
        self, d_model: int, dim_feedforward: int, self_attn: nn.Module, cross_attn: nn.Module
    ) -> None:
        super().__init__()
        self.self_attn = self_attn
        self.cross_attn_image = cross_attn
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        pos: Tensor,
        num_k_exclude_rope: int,
        num_spatial_mem: int,
    ) -> Tensor:
        t = self.norm1(tgt)
        tgt = tgt + self.self_attn(t, t, t)
        t = self.norm2(tgt)
        tgt = tgt + self.cross_attn_image(
            t,
            memory + pos,
            memory,
            num_k_exclude_rope=num_k_exclude_rope,
            num_spatial_mem=num_spatial_mem,
        )
        t = self.norm3(tgt)
        return tgt + self.linear2(F.relu(self.linear1(t)))


class MemoryAttention(nn.Module):
    """Stack of layers; input is curr + 0.1 * curr_pos; sequence-first in, sequence-first out."""

    def __init__(
        self,
        d_model: int,
        num_layers: int,
        layer_factory: Callable[[], MemoryAttentionLayer],
        pos_enc_at_input: bool = True,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(layer_factory() for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.pos_enc_at_input = pos_enc_at_input

    def forward(
        self,
        curr: Tensor,
        memory: Tensor,
        curr_pos: Tensor,
        memory_pos: Tensor,
        num_obj_ptr_tokens: int = 0,
        num_spatial_mem: int = -1,
    ) -> Tensor:
        """curr, curr_pos: HW x B x C; memory, memory_pos: N x B x C_mem -> HW x B x C."""
        out = curr + 0.1 * curr_pos if self.pos_enc_at_input else curr
        out = out.transpose(0, 1)
        memory = memory.transpose(0, 1)
        memory_pos = memory_pos.transpose(0, 1)
        for layer in self.layers:
            out = layer(out, memory, memory_pos, num_obj_ptr_tokens, num_spatial_mem)
        return self.norm(out).transpose(0, 1)
