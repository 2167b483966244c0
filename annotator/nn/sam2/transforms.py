"""Frame preprocessing of the SAM 2 family: square (aspect-distorting) resize + ImageNet norm.

The official code resizes differently per entry point, so the mode is explicit:
`"antialias"` = image predictor (torchvision Resize on float [0, 1], bilinear, antialias),
`"bilinear"` = plain bilinear without antialias (the parity fixtures' recipe),
`"pil_bicubic"` = official video loader for JPEG folders (PIL bicubic on uint8; needs Pillow).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

ResizeMode = Literal["antialias", "bilinear", "pil_bicubic"]

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def preprocess(frame: np.ndarray, size: int, mode: ResizeMode = "antialias") -> Tensor:
    """RGB uint8 H x W x 3 -> normalised 1 x 3 x size x size float32."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 H x W x 3 frame, got {frame.dtype} {frame.shape}")
    if mode == "pil_bicubic":
        from PIL import Image  # optional dependency, only for this mode

        resized = np.asarray(Image.fromarray(frame).resize((size, size)))
        x = torch.from_numpy(resized.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    else:
        x = torch.from_numpy(frame).to(torch.float32) / 255.0
        x = x.permute(2, 0, 1).unsqueeze(0).contiguous()
        if mode not in ("antialias", "bilinear"):
            raise ValueError(f"unknown resize mode {mode!r}")
        x = F.interpolate(
            x,
            size=(size, size),
            mode="bilinear",
            align_corners=False,
            antialias=(mode == "antialias"),
        )
    mean = torch.tensor(_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std
