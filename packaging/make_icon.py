"""Draw the app icon (packaging/annotator.png, 256x256): a video frame with a segmented blob.

Run once with `.venv/bin/python packaging/make_icon.py`; the PNG is committed (< 20 KB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 256


def draw(size: int = SIZE) -> np.ndarray:
    """RGBA icon: rounded dark frame, a filled DAVIS-red object with a light outline, a point."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size, 4), np.uint8)
    r = 0.12  # rounded corners of the frame
    cx = np.clip(xx, r, 1 - r)
    cy = np.clip(yy, r, 1 - r)
    frame = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    img[frame] = (38, 50, 72, 255)
    strip = frame & ((yy < 0.14) | (yy > 0.86)) & ((xx * 10 % 1) < 0.5)
    img[strip] = (90, 104, 128, 255)
    blob = ((xx - 0.45) / 0.27) ** 2 + ((yy - 0.52) / 0.22) ** 2 <= 1
    blob |= ((xx - 0.66) / 0.16) ** 2 + ((yy - 0.44) / 0.16) ** 2 <= 1
    edge = blob & ~np.roll(blob, 4, 0) | blob & ~np.roll(blob, -4, 0)
    edge |= blob & ~np.roll(blob, 4, 1) | blob & ~np.roll(blob, -4, 1)
    img[blob] = (200, 40, 40, 255)
    img[edge] = (255, 236, 200, 255)
    dot = (xx - 0.5) ** 2 + (yy - 0.52) ** 2 <= 0.035**2
    img[dot] = (60, 220, 90, 255)
    return img


def main(out: Path) -> int:
    Image.fromarray(draw(), "RGBA").save(out, optimize=True)
    print(f"{out}: {out.stat().st_size} bytes")  # noqa: T201 - a build script
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name(
        "annotator.png")))
