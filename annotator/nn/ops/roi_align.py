"""RoIAlign in plain torch with torchvision.ops.roi_align's semantics (no torchvision needed).

torchvision averages, per output bin, a grid of bilinear samples (`sampling_ratio` per axis, or
ceil(roi_size / output_size) when it is <= 0). Bilinear sampling is separable, so each RoI is
written as two interpolation matrices Ay (out_h x H) and Ax (out_w x W) and the result is
Ay @ feature @ Ax^T: vectorised over RoIs, no loops over boxes or samples.
"""

from __future__ import annotations

import torch


def _rois(boxes: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """(K, 5) rows (batch index, x1, y1, x2, y2) from a (K, 5) tensor or a list of (L, 4)."""
    if isinstance(boxes, torch.Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError(f"boxes must be (K, 5), got {tuple(boxes.shape)}")
        return boxes
    rows = [torch.cat((torch.full_like(b[:, :1], i), b), dim=1) for i, b in enumerate(boxes)]
    return torch.cat(rows, dim=0)


def _axis_weights(
    start: torch.Tensor, size: torch.Tensor, bins: int, grid: torch.Tensor, length: int
) -> torch.Tensor:
    """(K, bins, length): summed bilinear weights of the grid samples along one axis."""
    k = start.shape[0]
    g_max = max(int(grid.max()), 1)
    bin_size = size / bins
    gridf = grid.to(start.dtype).clamp(min=1)[:, None, None]
    p = torch.arange(bins, dtype=start.dtype, device=start.device)[None, :, None]
    i = torch.arange(g_max, dtype=start.dtype, device=start.device)[None, None, :]
    coord = (
        start[:, None, None]
        + p * bin_size[:, None, None]
        + (i + 0.5) * bin_size[:, None, None] / gridf
    )
    used = (i < grid[:, None, None]) & (coord >= -1.0) & (coord <= length)
    coord = coord.clamp(min=0)
    low = coord.floor().to(torch.int64)  # coord >= 0: floor == C++ int truncation
    at_end = low >= length - 1
    low = torch.where(at_end, torch.full_like(low, length - 1), low)
    coord = torch.where(at_end, low.to(coord.dtype), coord)
    high = torch.where(at_end, low, low + 1)
    frac = coord - low.to(coord.dtype)
    w_low = torch.where(used, 1 - frac, torch.zeros_like(frac))
    w_high = torch.where(used, frac, torch.zeros_like(frac))
    weights = torch.zeros(k, bins, length, dtype=start.dtype, device=start.device)
    idx = torch.cat((low, high), dim=2)
    weights.scatter_add_(2, idx, torch.cat((w_low, w_high), dim=2))
    return weights


def roi_align(
    input: torch.Tensor,
    boxes: torch.Tensor | list[torch.Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    """RoIAlign (He et al., Mask R-CNN) on an NCHW map -> (K, C, out_h, out_w).

    `boxes` are in input-image coordinates, scaled by `spatial_scale` onto the map. With
    `aligned=True` the box is shifted by -0.5 pixel (pixel centres at integer + 0.5, as
    Detectron2 wants); with `aligned=False` (legacy) RoIs are at least 1x1 map pixel.
    """
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    rois = _rois(boxes).to(input.dtype)
    n, c, height, width = input.shape
    if rois.shape[0] == 0:
        return input.new_zeros(0, c, out_h, out_w)
    offset = 0.5 if aligned else 0.0
    x1 = rois[:, 1] * spatial_scale - offset
    y1 = rois[:, 2] * spatial_scale - offset
    roi_w = rois[:, 3] * spatial_scale - offset - x1
    roi_h = rois[:, 4] * spatial_scale - offset - y1
    if not aligned:
        roi_w = roi_w.clamp(min=1.0)
        roi_h = roi_h.clamp(min=1.0)
    if sampling_ratio > 0:
        grid_h = torch.full_like(roi_h, sampling_ratio, dtype=torch.int64)
        grid_w = torch.full_like(roi_w, sampling_ratio, dtype=torch.int64)
    else:
        grid_h = torch.ceil(roi_h / out_h).to(torch.int64)
        grid_w = torch.ceil(roi_w / out_w).to(torch.int64)
    count = (grid_h * grid_w).clamp(min=1).to(input.dtype)
    ay = _axis_weights(y1, roi_h, out_h, grid_h, height) / count[:, None, None]
    ax = _axis_weights(x1, roi_w, out_w, grid_w, width)
    out = input.new_empty(rois.shape[0], c, out_h, out_w)
    batch = rois[:, 0].to(torch.int64)
    for b in range(n):
        sel = torch.nonzero(batch == b).flatten()
        if sel.numel() == 0:
            continue
        rows = torch.einsum("kph,chw->kcpw", ay[sel], input[b])
        out[sel] = torch.einsum("kcpw,kqw->kcpq", rows, ax[sel])
    return out
