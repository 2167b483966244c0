"""RoIAlign: exact values on constant and linear maps; a literal port of torchvision's kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from annotator.nn.ops import roi_align

H = W = 16


def linear_map(batch: int = 1) -> torch.Tensor:
    """f(y, x) = 2x + 3y + 1, on which bilinear sampling is exact."""
    y, x = torch.meshgrid(torch.arange(H, dtype=torch.float64),
                          torch.arange(W, dtype=torch.float64), indexing="ij")
    return (2 * x + 3 * y + 1).expand(batch, 1, H, W).contiguous()


def f(y: float, x: float) -> float:
    return 2 * x + 3 * y + 1


def test_constant_map_gives_the_constant() -> None:
    feat = torch.full((1, 3, H, W), 3.0)
    rois = torch.tensor([[0, 1.3, 2.7, 9.1, 12.4], [0, 0, 0, 15, 15], [0, 4, 4, 4.5, 4.2]])
    for aligned in (False, True):
        for ratio in (-1, 1, 2, 3):
            out = roi_align(feat, rois, (5, 4), 1.0, ratio, aligned)
            assert out.shape == (3, 3, 5, 4)
            torch.testing.assert_close(out, torch.full_like(out, 3.0))


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize(("scale", "ratio"), [(1.0, 2), (1.0, -1), (0.5, 2)])
def test_linear_map_gives_bin_centres(aligned: bool, scale: float, ratio: int) -> None:
    box = torch.tensor([[0, 2, 3, 10, 7]], dtype=torch.float64)
    box[:, 1:] /= scale
    out = roi_align(linear_map(), box, (2, 4), scale, ratio, aligned)
    shift = 0.5 if aligned else 0.0
    expected = [[f(3 - shift + (p + 0.5) * 2, 2 - shift + (q + 0.5) * 2) for q in range(4)]
                for p in range(2)]
    torch.testing.assert_close(out[0, 0], torch.tensor(expected, dtype=torch.float64))


def test_tiny_rois_are_widened_unless_aligned() -> None:
    box = torch.tensor([[0, 5, 5, 5.2, 5.2]], dtype=torch.float64)
    legacy = roi_align(linear_map(), box, 1, 1.0, -1, aligned=False)
    assert float(legacy) == pytest.approx(f(5.5, 5.5))  # 1x1 RoI: centre at +0.5
    aligned = roi_align(linear_map(), box, 1, 1.0, -1, aligned=True)
    assert float(aligned) == pytest.approx(f(4.6, 4.6))  # shifted by -0.5, width 0.2


def test_border_clamping_and_outside_samples() -> None:
    edge = torch.tensor([[0, 14, 0, 17, 2]], dtype=torch.float64)  # x centre 15.5 -> clamped 15
    assert float(roi_align(linear_map(), edge, 1, 1.0, 1)) == pytest.approx(f(1, 15))
    outside = torch.tensor([[0, 20, 20, 30, 30]], dtype=torch.float64)
    assert float(roi_align(linear_map(), outside, 1, 1.0, 1)) == 0.0
    # Two samples per axis at x = -1.5 (dropped: < -1) and x = -0.5 (clamped to 0): mean halves.
    left = torch.tensor([[0, -2, 4, 0, 6]], dtype=torch.float64)
    got = float(roi_align(linear_map(), left, 1, 1.0, 2))
    assert got == pytest.approx((f(4.5, 0) + f(5.5, 0)) / 4)


def test_box_list_and_batch_index() -> None:
    feat = torch.stack([torch.full((2, H, W), 1.0), torch.full((2, H, W), 7.0)])
    boxes = [torch.tensor([[1.0, 1, 5, 5]]), torch.tensor([[2.0, 2, 8, 8], [0, 0, 3, 3]])]
    out = roi_align(feat, boxes, 2)
    assert out[:, 0, 0, 0].tolist() == pytest.approx([1.0, 7.0, 7.0])
    assert roi_align(feat, torch.zeros(0, 5), 2).shape == (0, 2, 2, 2)


def _bilinear(img: np.ndarray, y: float, x: float) -> float:
    h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= h - 1:
        y_high = y_low = h - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= w - 1:
        x_high = x_low = w - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    return ((1 - ly) * (1 - lx) * img[y_low, x_low] + (1 - ly) * lx * img[y_low, x_high]
            + ly * (1 - lx) * img[y_high, x_low] + ly * lx * img[y_high, x_high])


def reference_roi_align(img: np.ndarray, roi: np.ndarray, out: int, scale: float,
                        ratio: int, aligned: bool) -> np.ndarray:
    """torchvision/csrc/ops/cpu/roi_align_kernel.cpp, sample by sample (one channel)."""
    off = 0.5 if aligned else 0.0
    x1, y1 = roi[0] * scale - off, roi[1] * scale - off
    rw, rh = roi[2] * scale - off - x1, roi[3] * scale - off - y1
    if not aligned:
        rw, rh = max(rw, 1.0), max(rh, 1.0)
    bh, bw = rh / out, rw / out
    gh = ratio if ratio > 0 else math.ceil(rh / out)
    gw = ratio if ratio > 0 else math.ceil(rw / out)
    count = max(gh * gw, 1)
    res = np.zeros((out, out))
    for p in range(out):
        for q in range(out):
            total = 0.0
            for iy in range(gh):
                y = y1 + p * bh + (iy + 0.5) * bh / gh
                for ix in range(gw):
                    total += _bilinear(img, y, x1 + q * bw + (ix + 0.5) * bw / gw)
            res[p, q] = total / count
    return res


def test_matches_reference_kernel_on_random_rois() -> None:
    rng = np.random.default_rng(3)
    img = rng.normal(size=(H, W))
    corners = rng.uniform(-6, 22, size=(40, 2, 2))
    rois = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    feat = torch.from_numpy(img)[None, None]
    batch_rois = torch.cat([torch.zeros(40, 1, dtype=torch.float64), torch.from_numpy(rois)], 1)
    for aligned in (False, True):
        for ratio, scale in ((-1, 1.0), (2, 0.5), (3, 1.0)):
            got = roi_align(feat, batch_rois, 3, scale, ratio, aligned)[:, 0].numpy()
            want = np.stack([reference_roi_align(img, r, 3, scale, ratio, aligned) for r in rois])
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
