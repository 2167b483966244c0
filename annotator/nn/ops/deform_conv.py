"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) in plain torch.

Semantics of the DCNv2 CUDA kernel (`dmcn_im2col`) and torchvision's `deform_conv2d`, which
agree: for output pixel (h, w) and kernel tap k = i * kw + j, the sample sits at
y = h * stride - pad + i * dilation + offset[2k], x = w * stride - pad + j * dilation +
offset[2k + 1] ((dy, dx) interleaved per tap), is bilinear over the in-image corners, is zero
unless -1 < y < H and -1 < x < W, and is multiplied by mask[k]. The samples form im2col columns
that one matmul with the weight turns into the output. Everything is gathered at once per
corner (no loop over pixels or taps); memory is 4 x (C * k * Hout * Wout) per image.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.utils import _pair


def _sample_grid(
    offset: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
    padding: tuple[int, int], dilation: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute sample rows and columns (N, K, Hout, Wout) for each tap."""
    n, _, h_out, w_out = offset.shape
    kh, kw = kernel
    dtype, device = offset.dtype, offset.device
    base_y = torch.arange(h_out, dtype=dtype, device=device) * stride[0] - padding[0]
    base_x = torch.arange(w_out, dtype=dtype, device=device) * stride[1] - padding[1]
    tap_y = torch.arange(kh, dtype=dtype, device=device).repeat_interleave(kw) * dilation[0]
    tap_x = torch.arange(kw, dtype=dtype, device=device).repeat(kh) * dilation[1]
    off = offset.view(n, kh * kw, 2, h_out, w_out)
    y = base_y[None, None, :, None] + tap_y[None, :, None, None] + off[:, :, 0]
    x = base_x[None, None, None, :] + tap_x[None, :, None, None] + off[:, :, 1]
    return y, x


def _bilinear_columns(x: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) sampled at (N, K, Ho, Wo) positions -> (N, C, K * Ho * Wo), DCNv2 rules."""
    n, c, height, width = x.shape
    inside = (ys > -1) & (xs > -1) & (ys < height) & (xs < width)
    y0, x0 = torch.floor(ys), torch.floor(xs)
    ly, lx = ys - y0, xs - x0
    y0, x0 = y0.to(torch.int64), x0.to(torch.int64)
    flat = x.reshape(n, c, height * width)
    out = x.new_zeros(n, c, ys[0].numel())
    for dy, dx, weight in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx),
                           (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        valid = inside & (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).reshape(n, 1, -1)
        w = torch.where(valid, weight, torch.zeros_like(weight)).reshape(n, 1, -1)
        out += torch.gather(flat, 2, index.expand(n, c, index.shape[2])) * w
    return out


def deform_conv2d(
    input: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
    bias: torch.Tensor | None = None, stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """torchvision.ops.deform_conv2d (one offset group, groups=1) without torchvision.

    input (N, C, H, W); offset (N, 2 * kh * kw, Hout, Wout) as interleaved (dy, dx) per tap;
    mask (N, kh * kw, Hout, Wout) or None (= 1); weight (O, C, kh, kw).
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    out_c, in_c, kh, kw = weight.shape
    n, _, h_out, w_out = offset.shape
    if offset.shape[1] != 2 * kh * kw or input.shape[1] != in_c:
        raise ValueError(f"offset {tuple(offset.shape)} / input {tuple(input.shape)} do not fit "
                         f"weight {tuple(weight.shape)}")
    ys, xs = _sample_grid(offset, (kh, kw), stride, padding, dilation)
    cols = _bilinear_columns(input, ys, xs).view(n, in_c, kh * kw, h_out * w_out)
    if mask is not None:
        cols = cols * mask.reshape(n, 1, kh * kw, h_out * w_out)
    out = weight.reshape(out_c, in_c * kh * kw) @ cols.reshape(n, in_c * kh * kw, -1)
    if bias is not None:
        out = out + bias[None, :, None]
    return out.view(n, out_c, h_out, w_out)


class ModulatedDeformConv2d(nn.Module):
    """DCNv2's `DCN` module: parameters `weight`, `bias` and the `conv_offset_mask` conv that
    predicts 3 * kh * kw channels (offsets o1, o2 then mask logits, as DCNv2 splits them)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        k = _pair(kernel_size)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *k))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.conv_offset_mask = nn.Conv2d(in_channels, 3 * k[0] * k[1], k, stride, padding)
        bound = 1.0 / math.sqrt(in_channels * k[0] * k[1])  # DCNv2's reset_parameters
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1, o2, logits = torch.chunk(self.conv_offset_mask(x), 3, dim=1)
        return deform_conv2d(x, torch.cat((o1, o2), dim=1), self.weight, self.bias, self.stride,
                             self.padding, self.dilation, torch.sigmoid(logits))

