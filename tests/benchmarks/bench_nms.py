"""NMS variants vs greedy NMS (1k and 10k boxes), and YOLACT / YOLACT++ CPU latency at 550x550.

Run: .venv/bin/python tests/benchmarks/bench_nms.py [--skip-yolact]
Times are medians; NMS figures are ratios to greedy NMS measured in the same run. YOLACT uses
detinit weights from ../shared/parity when present (random init otherwise): latency does not
depend on the values, except for the number of candidates Fast NMS sees (and, for YOLACT++,
where the deformable convolutions sample and how many masks are rescored).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from annotator.nn.ops import cluster_nms, fast_nms, matrix_nms, nms, noh_nms
from annotator.nn.yolact import build_yolact, predict

REPO = Path(__file__).resolve().parents[2]
PARITY = REPO.parent / "shared" / "parity"


def median_time(fn: Callable[[], object], repeats: int, warmup: bool = True
                ) -> tuple[float, object]:
    """(median wall time of `fn` in seconds, its last result), after an optional warm-up."""
    if warmup:
        fn()
    times = []
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def clustered_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Detector-like input: boxes jittered around n/20 objects in a 1000x1000 image."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(50, 950, size=(max(n // 20, 1), 2))
    sizes = rng.uniform(20, 200, size=(len(centres), 2))
    pick = rng.integers(0, len(centres), size=n)
    cxy = centres[pick] + rng.normal(0, 0.1, size=(n, 2)) * sizes[pick]
    wh = sizes[pick] * rng.uniform(0.8, 1.25, size=(n, 2))
    boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1).astype(np.float32)
    return torch.from_numpy(boxes), torch.from_numpy(rng.random(n).astype(np.float32))


def nms_variants(n: int) -> dict[str, Callable[[], torch.Tensor]]:
    """Each variant on the same n clustered boxes; each returns the kept indices."""
    boxes, scores = clustered_boxes(n)
    zeros = torch.zeros(n)
    return {
        "greedy": lambda: nms(boxes, scores, 0.5),
        "fast": lambda: fast_nms(boxes, scores, 0.5),
        "cluster": lambda: cluster_nms(boxes, scores, 0.5),
        "matrix": lambda: torch.nonzero(matrix_nms(boxes, scores) >= 0.05).flatten(),
        "noh(p=0)": lambda: noh_nms(boxes, scores, boxes, zeros, 0.5)[0],
    }


def bench_nms(sizes: tuple[int, ...]) -> None:
    print("NMS variants, IoU threshold 0.5, clustered boxes (ratio = time / greedy time)")
    print(f"{'boxes':>7} {'variant':<10} {'ms':>10} {'ratio':>7} {'kept':>6}")
    for n in sizes:
        base = None
        for name, fn in nms_variants(n).items():
            small = n <= 1000
            seconds, kept_idx = median_time(fn, 5 if small else 1, warmup=small)
            base = base or seconds
            kept = len(kept_idx) if isinstance(kept_idx, torch.Tensor) else -1
            print(f"{n:>7} {name:<10} {seconds * 1e3:>10.1f} {seconds / base:>7.2f} {kept:>6}")


def yolact_weights(model: torch.nn.Module) -> str:
    """Load detinit weights when ../shared/parity is there; say which weights were used."""
    if not (PARITY / "detinit.py").exists():
        return "random init"
    sys.path.insert(0, str(PARITY))
    import detinit

    shapes = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch."))
              for k, v in model.state_dict().items()}
    model.load_state_dict(detinit.state_dict(shapes), strict=True)
    return "detinit"


def yolact_latency(variant: str, frame: np.ndarray) -> tuple[str, float, float]:
    """(weights used, network seconds, full predict seconds) for one variant."""
    model = build_yolact(variant)
    weights = yolact_weights(model)
    x = torch.zeros(1, 3, 550, 550)

    def net() -> object:
        with torch.inference_mode():
            return model(x)

    return weights, median_time(net, 3)[0], median_time(lambda: predict(model, frame), 3)[0]


def bench_yolact() -> None:
    print(f"\nYOLACT / YOLACT++ CPU latency, 550x550 RGB frame, {torch.get_num_threads()} threads"
          " (ratio = predict time / yolact_resnet50's)")
    print(f"{'variant':<21} {'weights':<12} {'net ms':>8} {'predict ms':>11} {'post share':>11} "
          f"{'ratio':>6}")
    frame = np.random.default_rng(0).integers(0, 256, size=(550, 550, 3), dtype=np.uint8)
    base = None
    for variant in ("yolact_resnet50", "yolact_base", "yolact_plus_resnet50",
                    "yolact_plus_base"):
        weights, net, full = yolact_latency(variant, frame)
        base = base or full
        print(f"{variant:<21} {weights:<12} {net * 1e3:>8.0f} {full * 1e3:>11.0f} "
              f"{(full - net) / full:>11.1%} {full / base:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-yolact", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    bench_nms(tuple(args.sizes))
    if not args.skip_yolact:
        bench_yolact()


if __name__ == "__main__":
    main()
