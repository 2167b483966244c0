"""Encode RGB frames to a video file with PyAV (sample videos, tests, overlay previews)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from annotator.core.errors import VideoError

_DEFAULT_CODEC = {".webm": "libvpx-vp9", ".avi": "mpeg4"}


def pick_codec(path: str | Path, codec: str | None = None) -> str:
    """The encoder for `path`: the one asked for, else what the container suits and exists."""
    available = av.codecs_available
    wanted = codec or _DEFAULT_CODEC.get(Path(path).suffix.lower(), "libx264")
    if wanted in available:
        return wanted
    if "mpeg4" in available and Path(path).suffix.lower() != ".webm":
        return "mpeg4"
    raise VideoError(f"encoder {wanted} is not in this PyAV build; pick one of libx264, mpeg4")


def _options(codec: str, crf: int, gop: int, bframes: int) -> dict[str, str]:
    """Encoder options giving a fixed quality, GOP length and B-frame count."""
    if codec in ("libx264", "libx265"):
        return {"crf": str(crf), "g": str(gop), "bf": str(bframes), "preset": "veryfast"}
    if codec.startswith("libvpx"):
        return {"crf": str(crf), "b": "0", "g": str(gop), "deadline": "realtime",
                "cpu-used": "8"}
    # mpeg4 and other libavcodec encoders: constant quantiser (crf 0..51 -> q 1..31)
    qscale = max(1, min(31, 1 + crf * 30 // 51))
    return {"g": str(gop), "bf": str(bframes), "flags": "+qscale",
            "global_quality": str(qscale * 118)}


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, *,
                codec: str | None = None, crf: int = 18, gop: int = 12, bframes: int = 2,
                rotation: int = 0, threads: int = 0) -> int:
    """Write RGB uint8 HxWx3 frames (even sizes) to `path`; returns the number written.

    `rotation` (clockwise degrees, a multiple of 90) is stored as display-matrix metadata,
    so readers that honour it show the frames turned. MP4/MOV get their index at the front
    (faststart), so a file cut short still opens with the frames it holds. `threads` bounds the
    encoder's threads (0: the encoder's own choice).
    """
    path = Path(path)
    name = pick_codec(path, codec)
    suffix = path.suffix.lower()
    options = {"movflags": "+faststart"} if suffix in (".mp4", ".mov", ".m4v") else {}
    count = 0
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(name, rate=Fraction(fps).limit_denominator(100_000),
                                      options=_options(name, crf, gop, bframes))
        if threads:
            stream.codec_context.thread_count = threads
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            if count == 0:
                _start(stream, rgb, rotation)
            elif rgb.shape[:2] != (stream.height, stream.width):
                raise VideoError(f"frame {count} is {rgb.shape[1]}x{rgb.shape[0]}, not "
                                 f"{stream.width}x{stream.height}; give frames of one size")
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        if count:
            container.mux(stream.encode(None))
    return count


def _start(stream: av.VideoStream, rgb: np.ndarray, rotation: int) -> None:
    """Size the stream from the first frame and set its display rotation."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise VideoError(f"frames must be RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    if width % 2 or height % 2:
        raise VideoError(f"frame size {width}x{height} is odd; yuv420p needs even sizes, crop")
    stream.width, stream.height = width, height
    if rotation % 360:
        if rotation % 90:
            raise VideoError(f"rotation {rotation} is not a multiple of 90 degrees")
        stream.set_display_rotation(-rotation % 360)  # PyAV takes counter-clockwise degrees
