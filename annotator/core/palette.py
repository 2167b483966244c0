"""The DAVIS 2017 palette (the PASCAL VOC colour map), shared by export and evaluation."""

from __future__ import annotations

import numpy as np


def davis_palette(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 colours: index i's bits interleaved into R, G and B from the high bit down."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


DAVIS_PALETTE: bytes = davis_palette().tobytes()
"""768 bytes for `PIL.Image.putpalette`: 0,0,0 · 128,0,0 · 0,128,0 · 128,128,0 · ..."""

VOID_LABEL = 255
"""DAVIS marks pixels to ignore with 255."""
