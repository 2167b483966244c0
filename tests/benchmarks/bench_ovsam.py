"""OVSAM on this CPU: set_image (RN50x16 trunk + SAM2CLIP neck + FPN) and per-prompt decoding.

Run: .venv/bin/python tests/benchmarks/bench_ovsam.py [--frames N] [--clicks N] [--decoder-only]
Baseline, measured in the same run: one CLIP RN50x16 image forward at its native 384x384 (the
attention pool fixes the grid at 12x12, so 224 is not a valid RN50x16 input). The machine is
shared, so compare ratios, not absolute times. Random weights (speed does not depend on their
values); an LVIS-sized random vocabulary (1203 classes, 2 synonyms). Memory: resident set
size after building, after one set_image, and its high-water mark.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from _timing import pct, times_ms

from annotator.nn.ovsam import (
    ImageFeatures,
    Ovsam,
    OvsamPredictor,
    Vocabulary,
    build_ovsam_meta,
)
from annotator.nn.ovsam.backbone import build_modified_resnet

Row = tuple[str, float, float, str]


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size in MB, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def random_ovsam() -> Ovsam:
    """OVSAM with random weights, built on `meta` then filled (no slow default init)."""
    model = build_ovsam_meta()
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, value in model.state_dict().items():
        if not value.is_floating_point():
            state[key] = torch.zeros(value.shape, dtype=value.dtype)
        elif key.endswith("running_var") or key.endswith("norm1.weight"):
            state[key] = torch.ones(value.shape)
        else:
            state[key] = torch.randn(value.shape, generator=gen) * 0.02
    model.load_state_dict(state, strict=True, assign=True)
    model.reset_buffers()
    return model.requires_grad_(False).eval()


def random_vocabulary(k: int = 1203) -> Vocabulary:
    emb = torch.nn.functional.normalize(torch.randn(k, 2, 768), dim=-1)
    return Vocabulary(tuple(f"class_{i}" for i in range(k)), emb)


def bench_encoder(model: Ovsam, frames: int, decoder_only: bool) -> tuple[list[Row], float]:
    """Baseline RN50x16 at 384, then the trunk, the neck, the FPN and the whole set_image."""
    torch.manual_seed(0)
    clip_tower = build_modified_resnet().eval()
    img384 = torch.randn(1, 3, 384, 384)
    with torch.inference_mode():
        base = times_ms(lambda: clip_tower(img384), frames)
        if decoder_only:
            ref = pct(base, 50)
            return [("baseline: CLIP RN50x16 image forward, 384x384", ref, ref, "1.00x")], ref
        x = torch.randn(1, 3, 1024, 1024)
        feats = model.backbone(x)
        trunk = times_ms(lambda: model.backbone(x), frames, warmup=0)
        neck = times_ms(lambda: model.neck(feats), frames, warmup=0)
        fpn = times_ms(lambda: model.fpn_neck(feats), frames, warmup=0)
    ref = pct(base, 50)
    rows = [
        ("baseline: CLIP RN50x16 image forward, 384x384", ref, pct(base, 95), "1.00x"),
        ("OVSAM trunk (RN50x16 C2..C5), 1024x1024", pct(trunk, 50), pct(trunk, 95), ""),
        ("OVSAM SAM2CLIP neck (5 ViT-H blocks)", pct(neck, 50), pct(neck, 95), ""),
        ("OVSAM FPN", pct(fpn, 50), pct(fpn, 95), ""),
    ]
    return [(n, a, b, r or f"{a / ref:.2f}x") for n, a, b, r in rows], ref


def random_features() -> ImageFeatures:
    gen = torch.Generator().manual_seed(0)
    return ImageFeatures(
        c5=torch.randn(1, 3072, 32, 32, generator=gen),
        embedding=torch.randn(1, 256, 64, 64, generator=gen),
        fpn=[torch.randn(1, 256, 256 >> i, 256 >> i, generator=gen) for i in range(4)],
    )


def bench_predictor(pred: OvsamPredictor, clicks: int, ref: float, decoder_only: bool) -> list[Row]:
    rows: list[Row] = []
    if decoder_only:  # random features in place of an encoded frame
        pred.set_features(random_features(), (540, 960), (576, 1024))
    else:
        frame = np.random.default_rng(0).integers(0, 255, (540, 960, 3), dtype=np.uint8)
        set_image = times_ms(lambda: pred.set_image(frame), 1, warmup=0)
        rows.append(("set_image 960x540 (whole encode)", set_image[0], set_image[0], ""))
    point = np.array([[480.0, 270.0]])
    box = np.array([300.0, 100.0, 700.0, 500.0])
    cases: dict[str, Callable[[], object]] = {
        "predict: 1 point, head labels only (demo)": lambda: pred.predict(point, use_clip=False),
        "predict: 1 point, fused labels": lambda: pred.predict(point),
        "predict: box, fused labels": lambda: pred.predict(box=box),
        "predict: 4 boxes at once, fused labels": lambda: pred.predict(box=np.tile(box, (4, 1))),
    }
    for name, fn in cases.items():
        t = times_ms(fn, clicks)
        rows.append((name, pct(t, 50), pct(t, 95), ""))
    return [(n, a, b, f"{a / ref:.2f}x") for n, a, b, _ in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1, help="timed encoder runs")
    parser.add_argument("--clicks", type=int, default=20, help="timed decoder runs per case")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--decoder-only", action="store_true", help="skip the encoder (random features)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rss0, _ = _rss_mb()
    model = random_ovsam()
    rss_model, _ = _rss_mb()
    pred = OvsamPredictor(model, random_vocabulary())
    rows, ref = bench_encoder(model, args.frames, args.decoder_only)
    rows += bench_predictor(pred, args.clicks, ref, args.decoder_only)
    rss_image, peak = _rss_mb()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'case':56s} {'p50 ms':>9s} {'p95 ms':>9s} {'vs base':>8s}")
    for name, p50, p95, ratio in rows:
        print(f"{name:56s} {p50:9.1f} {p95:9.1f} {ratio:>8s}")
    params = sum(p.numel() for p in model.parameters()) * 4 / 2**20
    print(
        f"\nparameters {params:.0f} MB float32; RSS before {rss0:.0f} MB, model {rss_model:.0f} MB,"
    )
    print(f"after set_image + predictions {rss_image:.0f} MB, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
