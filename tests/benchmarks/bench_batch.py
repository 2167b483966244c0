"""Batch Propagation throughput: local workers (1, 2) and Ray against one in-process run.

    .venv/bin/python tests/benchmarks/bench_batch.py [--videos 6] [--frames 60] [--no-ray]

Every configuration propagates a fresh copy of the same project (synthetic videos, one keyframe
each, classical backend). Wall time includes worker start-up (spawn, model load), not Ray's
cluster start (a cluster is normally already running). Figures are ratios to the in-process run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from annotator.core.masks import encode
from annotator.core.project import StoredMask
from annotator.core.types import Provenance, Source
from annotator.store import open_project
from annotator.tools.batch_engines import propagate_batch
from annotator.tools.videos import add_video
from tests.factories import square_video


def build(folder: Path, videos: int, frames: int) -> Path:
    """A project of `videos` distinct 320x240 synthetic videos, keyframed a third of the way in."""
    project = folder / "base.annotator"
    with open_project(project) as store:
        for k in range(videos):
            size = (max(320, 2 * ((3 * (frames + k) + 41) // 2)), 240)  # square stays in view
            path, masks = square_video(folder, count=frames + k, size=size, name=f"v{k}.mp4")
            video, source = add_video(store, path)
            source.close()
            obj = store.add_object(video.id, "square")
            key = frames // 3
            store.put_mask(video.id, obj.id, key,
                           StoredMask(encode(masks[key]), Provenance(Source.MANUAL)))
    return project


def measure(base: Path, name: str, **options: object) -> tuple[float, int]:
    """Seconds and frames of one batch over a fresh copy of the project."""
    project = base.with_name(f"{name}.annotator")
    shutil.copy(base, project)
    began = time.perf_counter()
    results = [s.result for s in propagate_batch(project, **options) if s.result is not None]  # type: ignore[arg-type]
    seconds = time.perf_counter() - began
    failed = [r for r in results if r.error]
    if failed:
        raise SystemExit(f"{name}: {failed[0].name} failed: {failed[0].error}")
    return seconds, sum(r.frames for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        base = build(folder, args.videos, args.frames)
        configs: list[tuple[str, dict[str, object]]] = [
            ("in-process", {"engine": "inline"}),
            ("local x1", {"engine": "local", "workers": 1}),
            ("local x2", {"engine": "local", "workers": 2}),
        ]
        ray = None
        if not args.no_ray:
            try:
                import ray
            except ImportError:
                print("ray is not installed: skipping the ray row (pip install 'annotator[ray]')")
            else:
                ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
                configs.append(("ray (2 cpus)", {"engine": "ray"}))
        rows = [(name, *measure(base, name.split()[0] + name[-1], **opts))
                for name, opts in configs]
        if ray is not None:
            ray.shutdown()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base_fps = rows[0][2] / rows[0][1]
    print(f"batch: {args.videos} videos of {args.frames}-{args.frames + args.videos - 1} frames "
          "(320x240), classical backend")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'engine':<14}{'seconds':>9}{'frames':>8}{'frames/s':>10}{'vs in-process':>15}")
    for name, seconds, frames in rows:
        fps = frames / seconds
        print(f"{name:<14}{seconds:>9.2f}{frames:>8}{fps:>10.1f}{fps / base_fps:>14.2f}x")


if __name__ == "__main__":
    main()
