"""EdgeTAM vs EfficientTAM (Ti, S) on CPU: first click, per-frame propagation, peak RSS.

A 720p clip from ../shared/videos streams through a PyAV VideoSource; 1 and 3 objects are
clicked on frame 0 and tracked. Weights are the parity fixtures' deterministic ones (masks
depend on the input as with real weights). Every (model, objects) run is a fresh subprocess,
so its peak RSS is its own. Times are ratios to that model's image encoder alone and to
EdgeTAM's encoder (both measured in the same run); RSS is also given relative to the process
after one encoder pass. The per-frame figure is the median over frames once the memory bank
is full (frame 7 on), or over frames 2.. when fewer frames are run.

Run: .venv/bin/python tests/benchmarks/bench_trackers.py [--frames N] [--threads T]
     [--models edgetam efficienttam_ti efficienttam_s efficienttam_ti_1 ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CLICKS = [([[640, 360]], [1]), ([[300, 500]], [1]), ([[1000, 200]], [1])]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, n_obj: int, n_frames: int, video_path: str) -> dict[str, float]:
    """One model, one object count, in this process (called in a subprocess)."""
    import torch

    sys.path[:0] = [str(REPO), str(SHARED / "parity")]
    from annotator.nn.sam2 import EDGETAM, Sam2VideoPredictor, build_model, efficienttam_config
    from annotator.nn.sam2.transforms import preprocess
    from annotator.video import open_video
    from tests.nn._sam2_helpers import fixture_state_dict

    cfg = EDGETAM if name == "edgetam" else efficienttam_config(name)
    # variants of one width share keys, so the _1/_2/512 variants reuse the width's fixture
    fixture = name if name == "edgetam" else name[: len("efficienttam_") + 2].rstrip("_")
    model = build_model(cfg)
    model.load_state_dict(fixture_state_dict(SHARED / "parity" / fixture))
    video = open_video(video_path)
    x = preprocess(video.frame(0), cfg.image_size)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            t = time.perf_counter()
            model.forward_image(x)
            times.append(time.perf_counter() - t)
    encoder, rss_encoder = statistics.median(times), peak_rss_mb()

    session = Sam2VideoPredictor(model).start(video, num_frames=n_frames)
    t = time.perf_counter()
    session.add_points(0, 1, *CLICKS[0])
    first = time.perf_counter() - t
    t = time.perf_counter()
    session.add_points(0, 1, [[650, 380]], [0], clear_old_points=False)
    cached = time.perf_counter() - t
    for i in range(1, n_obj):
        session.add_points(0, i + 1, *CLICKS[i])
    steps = []
    t = time.perf_counter()
    for _ in session.propagate():
        now = time.perf_counter()
        steps.append(now - t)
        t = now
    full = steps[cfg.num_maskmem :] or steps[2:] or steps[1:]
    return {
        "encoder": encoder,
        "first_click": first,
        "cached_click": cached,
        "propagate": statistics.median(full),
        "rss_encoder": rss_encoder,
        "rss_peak": peak_rss_mb(),
    }


def run_child(name: str, n_obj: int, args: argparse.Namespace) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        name,
        str(n_obj),
        "--frames",
        str(args.frames),
        "--threads",
        str(args.threads),
        "--video",
        args.video,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--video", default=str(SHARED / "videos" / "02_cups.mp4"))
    ap.add_argument("--models", nargs="+", default=["edgetam", "efficienttam_ti", "efficienttam_s"])
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "OBJECTS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        r = measure(args.child[0], int(args.child[1]), args.frames, args.video)
        print(json.dumps(r))
        return
    rows = [(m, n, run_child(m, n, args)) for m in args.models for n in (1, 3)]
    base = next((r["encoder"] for m, _, r in rows if m == "edgetam"), rows[0][2]["encoder"])
    print(
        f"CPU, {args.threads} thread(s), {Path(args.video).name}, {args.frames} frames; "
        f"baseline = EdgeTAM image encoder {base * 1000:.0f} ms"
    )
    head = (
        f"{'model':<24}{'obj':>4}{'encoder':>9}{'first click':>13}{'cached':>8}"
        f"{'per frame':>11}{'x own enc':>10}{'x EdgeTAM enc':>14}{'peak RSS':>10}{'x enc RSS':>10}"
    )
    print(head)
    for m, n, r in rows:
        print(
            f"{m:<24}{n:>4}{r['encoder'] * 1000:>7.0f}ms{r['first_click'] * 1000:>11.0f}ms"
            f"{r['cached_click'] * 1000:>6.0f}ms{r['propagate'] * 1000:>9.0f}ms"
            f"{r['propagate'] / r['encoder']:>10.2f}{r['propagate'] / base:>14.2f}"
            f"{r['rss_peak']:>8.0f}MB{r['rss_peak'] / r['rss_encoder']:>10.2f}"
        )


if __name__ == "__main__":
    main()
