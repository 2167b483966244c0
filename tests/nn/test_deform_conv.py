"""Modulated deformable convolution: equals F.conv2d with zero offsets and mask 1, and a direct
per-pixel loop over the DCNv2 formula (with its boundary rule) on random offsets that push
samples outside the image."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from annotator.nn.ops.deform_conv import ModulatedDeformConv2d, deform_conv2d


def _pixel(img: torch.Tensor, y: float, x: float) -> float:
    """DCNv2 `dmcn_im2col_bilinear` for one channel, guarded as its caller does."""
    height, width = img.shape
    if not (y > -1 and x > -1 and y < height and x < width):
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0

    def at(r: int, c: int) -> float:
        return float(img[r, c]) if 0 <= r < height and 0 <= c < width else 0.0

    return ((1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1)
            + ly * (1 - lx) * at(y0 + 1, x0) + ly * lx * at(y0 + 1, x0 + 1))


def _reference(x, offset, mask, weight, bias, stride, pad, dil):
    """The DCNv2 sum written out: every output pixel, kernel tap and channel in Python."""
    n, c, _, _ = x.shape
    o, _, kh, kw = weight.shape
    h_out, w_out = offset.shape[2:]
    out = torch.zeros(n, o, h_out, w_out, dtype=torch.float64)
    for b in range(n):
        for h in range(h_out):
            for w in range(w_out):
                for i in range(kh):
                    for j in range(kw):
                        k = i * kw + j
                        y = h * stride - pad + i * dil + float(offset[b, 2 * k, h, w])
                        xx = w * stride - pad + j * dil + float(offset[b, 2 * k + 1, h, w])
                        m = float(mask[b, k, h, w])
                        for ch in range(c):
                            v = _pixel(x[b, ch], y, xx) * m
                            out[b, :, h, w] += weight[:, ch, i, j].double() * v
        out[b] += bias.double()[:, None, None]
    return out


def _out_size(size: int, k: int, stride: int, pad: int, dil: int) -> int:
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def test_zero_offsets_and_unit_mask_equal_conv2d():
    g = torch.Generator().manual_seed(0)
    for stride, pad, dil in ((1, 1, 1), (2, 1, 1), (1, 2, 2)):
        x = torch.randn(2, 5, 11, 9, generator=g)
        weight = torch.randn(7, 5, 3, 3, generator=g)
        bias = torch.randn(7, generator=g)
        ho, wo = _out_size(11, 3, stride, pad, dil), _out_size(9, 3, stride, pad, dil)
        offset = torch.zeros(2, 18, ho, wo)
        got = deform_conv2d(x, offset, weight, bias, stride, pad, dil, torch.ones(2, 9, ho, wo))
        want = F.conv2d(x, weight, bias, stride, pad, dil)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_matches_the_per_pixel_formula_with_samples_outside(stride):
    g = torch.Generator().manual_seed(stride)
    x = torch.randn(1, 2, 5, 6, generator=g)
    weight = torch.randn(3, 2, 3, 3, generator=g)
    bias = torch.randn(3, generator=g)
    ho, wo = _out_size(5, 3, stride, 1, 1), _out_size(6, 3, stride, 1, 1)
    offset = 2.5 * torch.randn(1, 18, ho, wo, generator=g)  # many samples leave the image
    offset[0, 0, 0, 0], offset[0, 1, 0, 0] = -0.5, -0.25  # tap (0, 0) at (-1.5, -1.25): zero
    offset[0, 2, 0, 0], offset[0, 3, 0, 0] = -0.5, 0.3  # tap (0, 1) at (-1.5, 0.3): zero
    offset[0, 8, 0, 0] = -0.5  # tap (1, 1) at y = -0.5: only the in-image corners count
    mask = torch.rand(1, 9, ho, wo, generator=g)
    got = deform_conv2d(x, offset, weight, bias, stride, 1, 1, mask)
    want = _reference(x, offset, mask, weight, bias, stride, 1, 1)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
    ys = torch.arange(ho)[:, None] * stride - 1 + offset[0, 0::2].view(9, ho, wo)
    assert bool((ys <= -1).any()) and bool((ys >= 5).any())  # the boundary rule is exercised


def test_module_keys_and_its_offset_mask_split():
    dcn = ModulatedDeformConv2d(4, 6, 3, stride=2, padding=1)
    assert list(dcn.state_dict()) == ["weight", "bias", "conv_offset_mask.weight",
                                      "conv_offset_mask.bias"]
    assert dcn.conv_offset_mask.weight.shape == (27, 4, 3, 3)
    x = torch.randn(1, 4, 9, 8)
    with torch.no_grad():  # zero offsets, mask logits 0 -> sigmoid 0.5: half a conv
        want = 0.5 * F.conv2d(x, dcn.weight, None, 2, 1) + dcn.bias[:, None, None]
        torch.testing.assert_close(dcn(x), want, rtol=1e-5, atol=1e-5)
        dcn.conv_offset_mask.bias.normal_()
        o1, o2, m = dcn.conv_offset_mask(x).chunk(3, dim=1)
        want = deform_conv2d(x, torch.cat((o1, o2), 1), dcn.weight, dcn.bias, 2, 1, 1,
                             m.sigmoid())
        torch.testing.assert_close(dcn(x), want)
