"""EdgeTAM on CPU: first-click latency and per-frame propagation on a 720p clip, 1 and 3 objects.

Weights: the parity fixture's deterministic ones (../shared/parity/edgetam), so masks are
input-dependent like with real weights. Frames stream from a PyAV VideoSource. Ratios are
against the image encoder alone (measured in the same run). Also reports a BN-fused trunk
(same outputs to float rounding) and the peak RSS.

Run: .venv/bin/python tests/benchmarks/bench_edgetam.py [--frames N] [--threads T]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(SHARED / "parity"))

from annotator.nn.sam2 import (  # noqa: E402
    EDGETAM,
    Sam2Model,
    Sam2VideoPredictor,
    build_model,
    fuse_for_inference,
)
from annotator.nn.sam2.transforms import preprocess  # noqa: E402
from annotator.video import open_video  # noqa: E402
from tests.nn._sam2_helpers import fixture_state_dict  # noqa: E402

CLICKS = [([[640, 360]], [1]), ([[300, 500]], [1]), ([[1000, 200]], [1])]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def encoder_time(model: Sam2Model, frame: np.ndarray, repeats: int = 3) -> float:
    x = preprocess(frame, 1024)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            t = time.perf_counter()
            model.forward_image(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(model: Sam2Model, video: object, n_obj: int, n_frames: int) -> dict[str, float]:
    session = Sam2VideoPredictor(model).start(video, num_frames=n_frames)
    t = time.perf_counter()
    session.add_points(0, 1, *CLICKS[0])
    first = time.perf_counter() - t
    t = time.perf_counter()
    session.add_points(0, 1, [[650, 380]], [0], clear_old_points=False)
    cached = time.perf_counter() - t
    for i in range(1, n_obj):
        session.add_points(0, i + 1, *CLICKS[i])
    steps, masks = [], []
    t = time.perf_counter()
    for res in session.propagate():
        now = time.perf_counter()
        steps.append(now - t)
        masks.append(res.mask_logits)
        t = now
    return {
        "first_click": first,
        "cached_click": cached,
        "propagate": statistics.median(steps[1:]),
        "last": masks[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--video", default=str(SHARED / "videos" / "02_cups.mp4"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model(EDGETAM)
    model.load_state_dict(fixture_state_dict(SHARED / "parity" / "edgetam"))
    video = open_video(args.video)
    frame0 = video.frame(0)
    base = encoder_time(model, frame0)
    print(
        f"EdgeTAM CPU, {args.threads} thread(s), {frame0.shape[1]}x{frame0.shape[0]}, "
        f"{args.frames} frames; image encoder {base * 1000:.0f} ms = 1.00"
    )
    print(
        f"{'variant':<22}{'objects':>8}{'first click':>14}{'cached click':>14}"
        f"{'per frame':>12}{'x encoder':>10}"
    )
    results = {}
    for n_obj in (1, 3):
        r = run(model, video, n_obj, args.frames)
        results[n_obj] = r
        print(
            f"{'fp32':<22}{n_obj:>8}{r['first_click'] * 1000:>12.0f}ms"
            f"{r['cached_click'] * 1000:>12.0f}ms{r['propagate'] * 1000:>10.0f}ms"
            f"{r['propagate'] / base:>10.2f}"
        )
    fuse_for_inference(model)
    fused_enc = encoder_time(model, frame0)
    r = run(model, video, 1, args.frames)
    diff = float(np.abs(r["last"] - results[1]["last"]).max())
    print(
        f"{'fp32, fused RepViT BN':<22}{1:>8}{r['first_click'] * 1000:>12.0f}ms"
        f"{r['cached_click'] * 1000:>12.0f}ms{r['propagate'] * 1000:>10.0f}ms"
        f"{r['propagate'] / base:>10.2f}"
    )
    print(
        f"fused encoder {fused_enc / base:.2f}x the plain one; max |logit diff| on the last "
        f"frame {diff:.2e}; peak RSS {peak_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
