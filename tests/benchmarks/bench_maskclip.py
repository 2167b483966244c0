"""MaskCLIP (DenseCLIP) latency on CPU: dense label maps at two input sizes.

Run: `.venv/bin/python tests/benchmarks/bench_maskclip.py [--frame H W] [--repeats N]`.
Weights are random (same architecture and cost as ViT-B/16; no download needed). The baseline is
one plain CLIP image-encoder pass at 224x224, measured in the same run; other rows are ratios to
it. Text embeddings are per class name and cached, so they are timed separately.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from annotator.nn.clip.maskclip import DenseClip
from annotator.nn.clip.model import CLIP, MASKCLIP_NUMERICS
from annotator.nn.clip.templates import MASKCLIP_TEMPLATES, SINGLE_TEMPLATE
from annotator.nn.clip.tokenizer import ClipTokenizer, find_vocab

CLASSES = ["person", "bed", "pillow", "lamp", "wall", "floor", "window", "ceiling"]


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tokenizer(tmp: Path) -> ClipTokenizer:
    """The real vocabulary when available (ids do not change the cost), else a byte-level one."""
    vocab = find_vocab()
    if vocab is None:
        vocab = tmp / "bytes.txt.gz"
        vocab.write_bytes(gzip.compress(b"header\n"))
    return ClipTokenizer(vocab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frame", type=int, nargs=2, default=(540, 960), metavar=("H", "W"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = CLIP(vision_numerics=MASKCLIP_NUMERICS).eval()
    rgb = np.random.default_rng(0).integers(0, 256, (*args.frame, 3), dtype=np.uint8)
    rows: list[tuple[str, float]] = []
    with torch.inference_mode():
        x = torch.randn(1, 3, 224, 224)
        base = timed(lambda: model.encode_image(x), args.repeats)
    rows.append(("CLIP encode_image 224x224 (baseline)", base))
    with tempfile.TemporaryDirectory() as tmp:
        tok = tokenizer(Path(tmp))
        for templates, label in ((SINGLE_TEMPLATE, "1"), (MASKCLIP_TEMPLATES, "85")):
            dense = DenseClip(model, tok, templates=templates)
            one = timed(lambda d=dense: (d._text_cache.clear(), d.text_embeddings(["bed"])), 1)
            rows.append((f"text embedding, 1 class, {label} templates", one))
        for short in (224, 448):
            dense = DenseClip(model, tok, templates=SINGLE_TEMPLATE, short_side=short)
            dense.text_embeddings(CLASSES)
            frame = dense.encode(rgb)
            h, w = frame.input_hw
            enc = timed(lambda d=dense: d.encode(rgb), args.repeats)
            lab = timed(lambda d=dense, f=frame: d.label_map(f, CLASSES), args.repeats)
            rows.append((f"encode frame, short side {short} ({h}x{w})", enc))
            rows.append((f"label_map {len(CLASSES)} classes from encoded, {short}", lab))
            rows.append((f"label_map from pixels, {short}", enc + lab))
    print(f"frame {args.frame[0]}x{args.frame[1]}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"{'case':52s} {'ms':>9s} {'x baseline':>10s}")
    for name, sec in rows:
        print(f"{name:52s} {sec * 1e3:9.1f} {sec / base:10.2f}")


if __name__ == "__main__":
    main()
