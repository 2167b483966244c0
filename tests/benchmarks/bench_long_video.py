"""Peak memory must not grow with video length: 300 vs 3,000 frames, each run in its own process.

Propagation goes through the real job (`annotator.tools.propagate`), the project store and a
PyAV VideoSource over a synthetic video. Trackers: classical, and EdgeTAM's video logic at its
tiny 128 px configuration (the same bounded memory window and feature cache as the full model,
fast enough on a CPU for 3,000 frames). Ratios: 3,000-frame peak RSS over the 300-frame one.

Run: .venv/bin/python tests/benchmarks/bench_long_video.py
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

LENGTHS = (300, 3000)
SIZE = (160, 120)


def _frames(n: int) -> Iterator[np.ndarray]:
    w, h = SIZE
    for t in range(n):
        f = np.full((h, w, 3), 90, np.uint8)
        x = int(20 + 60 * (1 + np.sin(t / 25)))
        f[40:80, x:x + 40] = (220, 40, 40)
        yield f


def child(n: int, tracker_name: str, folder: Path) -> None:
    """Propagate n frames and print 'frames seconds peak_kib'."""
    import torch

    from annotator.backends import create_backend
    from annotator.store import open_project
    from annotator.tools.propagate import propagate
    from annotator.tools.videos import add_video

    torch.set_num_threads(1)
    video_path = folder / f"long_{n}.mp4"
    store = open_project(folder / f"{tracker_name}_{n}.annotator")
    record, source = add_video(store, video_path)
    obj = store.add_object(record.id).id
    mask = np.zeros((SIZE[1], SIZE[0]), bool)
    mask[40:80, 80:120] = True
    if tracker_name == "classical":
        tracker = create_backend("classical")
    else:
        from annotator.backends.builtin import EDGETAM_INFO
        from annotator.backends.builtin.sam2_family import Sam2FamilyBackend
        from tests.nn._sam2_helpers import tiny_model

        model = tiny_model()
        torch.save({"model": model.state_dict()}, folder / "tiny.pt")
        tracker = Sam2FamilyBackend(EDGETAM_INFO, "edgetam", lambda _p: model,
                                    checkpoint=folder / "tiny.pt", device="cpu")
    tracker.open(source)
    tracker.add_mask(0, obj, mask)
    t = time.perf_counter()
    done = sum(1 for _ in propagate(store, tracker, record.id, 0, n - 1))
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(done, f"{seconds:.2f}", peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("N", "TRACKER", "DIR"))
    parser.add_argument("--trackers", default="classical,edgetam-tiny")
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1], Path(args.child[2]))
        return
    from annotator.video import write_video

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in LENGTHS:
            write_video(folder / f"long_{n}.mp4", _frames(n), 30.0)
        print(f"{'tracker':<14}{'frames':>8}{'frames/s':>10}{'peak RSS MiB':>14}{'ratio':>8}")
        for name in args.trackers.split(","):
            peaks = {}
            for n in LENGTHS:
                out = subprocess.run([sys.executable, __file__, "--child", str(n), name, tmp],
                                     capture_output=True, text=True, check=True).stdout.split()
                frames, seconds, peak = int(out[0]), float(out[1]), int(out[2]) / 1024
                peaks[n] = peak
                ratio = peak / peaks[LENGTHS[0]]
                print(f"{name:<14}{frames:>8}{frames / seconds:>10.1f}{peak:>14.0f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
