"""YOLACT++: the instantiated official layouts (keys, parameters, DCN placement, 9 anchors per
location), a random-weight forward with deformable convolutions, mask-IoU rescoring, and strict
loading through the real loader."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from annotator.backends.weights import get_manifest
from annotator.core.errors import CheckpointError
from annotator.nn.ops.deform_conv import ModulatedDeformConv2d
from annotator.nn.yolact import CONFIGS, RawDetections, build_yolact, load_yolact, predict
from annotator.nn.yolact.detect import assemble_masks, rescore
from annotator.nn.yolact.model import make_priors

LEVELS_550 = [(69, 69), (35, 35), (18, 18), (9, 9), (5, 5)]
INSTANTIATED = {"yolact_plus_resnet50": (405, 33_819_580), "yolact_plus_base": (705, 52_676_486)}
DCN_BLOCKS = {
    "yolact_plus_resnet50": {(1, b) for b in range(4)} | {(2, b) for b in range(6)}
    | {(3, b) for b in range(3)},
    "yolact_plus_base": {(1, 0), (1, 3), *((2, b) for b in range(0, 23, 3)), (3, 0)},
}


@pytest.fixture(scope="module")
def plus_r50() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_yolact("yolact_plus_resnet50")


def _counts(model: torch.nn.Module) -> tuple[int, int]:
    state = model.state_dict()
    params = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    return len(state), params


def _dcn_blocks(model: torch.nn.Module) -> set[tuple[int, int]]:
    return {(i, j) for i, stage in enumerate(model.backbone.layers)
            for j, block in enumerate(stage) if isinstance(block.conv2, ModulatedDeformConv2d)}


def test_plus_resnet50_layout_is_the_official_one(plus_r50):
    assert _counts(plus_r50) == INSTANTIATED["yolact_plus_resnet50"]
    assert _dcn_blocks(plus_r50) == DCN_BLOCKS["yolact_plus_resnet50"]  # 13 DCNs
    state = plus_r50.state_dict()
    assert state["backbone.layers.1.0.conv2.weight"].shape == (128, 128, 3, 3)
    assert state["backbone.layers.1.0.conv2.bias"].shape == (128,)
    assert state["backbone.layers.1.0.conv2.conv_offset_mask.weight"].shape == (27, 128, 3, 3)
    assert state["prediction_layers.0.conf_layer.weight"].shape == (729, 256, 3, 3)
    assert state["maskiou_net.maskiou_net.10.weight"].shape == (80, 128, 1, 1)


def test_plus_base_layout_is_the_official_one():
    model = build_yolact("yolact_plus_base")
    assert _counts(model) == INSTANTIATED["yolact_plus_base"]
    assert _dcn_blocks(model) == DCN_BLOCKS["yolact_plus_base"]  # 11 DCNs, interval 3


def test_nine_non_square_anchors_per_location():
    cfg = CONFIGS["yolact_plus_resnet50"]()
    priors = make_priors(cfg, LEVELS_550)
    assert priors.shape == (57_744, 4) and cfg.num_priors == 9
    first = priors[:9]
    assert torch.allclose(first[:, :2], torch.full((9, 2), 0.5 / 69))
    for k, (scale, ar) in enumerate((s, a) for s in (24, 24 * 2 ** (1 / 3), 24 * 2 ** (2 / 3))
                                    for a in (1.0, 0.5, 2.0)):
        want = (scale * math.sqrt(ar) / 550, scale / math.sqrt(ar) / 550)
        assert first[k, 2:].tolist() == pytest.approx(want, rel=1e-6)


def test_random_forward_at_a_small_size(plus_r50):
    with torch.inference_mode():
        out = plus_r50(torch.randn(1, 3, 160, 160))
    sizes = [tuple(p.shape[-2:]) for p in out.fpn]
    assert sizes == [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2)]
    count = 9 * sum(h * w for h, w in sizes)
    assert out.loc.shape == (1, count, 4) and out.conf.shape == (1, count, 81)
    assert out.proto.shape == (1, 40, 40, 32) and bool(torch.isfinite(out.loc).all())


def test_rescoring_multiplies_by_the_class_mask_iou_and_resorts(plus_r50):
    g = torch.Generator().manual_seed(1)
    n = 12
    xy = 0.6 * torch.rand(n, 2, generator=g)
    raw = RawDetections(torch.cat((xy, xy + 0.3), 1), torch.randint(0, 80, (n,), generator=g),
                        torch.linspace(0.9, 0.2, n), torch.randn(n, 32, generator=g),
                        torch.rand(138, 138, 32, generator=g))
    with torch.no_grad():
        for conv in plus_r50.maskiou_net.maskiou_net[::2]:  # positive weights: IoUs vary
            conv.weight.uniform_(0, 0.1)
        iou = plus_r50.maskiou_net(assemble_masks(raw)[:, None])
        assert iou.shape == (n, 80)
        expected = raw.scores * iou[torch.arange(n), raw.classes]
        out = rescore(plus_r50, raw)
        assert torch.equal(out.scores, expected.sort(descending=True, stable=True).values)
        assert not torch.equal(out.classes, raw.classes)  # the order changed
        cut = float(out.scores[5])
        kept = rescore(plus_r50, raw, cut)
        assert len(kept.scores) == 6 and bool((kept.scores >= cut).all())


def test_predict_runs_with_rescoring_on_a_frame():
    torch.manual_seed(0)
    model = build_yolact(replace(CONFIGS["yolact_plus_resnet50"](), max_size=288))  # proto 72
    conf = model.prediction_layers[0].conf_layer
    with torch.no_grad():
        conf.bias.view(9, 81)[:, 1] = 6.0  # "person" everywhere: detections to rescore
        for layer in model.maskiou_net.maskiou_net[::2]:  # mask IoUs > 0
            layer.weight.uniform_(0, 0.1)
    frame = (torch.rand(90, 120, 3) * 255).to(torch.uint8).numpy()
    found = predict(model, frame, score_threshold=0.05, top_k=5)
    assert 0 < len(found) <= 5 and all(d.mask.shape == (90, 120) for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_saved_state_loads_strictly_and_a_wrong_file_is_refused(plus_r50, tmp_path: Path):
    path = tmp_path / "yolact_plus_resnet50_54_800000.pth"
    torch.save(plus_r50.state_dict(), path)
    loaded = load_yolact("yolact_plus_resnet50", path)
    key = "backbone.layers.2.3.conv2.conv_offset_mask.weight"
    assert torch.equal(loaded.state_dict()[key], plus_r50.state_dict()[key])
    with pytest.raises(CheckpointError, match="not a yolact_plus_base checkpoint"):
        load_yolact("yolact_plus_base", path)
    plain = tmp_path / "yolact_resnet50.pth"
    torch.save(build_yolact("yolact_resnet50").state_dict(), plain)
    with pytest.raises(CheckpointError, match="missing keys"):
        load_yolact("yolact_plus_resnet50", plain)


@pytest.mark.parametrize("variant", ["yolact_plus_resnet50", "yolact_plus_base"])
def test_manifests_name_the_official_files(variant):
    from annotator.backends.builtin.yolact import VARIANTS

    cfg, manifest = CONFIGS[variant](), get_manifest(variant)
    assert variant in VARIANTS and manifest.backend == "yolact" and manifest.variant == variant
    assert (manifest.file_name, manifest.url) == (cfg.file_name, cfg.url)
