"""Cost of the evaluation pieces at DAVIS 480p, as ratios against reading one mask PNG.

Run: .venv/bin/python tests/benchmarks/bench_eval.py
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from annotator.eval.clicks import center_click
from annotator.eval.davis import read_id_map, write_id_map
from annotator.eval.metrics import f_measure, f_measure_bipartite, jaccard
from annotator.eval.synthetic import make_scene

H, W = 480, 854


def timeit(fn: Callable[[], object], repeat: int = 20) -> float:
    """Median wall time in ms."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main() -> None:
    scene = make_scene(0, 2, size=(H, W), n_frames=30)
    _, gt_ids = scene.render(10)
    _, pred_ids = scene.render(11)
    obj = int(np.unique(gt_ids)[1])
    gt, pred = gt_ids == obj, pred_ids == obj
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "m.png"
        write_id_map(png, gt_ids)
        base = timeit(lambda: read_id_map(png))
    rows = [
        ("read mask PNG (baseline)", base),
        ("J (IoU)", timeit(lambda: jaccard(gt, pred))),
        ("F (dilation, DAVIS 2017)", timeit(lambda: f_measure(gt, pred))),
        ("F (bipartite, DAVIS 2016 style)", timeit(lambda: f_measure_bipartite(gt, pred), 5)),
        ("center click", timeit(lambda: center_click(gt, pred))),
        ("render synthetic frame", timeit(lambda: scene.render(5), 10)),
    ]
    print(f"{'step at 480x854':<34} {'ms':>8} {'x baseline':>11}")
    for name, ms in rows:
        print(f"{name:<34} {ms:>8.2f} {ms / base:>11.2f}")


if __name__ == "__main__":
    main()
