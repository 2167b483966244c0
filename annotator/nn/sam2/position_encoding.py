"""Parameter-free position encodings of SAM 2: 2D sine tables and axial rotary (RoPE) tables.

Sine: DETR-style, normalised to 2*pi, y channels then x channels, sin/cos interleaved per
frequency pair (SAM 2 `PositionEmbeddingSine`). RoPE: `compute_axial_cis` gives dim/2 complex
rotations (first half by x, second half by y), applied to adjacent channel pairs in float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class PositionEmbeddingSine(nn.Module):
    """Sine encoding of an H x W grid with `num_pos_feats` channels (cached per size)."""

    def __init__(
        self,
        num_pos_feats: int,
        temperature: float = 10000.0,
        normalize: bool = True,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError("num_pos_feats must be even")
        self.num_pos_feats = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: dict[tuple[int, int, torch.device], Tensor] = {}

    def table(self, h: int, w: int, device: torch.device | None = None) -> Tensor:
        """The encoding as a C x H x W float32 tensor."""
        device = device or torch.device("cpu")
        key = (h, w, device)
        if key not in self._cache:
            self._cache[key] = self._compute(h, w, device)
        return self._cache[key]

    def _compute(self, h: int, w: int, device: torch.device) -> Tensor:
        y = torch.arange(1, h + 1, dtype=torch.float32, device=device).view(-1, 1).expand(h, w)
        x = torch.arange(1, w + 1, dtype=torch.float32, device=device).view(1, -1).expand(h, w)
        if self.normalize:
            eps = 1e-6
            y = y / (y[-1:, :] + eps) * self.scale
            x = x / (x[:, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
        pos_x = x[:, :, None] / dim_t
        pos_y = y[:, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, 0::2].sin(), pos_x[:, :, 1::2].cos()), dim=3).flatten(2)
        pos_y = torch.stack((pos_y[:, :, 0::2].sin(), pos_y[:, :, 1::2].cos()), dim=3).flatten(2)
        return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1).contiguous()

    def forward(self, x: Tensor) -> Tensor:
        """Encoding for a B x C x H x W tensor, B x num_pos_feats x H x W in x's dtype."""
        pe = self.table(x.shape[-2], x.shape[-1], x.device)
        return pe.unsqueeze(0).expand(x.shape[0], -1, -1, -1).to(x.dtype)


def compute_axial_cis(dim: int, end_x: int, end_y: int, theta: float = 10000.0) -> Tensor:
    """(end_x*end_y) x dim/2 complex rotations; token i is at (i % end_x, i // end_x)."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].float() / dim))
    t = torch.arange(end_x * end_y, dtype=torch.float32)
    t_x = t % end_x
    t_y = torch.div(t, end_x, rounding_mode="floor")
    fx = torch.outer(t_x, freqs)
    fy = torch.outer(t_y, freqs)
    return torch.cat(
        [torch.polar(torch.ones_like(fx), fx), torch.polar(torch.ones_like(fy), fy)], dim=-1
    )


def _as_complex(x: Tensor) -> Tensor:
    return torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))


def rotate(x: Tensor, freqs_cis: Tensor, repeat: int = 1) -> Tensor:
    """Apply RoPE to B x heads x N x C tokens; the table (N/repeat x C/2) is tiled `repeat`
    times along the tokens (one copy per memory frame)."""
    xc = _as_complex(x)
    if repeat > 1:
        freqs_cis = freqs_cis.repeat(repeat, 1)
    return torch.view_as_real(xc * freqs_cis).flatten(3).type_as(x)


def rotate_framewise(x: Tensor, freqs_cis: Tensor, num_frames: int) -> Tensor:
    """RoPE v2 (EdgeTAM keys): tokens are `num_frames` equal chunks; in each chunk the leading
    tokens beyond the table length get no rotation, the trailing `len(table)` tokens do."""
    if x.shape[-2] == 0:
        return x
    b, h, n, c = x.shape
    per_frame = n // num_frames
    n_rope = freqs_cis.shape[0]
    if per_frame == n_rope:
        return rotate(x, freqs_cis, num_frames)
    x = x.view(b, h, num_frames, per_frame, c)
    head = x[..., : per_frame - n_rope, :]
    tail = x[..., per_frame - n_rope :, :].reshape(b, h, -1, c)
    tail = rotate(tail, freqs_cis, num_frames).view(b, h, num_frames, n_rope, c)
    return torch.cat((head, tail), dim=3).view(b, h, n, c)
