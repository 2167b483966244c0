"""YOLACT parity: our model reproduces the official yolact_base / yolact_resnet50 outputs.

Fixtures: ../shared/parity/yolact_{base,resnet50} (official dbolya/yolact filled with detinit
weights); see their README for the cases. The network runs once per weight set (module cache).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from annotator.core.errors import CheckpointError
from annotator.nn.yolact import (
    COCO_CATEGORY_IDS,
    COCO_CLASSES,
    build_yolact,
    detect,
    load_state,
    load_yolact,
    postprocess,
    predict,
)
from annotator.nn.yolact.detect import assemble_masks, normalize

RTOL = 1e-4
_CACHE: dict[tuple[str, str], tuple] = {}


def _fixture(parity_dir: Path, variant: str) -> tuple[dict, dict, dict]:
    root = parity_dir / variant
    manifest = json.loads((root / "manifest.json").read_text())
    return manifest, dict(np.load(root / "inputs.npz")), dict(np.load(root / "expected.npz"))


_WEIGHTS: dict[str, dict[str, torch.Tensor]] = {}
HEAD_KEYS = ("prediction_layers.0.upfeature.0.weight", "prediction_layers.0.upfeature.0.bias")


def _weights(parity_dir: Path, variant: str, head_scale: float | None) -> dict[str, torch.Tensor]:
    """detinit weights (cached per variant), optionally with the head's first conv scaled."""
    import detinit

    if variant not in _WEIGHTS:
        manifest, _, _ = _fixture(parity_dir, variant)
        assert not manifest["explicit"], "this test does not expect explicit tensors"
        shapes = {k: (tuple(s), d) for k, s, d, _ in manifest["keys"]}
        _WEIGHTS[variant] = detinit.state_dict(shapes)
    state = dict(_WEIGHTS[variant])
    if head_scale is not None:
        for key in HEAD_KEYS:
            state[key] = state[key] * head_scale
    return state


def _input(frames: np.ndarray, model: torch.nn.Module) -> torch.Tensor:
    """The fixture's recipe: /255, bilinear to 550, *255, then the official normalisation."""
    x = torch.from_numpy(frames[0:1]).to(torch.float32) / 255.0
    x = x.permute(0, 3, 1, 2).contiguous()
    x = F.interpolate(x, size=(550, 550), mode="bilinear", align_corners=False) * 255.0
    return normalize(x, model.config)


def _summaries(prefix: str, name: str, t: torch.Tensor, expected: dict) -> dict[str, np.ndarray]:
    a = t.detach().numpy().astype(np.float64)
    key = f"{prefix}/{name}"
    idx = expected[f"{key}/sample_idx"]
    return {f"{key}/mean": np.float64(a.mean()), f"{key}/std": np.float64(a.std()),
            f"{key}/sample": a.reshape(-1)[idx], f"{key}/shape": np.array(a.shape)}


def _outputs(parity_dir: Path, variant: str, head_scale: float | None) -> tuple:
    """The network run, cached per module; the head-scaled run reuses backbone and FPN maps."""
    cache_key = (variant, str(head_scale))
    if cache_key not in _CACHE:
        _, inputs, _ = _fixture(parity_dir, variant)
        model = build_yolact(variant)
        model.load_state_dict(_weights(parity_dir, variant, head_scale), strict=True)
        plain = _CACHE.get((variant, "None"))
        with torch.no_grad():
            if plain is None:
                out = model(_input(inputs["frames"], model))
            else:
                out = model.predict_from(plain[1].backbone, plain[1].fpn)
        _CACHE[cache_key] = (model, out)
    return _CACHE[cache_key]


def _run(parity_dir: Path, variant: str, head_scale: float | None) -> dict[str, np.ndarray]:
    """Our outputs named like the fixture's keys for one weight set."""
    _, _, expected = _fixture(parity_dir, variant)
    if head_scale is not None:
        _outputs(parity_dir, variant, None)  # compute the shared backbone/FPN pass first
    model, out = _outputs(parity_dir, variant, head_scale)
    net = "net" if head_scale is None else "net_headx025"
    det = "detect" if head_scale is None else "detect_headx025"
    got: dict[str, np.ndarray] = {f"{net}/loc": out.loc.numpy(),
                                  f"{net}/priors": out.priors.numpy()}
    for name, t in (("conf", out.conf), ("mask", out.mask), ("proto", out.proto)):
        got |= _summaries(net, name, t, expected)
    for i, t in enumerate(out.backbone):
        got |= _summaries(net, f"backbone_C{i + 2}", t, expected)
    for i, t in enumerate(out.fpn):
        got |= _summaries(net, f"fpn_P{i + 3}", t, expected)
    rows = torch.from_numpy(expected[f"{net}/rows_idx"])
    got[f"{net}/rows_idx"] = rows.numpy()
    got[f"{net}/conf_rows"] = out.conf[0, rows].numpy()
    got[f"{net}/mask_rows"] = out.mask[0, rows].numpy()
    if f"{det}/num_detections" in expected:
        with torch.no_grad():
            raw = detect(out, model.config)
            soft = assemble_masks(raw)
            classes, scores, boxes, masks = postprocess(raw, 256, 256)
        got |= {
            f"{det}/num_detections": np.array(len(raw.scores)),
            f"{det}/det_boxes": raw.boxes.numpy(), f"{det}/det_classes": raw.classes.numpy(),
            f"{det}/det_scores": raw.scores.numpy(), f"{det}/det_coeffs": raw.coeffs.numpy(),
            f"{det}/classes": classes.numpy(), f"{det}/scores": scores.numpy(),
            f"{det}/boxes": boxes.numpy(), f"{det}/masks_top": masks[:15].numpy().astype(np.uint8),
            f"{det}/proto_masks_cropped_top": soft[:15].numpy(),
        }
    return got


def _compare(got: dict, manifest: dict, expected: dict, prefix: str) -> None:
    per_output = manifest["tolerance"]["per_output"]
    names = [k for k in expected if k.startswith(prefix + "/") and not k.endswith("/sample_idx")]
    assert names, f"fixture has no outputs under {prefix}"
    failures = []
    for name in names:
        exp, ours = np.asarray(expected[name]), np.asarray(got[name])
        tol = per_output.get(name, "exact")
        if tol == "exact":
            if exp.shape != ours.shape or not np.array_equal(exp, ours):
                failures.append(f"{name}: not identical")
            continue
        assert exp.shape == ours.shape, f"{name}: shape {ours.shape} != {exp.shape}"
        err = np.abs(ours.astype(np.float64) - exp) - RTOL * np.abs(exp)
        if err.max(initial=-1.0) > tol:
            failures.append(f"{name}: excess {err.max():.3g} over atol {tol}")
    assert not failures, "; ".join(failures)


VARIANTS = ["yolact_base", "yolact_resnet50"]
# The ResNet-101 forward passes cost ~15 s of CPU: run them with the slow tests.
RUN_VARIANTS = [pytest.param("yolact_base", marks=pytest.mark.slow), "yolact_resnet50"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_layout_matches_manifest(parity_dir: Path, variant: str) -> None:
    manifest, _, _ = _fixture(parity_dir, variant)
    ours = {k: (list(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in build_yolact(variant).state_dict().items()}
    theirs = {k: (s, d) for k, s, d, _ in manifest["keys"]}
    assert ours == theirs
    assert len(ours) == manifest["num_keys"]


@pytest.mark.parametrize("variant", RUN_VARIANTS)
def test_network_outputs_match(parity_dir: Path, variant: str) -> None:
    manifest, _, expected = _fixture(parity_dir, variant)
    _compare(_run(parity_dir, variant, None), manifest, expected, "net")


@pytest.mark.slow
def test_head_scaled_network_outputs_match(parity_dir: Path) -> None:
    manifest, _, expected = _fixture(parity_dir, "yolact_base")
    _compare(_run(parity_dir, "yolact_base", 0.25), manifest, expected, "net_headx025")


@pytest.mark.parametrize(("variant", "scale", "prefix"), [
    pytest.param("yolact_base", 0.25, "detect_headx025", marks=pytest.mark.slow),
    ("yolact_resnet50", None, "detect")])
def test_detect_and_postprocess_match(
    parity_dir: Path, variant: str, scale: float | None, prefix: str
) -> None:
    manifest, _, expected = _fixture(parity_dir, variant)
    _compare(_run(parity_dir, variant, scale), manifest, expected, prefix)


def test_loader_filters_legacy_keys_and_rejects_mismatches(parity_dir: Path) -> None:
    model = build_yolact("yolact_resnet50")
    state = _weights(parity_dir, "yolact_resnet50", None)
    legacy = dict(state)
    legacy["backbone.layer1.0.conv1.weight"] = torch.zeros(1)  # old naming: dropped
    legacy["fpn.downsample_layers.2.weight"] = torch.zeros(1)  # v1.0 extra level: dropped
    load_state(model, legacy)
    key = "fpn.lat_layers.0.weight"
    assert torch.equal(model.state_dict()[key], state[key])
    broken = dict(state)
    del broken["proto_net.0.weight"]
    broken["head.extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"proto_net\.0\.weight.*head\.extra"):
        load_state(model, broken)
    reshaped = dict(state) | {"semantic_seg_conv.bias": torch.zeros(3)}
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_state(model, reshaped)


def test_load_yolact_rejects_a_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "yolact_resnet50_54_800000.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_yolact("yolact_resnet50", bad)


def test_class_tables() -> None:
    assert len(COCO_CLASSES) == len(COCO_CATEGORY_IDS) == 80
    assert COCO_CATEGORY_IDS[-1] == 90
    assert COCO_CLASSES[0] == "person"


def test_predict_gives_frame_sized_detections(parity_dir: Path) -> None:
    model, _ = _outputs(parity_dir, "yolact_resnet50", None)
    _, inputs, _ = _fixture(parity_dir, "yolact_resnet50")
    frame = inputs["frames"][0][:200]  # non-square: masks must come back at 200 x 256
    dets = predict(model, frame, top_k=15)
    assert 0 < len(dets) <= 15
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    for d in dets:
        assert d.mask.shape == (200, 256)
        assert d.mask.dtype == np.bool_
        assert d.label == COCO_CLASSES[d.class_id]
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 <= x2 <= 256
        assert 0 <= y1 <= y2 <= 200
        assert d.mask.any()
        rows, cols = np.nonzero(d.mask)  # masks are cropped to (about) their box
        assert x1 - 4 <= cols.min() <= cols.max() <= x2 + 4
        assert y1 - 4 <= rows.min() <= rows.max() <= y2 + 4
