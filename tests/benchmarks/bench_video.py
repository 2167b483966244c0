"""Decoding benchmark: our reader against PyAV's raw decode loop on the same file.

Run: .venv/bin/python tests/benchmarks/bench_video.py [VIDEO]
Targets (DESIGN 5): sequential decode within 1.2x of raw PyAV; random seek under 100 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from annotator.video import PyAVVideo, write_video
from annotator.video.proxy import LONG_GOP, ProxyVideo, build_proxy

SHARED = Path(os.environ.get("ANNOTATOR_SHARED", Path(__file__).resolve().parents[3] / "shared"))


def synthetic_720p(folder: Path, frames: int = 150) -> Path:
    """A 720p H.264 clip with moving content, GOP 30 and B-frames."""
    path = folder / "synthetic_720p.mp4"
    yy, xx = np.mgrid[0:720, 0:1280]

    def frame(i: int) -> np.ndarray:
        rgb = np.empty((720, 1280, 3), np.uint8)
        rgb[..., 0] = (xx + 4 * i) % 256
        rgb[..., 1] = (yy * 2 + i) % 256
        rgb[..., 2] = ((xx // 40 + yy // 40 + i // 10) % 2) * 200
        return rgb

    write_video(path, (frame(i) for i in range(frames)), 30, crf=23, gop=30, bframes=2)
    return path


def raw_decode_s(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = 0
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
            count += 1
    return time.perf_counter() - start, count


def ours_decode_s(path: Path) -> tuple[float, int, float]:
    start = time.perf_counter()
    video = PyAVVideo(path)
    opened = time.perf_counter()
    count = sum(1 for _ in video.frames())
    video.close()
    return time.perf_counter() - opened, count, opened - start


def seek_latencies_ms(path: Path, trials: int = 30) -> tuple[list[float], int]:
    with PyAVVideo(path) as video:
        return _seeks(video.frame, len(video), trials), video.longest_gop()


def _seeks(frame: Callable[[int], object], count: int, trials: int) -> list[float]:
    rng = np.random.default_rng(0)
    picks = rng.integers(0, count, trials)
    picks = picks[np.abs(np.diff(picks, prepend=-100)) > 1]  # real seeks, not i+1
    times = []
    for i in picks:
        start = time.perf_counter()
        frame(int(i))
        times.append((time.perf_counter() - start) * 1e3)
    return times


def proxy_seeks_ms(path: Path, folder: Path, trials: int = 30) -> tuple[float, list[float]]:
    """Build the scrub proxy (as the app does for long GOPs) and seek in it."""
    start = time.perf_counter()
    with PyAVVideo(path) as video:
        out = build_proxy(video, folder / f"{path.stem}_proxy.mp4")
        size, count = (video.info.width, video.info.height), len(video)
    built = time.perf_counter() - start
    proxy = ProxyVideo(out, *size, count)
    try:
        return built, _seeks(proxy.frame, count, trials)
    finally:
        proxy.close()


def report(path: Path, folder: Path) -> None:
    raw_s, raw_n = min(raw_decode_s(path) for _ in range(2))
    ours_s, ours_n, open_s = min(ours_decode_s(path) for _ in range(2))
    seeks, gop = seek_latencies_ms(path)
    p50 = statistics.median(seeks)
    p95 = float(np.percentile(seeks, 95))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = f"{stream.width}x{stream.height}"
    print(f"\n{path.name} ({size}, {ours_n} frames, longest GOP {gop} frames)")
    print("| metric | value | target |\n|---|---|---|")
    print(f"| open + index | {open_s * 1e3:.0f} ms | |")
    print(f"| raw PyAV decode loop | {raw_n / raw_s:.0f} fps | baseline |")
    print(f"| our sequential frames() | {ours_n / ours_s:.0f} fps | |")
    print(f"| time ratio ours / raw | {ours_s / raw_s:.2f}x | <= 1.2x |")
    print(f"| random seek p50 | {p50:.0f} ms ({p50 / (1e3 / (raw_n / raw_s)):.0f} raw frames) | "
          f"< 100 ms |")
    print(f"| random seek p95 | {p95:.0f} ms | < 100 ms |")
    if gop > LONG_GOP:
        built, proxy = proxy_seeks_ms(path, folder)
        print(f"| scrub proxy built in | {built:.1f} s ({ours_n / built:.0f} fps) | background |")
        print(f"| proxy seek p50 / p95 (display) | {statistics.median(proxy):.0f} / "
              f"{np.percentile(proxy, 95):.0f} ms ({p95 / np.percentile(proxy, 95):.1f}x faster "
              "p95) | < 100 ms |")
    if raw_n != ours_n:
        print(f"WARNING: frame counts differ: raw {raw_n}, ours {ours_n}")


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        if not paths:
            cups = SHARED / "videos" / "02_cups.mp4"
            if cups.exists():
                paths.append(cups)
            paths.append(synthetic_720p(Path(tmp)))
        for path in paths:
            report(path, Path(tmp))


if __name__ == "__main__":
    main()
