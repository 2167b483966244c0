"""Mask <-> COCO RLE and the measures derived from it (pycocotools, column-major, lossless)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils


@dataclass(frozen=True)
class MaskRLE:
    """A compressed COCO RLE: `counts` is the LEB128-style string pycocotools writes."""

    height: int
    width: int
    counts: bytes

    def to_coco(self) -> dict[str, object]:
        """The JSON-ready COCO form: {"size": [h, w], "counts": str}."""
        return {"size": [self.height, self.width], "counts": self.counts.decode("ascii")}

    @classmethod
    def from_coco(cls, rle: dict[str, object]) -> MaskRLE:
        """Accept compressed (str/bytes counts) or uncompressed (list counts) COCO RLE."""
        h, w = (int(v) for v in rle["size"])  # type: ignore[union-attr]
        counts = rle["counts"]
        if isinstance(counts, list):
            counts = mask_utils.frPyObjects(rle, h, w)["counts"]
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        return cls(h, w, bytes(counts))  # type: ignore[arg-type]

    def _py(self) -> dict[str, object]:
        return {"size": [self.height, self.width], "counts": self.counts}


def encode(mask: np.ndarray) -> MaskRLE:
    """Encode a boolean or 0/1 HxW mask."""
    if mask.ndim != 2:
        raise ValueError(f"a mask must be 2-D (H, W), got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return MaskRLE(int(rle["size"][0]), int(rle["size"][1]), bytes(rle["counts"]))


def decode(rle: MaskRLE) -> np.ndarray:
    """The boolean HxW mask."""
    return mask_utils.decode(rle._py()).astype(bool)


def area(rle: MaskRLE) -> int:
    """Number of foreground pixels."""
    return int(mask_utils.area(rle._py()))


def bbox(rle: MaskRLE) -> tuple[float, float, float, float]:
    """COCO bbox [x, y, w, h] of the foreground (all zeros when empty)."""
    x, y, w, h = mask_utils.toBbox(rle._py()).tolist()
    return (x, y, w, h)


def iou(a: MaskRLE, b: MaskRLE) -> float:
    """Intersection over union; two empty masks count as identical (1.0)."""
    if area(a) == 0 and area(b) == 0:
        return 1.0
    return float(mask_utils.iou([a._py()], [b._py()], [0])[0, 0])


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean arrays; two empty masks count as identical (1.0)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
