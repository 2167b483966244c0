"""EfficientTAM's efficient memory cross-attention: 2x2 average-pooled memory keys and values.

Same projections and RoPE as `RoPEAttention` (the query table tiled over every memory frame,
object-pointer keys without RoPE). When more keys get RoPE than there are queries (two or more
spatial memory frames), each frame's keys (after RoPE) and values are viewed as the query grid
and average-pooled 2x2; pointer tokens are kept as they are. Each pooled token stands for
s^2 = 4 tokens, which the two released variants compensate differently:

- `"logit"` (`EfficientRoPEAttention1`, `_1` checkpoints): ln 4 added to the pooled keys' logits;
- `"key"` (`EfficientRoPEAttention2`, `_2` checkpoints): ln 4 added to every element of the
  pooled key vectors (so the logits gain ln 4 * sum(q) / sqrt(d)): not equivalent, kept as is.

With one memory frame (or none) both are plain RoPE attention. No parameters of their own.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from annotator.nn.sam2.memory_attention import RoPEAttention

PoolBias = Literal["logit", "key"]


def pool_frames(x: Tensor, side: int, kernel: int) -> Tensor:
    """B x heads x (F * side^2) x C row-major frames -> B x heads x (F * side^2 / k^2) x C."""
    b, h, n, c = x.shape
    frames = n // (side * side)
    grid = x.reshape(b * h * frames, side, side, c).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(grid, kernel, stride=kernel)
    return pooled.flatten(2).transpose(1, 2).reshape(b, h, -1, c)


class PooledRoPEAttention(RoPEAttention):
    """RoPE cross-attention to memory with pooled spatial keys/values (see module docstring)."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        kv_in_dim: int | None = None,
        rope_theta: float = 10000.0,
        bias: PoolBias = "logit",
        kernel_size: int = 2,
    ) -> None:
        super().__init__(
            embedding_dim, num_heads, downsample_rate, kv_in_dim, rope_theta, rope_k_repeat=True
        )
        if bias not in ("logit", "key"):
            raise ValueError(f"bias must be 'logit' or 'key', got {bias!r}")
        self.bias: PoolBias = bias
        self.kernel_size = kernel_size

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, n_rope: int) -> Tensor:
        n_q = q.shape[-2]
        if n_rope <= n_q:
            return self._finish(q, k, v)
        side, s = math.isqrt(n_q), self.kernel_size
        k_pool = pool_frames(k[:, :, :n_rope], side, s)
        v_all = torch.cat((pool_frames(v[:, :, :n_rope], side, s), v[:, :, n_rope:]), dim=2)
        log_s2 = 2 * math.log(s)
        if self.bias == "key":
            k_all = torch.cat((k_pool + log_s2, k[:, :, n_rope:]), dim=2)
            return self._finish(q, k_all, v_all)
        k_all = torch.cat((k_pool, k[:, :, n_rope:]), dim=2)
        logit_bias = q.new_zeros(1, k_all.shape[-2])
        logit_bias[:, : k_pool.shape[-2]] = log_s2
        return self._finish(q, k_all, v_all, attn_mask=logit_bias)
