"""OVSAM parity: our model against the official one (fixture ../shared/parity/ovsam).

The default run checks the key layout, the class-embedding stand-in, the prompt encoder, the
mask decoder (on the fixture's float16 image embedding), mask post-processing, the head RoIs,
the classifiers and the fusion on the fixture's stored intermediates. The slow tests run the
whole model (the RN50x16 trunk at 1024x1024 and the SAM2CLIP neck take minutes on 2 cores)
and check every stored output, also through the public predictor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from annotator.core.errors import PromptError
from annotator.nn.clip.checkpoint import load_strict
from annotator.nn.ovsam import (
    Decoded,
    ImageFeatures,
    Ovsam,
    OvsamPredictor,
    Vocabulary,
    build_ovsam_meta,
    postprocess_masks,
)
from annotator.nn.ovsam.head import fuse_logits, top_k

CASES = ("point", "box", "box_gtroi")
FAST_PARTS = ("pe", "mask_decoder", "fpn_neck")
# float16 storage of the image embedding (rel. 5e-4) perturbs the mask logits: measured max
# 5.8e-4 (|logits| <= 3); 10x margin
F16_LOGIT_ATOL = 5e-3


class Fixture:
    """The fixture's arrays, tolerances and deterministic weights."""

    def __init__(self, root: Path) -> None:
        self.manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())
        self.inputs = dict(np.load(root / "inputs.npz"))
        self.expected = dict(np.load(root / "expected.npz"))
        self.shapes = {k: (tuple(s), d) for k, s, d, _ in self.manifest["keys"]}
        self.tol: dict[str, Any] = self.manifest["tolerance"]["per_output"]
        self.rtol: float = self.manifest["tolerance"]["rtol"]

    def state(self, prefixes: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """detinit weights of the keys under `prefixes` (all keys when None)."""
        import detinit  # put on sys.path by the parity_dir fixture

        keep = tuple(prefixes) if prefixes is not None else ("",)
        return detinit.state_dict({k: v for k, v in self.shapes.items() if k.startswith(keep)})

    def vocabulary(self) -> Vocabulary:
        """The class-embedding stand-in of the fixture README, with the LVIS base/novel split."""
        import detinit

        emb = torch.from_numpy(
            detinit.fill("ovsam_class_embed/RN50x16_LVISV1Dataset", (1203, 2, 768))
        )
        for k, n in enumerate(self.inputs["lvis_num_synonyms"].tolist()):
            if n < 2:
                emb[k, n:] = emb[k, 0]
        emb = emb / emb.norm(dim=-1, keepdim=True)
        names = tuple(f"lvis_{i}" for i in range(1203))
        indicator = torch.from_numpy(self.inputs["lvis_base_novel_indicator"])
        return Vocabulary(names, emb, indicator)

    def recipe(self) -> torch.Tensor:
        """The fixture's preprocessing: 256x256 uint8 -> normalised 1x3x1024x1024."""
        x = torch.from_numpy(self.inputs["frames"][0:1]).to(torch.float32) / 255.0
        x = x.permute(0, 3, 1, 2).contiguous()
        x = torch.nn.functional.interpolate(
            x, size=(1024, 1024), mode="bilinear", align_corners=False
        )
        mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
        std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
        return (x * 255.0 - mean) / std

    def prompts(self, case: str) -> dict[str, torch.Tensor | None]:
        """decode() arguments of a case, in 1024-pixel coordinates."""
        spec = self.manifest["cases"][case]
        boxes = torch.tensor(spec["boxes_1024"], dtype=torch.float32)
        points = spec["points_1024"]
        return {
            "points": None if points is None else torch.tensor(points)[:, None, :].float(),
            "boxes": None if points is not None else boxes,
            "head_boxes": boxes if case == "box_gtroi" else None,
            "clip_boxes": boxes,
        }

    def check(self, name: str, actual: np.ndarray, atol: float | None = None) -> None:
        """|a - e| <= atol + rtol |e| (atol from the manifest unless given)."""
        exp = self.expected[name]
        assert actual.shape == exp.shape, f"{name}: {actual.shape} != {exp.shape}"
        if exp.dtype.kind in "iu":
            np.testing.assert_array_equal(actual, exp, err_msg=name)
            return
        err = np.abs(actual.astype(np.float64) - exp)
        tol = self.tol[name] if atol is None else atol
        bound = tol + self.rtol * np.abs(exp)
        assert np.all(err <= bound), f"{name}: max err {err.max():.3g} (atol {tol})"

    def check_summary(self, name: str, tensor: torch.Tensor) -> None:
        """Compare shape, mean, std and the sampled elements of a big tensor."""
        a = tensor.detach().numpy()
        assert list(a.shape) == self.expected[f"{name}/shape"].tolist(), name
        a64 = a.astype(np.float64)
        self.check(f"{name}/mean", np.asarray(a64.mean()))
        self.check(f"{name}/std", np.asarray(a64.std()))
        self.check(f"{name}/sample", a.reshape(-1)[self.expected[f"{name}/sample_idx"]])

    def check_masks(self, name: str, masks: np.ndarray) -> None:
        """At most 0.5 % flipped pixels (the fixture's threshold-sensitive logits)."""
        exp = self.expected[name].astype(bool)
        assert masks.shape == exp.shape
        assert (masks != exp).mean() <= 0.005, name


@pytest.fixture(scope="module")
def fx(parity_dir: Path) -> Fixture:
    return Fixture(parity_dir / "ovsam")


@pytest.fixture(scope="module")
def light(fx: Fixture) -> Ovsam:
    """OVSAM with real weights in the prompt encoder, head, FPN and CLIP attention pool only."""
    model = build_ovsam_meta(roi_size=7)
    state = fx.state((*(p + "." for p in FAST_PARTS), "backbone.head."))
    for part in FAST_PARTS:
        sub = {k[len(part) + 1 :]: v for k, v in state.items() if k.startswith(part + ".")}
        load_strict(getattr(model, part), sub, part, assign=True)
    prefix = "backbone.head."
    head = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    load_strict(model.backbone.head, head, "backbone.head", assign=True)
    model.reset_buffers()
    vocab = fx.vocabulary()
    model.mask_decoder.set_class_embeddings(vocab.embeddings)
    model.base_novel = vocab.base_novel
    return model.requires_grad_(False).eval()


def test_state_dict_layout(fx: Fixture) -> None:
    model = build_ovsam_meta()
    own = {
        k: (tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in model.state_dict().items()
    }
    assert own == fx.shapes
    assert len(own) == fx.manifest["num_keys"]
    assert sum(p.numel() for p in model.parameters()) == fx.manifest["num_params"]


def test_class_embedding_standin(fx: Fixture) -> None:
    emb = fx.vocabulary().embeddings
    fx.check("class_embed/sample", emb.reshape(-1)[fx.expected["class_embed/sample_idx"]].numpy())


@pytest.mark.parametrize("case", CASES)
def test_prompt_embeddings(fx: Fixture, light: Ovsam, case: str) -> None:
    p = fx.prompts(case)
    with torch.no_grad():
        sparse, dense = light.embed_prompts(p["points"], p["boxes"])
    fx.check(f"{case}/sparse_embeddings", sparse.numpy())
    assert dense.shape == (2, 256, 64, 64)
    assert torch.equal(dense, dense[:1, :, :1, :1].expand_as(dense))
    fx.check(f"{case}/dense_embedding_vector", dense[0, :, 0, 0].numpy())


@pytest.mark.parametrize("case", CASES)
def test_decoder_on_f16_embedding(fx: Fixture, light: Ovsam, case: str) -> None:
    """Mask logits and label MLP from the stored float16 image embedding (looser tolerance)."""
    embedding = torch.from_numpy(fx.expected["features/neck_out_f16"].astype(np.float32))
    p = fx.prompts(case)
    with torch.no_grad():
        sparse, dense = light.embed_prompts(p["points"], p["boxes"])
        low_res, label_query = light.mask_decoder.decode_masks(
            embedding, light.pe.get_dense_pe(), sparse, dense
        )
        label = light.mask_decoder.label_embedding(label_query)
    fx.check(f"{case}/low_res_logits", low_res.numpy(), atol=F16_LOGIT_ATOL)
    fx.check(f"{case}/label_mlp", label.numpy())
    exp = fx.expected[f"{case}/low_res_logits"]
    assert ((low_res.numpy() > 0) != (exp > 0)).mean() < 0.005


@pytest.mark.parametrize("case", CASES)
def test_postprocess_and_rois(fx: Fixture, light: Ovsam, case: str) -> None:
    low_res = torch.from_numpy(fx.expected[f"{case}/low_res_logits"])
    logits = postprocess_masks(low_res, (1024, 1024), (256, 256))[:, 0]
    fx.check(f"{case}/masks_logits_256", logits.numpy())
    fx.check_masks(f"{case}/masks", (logits.sigmoid() > 0.5).numpy())
    if case != "box_gtroi":
        fx.check(f"{case}/head_rois", light.mask_decoder.mask_rois(low_res).numpy())


@pytest.mark.parametrize("case", CASES)
def test_classifiers_and_fusion(fx: Fixture, light: Ovsam, case: str) -> None:
    """Head and CLIP logits from the stored embeddings; fusion, top-5 and labels."""
    e = fx.expected
    head = light.mask_decoder
    with torch.no_grad():
        head_logits = head.logits(torch.from_numpy(e[f"{case}/head_roi_embed"]))
        clip_logits = head.logits(torch.from_numpy(e[f"{case}/clip_attnpool"]))
        fused = fuse_logits(
            torch.from_numpy(e[f"{case}/head_cls_logits"][:, 0]),
            torch.from_numpy(e[f"{case}/clip_cls_logits"][:, 0]),
            torch.from_numpy(e[f"{case}/low_res_logits"]),
            light.base_novel,
        )
    assert torch.all(head_logits[:, -1] == 0)
    fx.check(f"{case}/head_cls_logits", head_logits[:, None].numpy())
    fx.check(f"{case}/clip_cls_logits", clip_logits[:, None].numpy())
    fx.check(f"{case}/fused_cls_logits", fused[:, None].numpy())
    fx.check(f"{case}/head_top5", top_k(head_logits, 5)[1].numpy())
    _check_top5(fx, f"{case}/fused_top5", fused)
    fx.check(f"{case}/labels", top_k(fused, 1)[1][:, 0].numpy())


def _check_top5(fx: Fixture, name: str, logits: torch.Tensor) -> None:
    """Top-5 as sets: one fixture pair of ranks 3/4 is only 0.0042 apart."""
    got = top_k(logits, 5)[1].numpy()
    for row_got, row_exp in zip(got, fx.expected[name], strict=True):
        assert set(row_got.tolist()) == set(row_exp.tolist()), name
    np.testing.assert_array_equal(got[:, :3], fx.expected[name][:, :3])


def test_fusion_without_split_and_empty_mask() -> None:
    """No base/novel split: beta everywhere; an all-negative mask keeps the head logits."""
    head = torch.tensor([[2.0, 1.0, 0.0]])
    clip = torch.tensor([[0.0, 3.0, 0.0]])
    positive = torch.ones(1, 1, 256, 256)
    out = fuse_logits(head, clip, positive)
    lq, lc = head.log_softmax(-1), clip.log_softmax(-1)
    expected = 0.1 * lq + 0.9 * lc
    expected[0, -1] = 0.9 * lq[0, -1] + 0.1 * lc[0, -1]  # background: alpha
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(fuse_logits(head, clip, -positive), lq)
    split = fuse_logits(head, clip, positive, torch.tensor([1, 0]))
    assert split[0, 1] == -1000.0


# ---------------------------------------------------------------- full model (slow)


@pytest.fixture(scope="module")
def full(fx: Fixture) -> Ovsam:
    model = build_ovsam_meta(roi_size=7)
    model.load_state_dict(fx.state(), strict=True, assign=True)
    model.reset_buffers()
    vocab = fx.vocabulary()
    model.mask_decoder.set_class_embeddings(vocab.embeddings)
    model.base_novel = vocab.base_novel
    return model.requires_grad_(False).eval()


@pytest.fixture(scope="module")
def features(fx: Fixture, full: Ovsam) -> tuple[Any, dict[str, torch.Tensor]]:
    trace: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        feats = full.encode(fx.recipe(), trace)
    trace["neck_out"] = feats.embedding
    trace.update({f"fpn_p{i}": p for i, p in enumerate(feats.fpn)})
    return feats, trace


@pytest.mark.slow
def test_features(fx: Fixture, features: tuple[Any, dict[str, torch.Tensor]]) -> None:
    fx.check_summary("preprocess/input", fx.recipe())
    _, trace = features
    for name, tensor in trace.items():
        fx.check_summary(f"features/{name}", tensor)
    fx.check("features/neck_out_f16", trace["neck_out"].half().float().numpy())


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_case_end_to_end(
    fx: Fixture, full: Ovsam, features: tuple[Any, dict[str, torch.Tensor]], case: str
) -> None:
    with torch.no_grad():
        out: Decoded = full.decode(features[0], **fx.prompts(case))
    assert out.clip_logits is not None
    assert out.fused_logits is not None
    fx.check(f"{case}/sparse_embeddings", out.sparse.numpy())
    fx.check(f"{case}/low_res_logits", out.low_res.numpy())
    logits = postprocess_masks(out.low_res, (1024, 1024), (256, 256))[:, 0]
    fx.check(f"{case}/masks_logits_256", logits.numpy())
    fx.check_masks(f"{case}/masks", (logits.sigmoid() > 0.5).numpy())
    fx.check(f"{case}/label_mlp", out.label_mlp.numpy())
    fx.check(f"{case}/head_rois", out.head_rois.numpy())
    fx.check_summary(f"{case}/head_roi_feats", out.head_roi_feats)
    fx.check(f"{case}/head_roi_embed", out.head_embed.numpy())
    fx.check(f"{case}/head_cls_logits", out.head_logits[:, None].numpy())
    assert out.clip_rois is not None
    assert out.clip_roi_feats is not None
    assert out.clip_embed is not None
    fx.check(f"{case}/clip_rois", out.clip_rois.numpy())
    fx.check_summary(f"{case}/clip_roi_feats", out.clip_roi_feats)
    fx.check(f"{case}/clip_attnpool", out.clip_embed.numpy())
    fx.check(f"{case}/clip_cls_logits", out.clip_logits[:, None].numpy())
    fx.check(f"{case}/fused_cls_logits", out.fused_logits[:, None].numpy())
    fx.check(f"{case}/head_top5", top_k(out.head_logits, 5)[1].numpy())
    _check_top5(fx, f"{case}/fused_top5", out.fused_logits)
    fx.check(f"{case}/labels", top_k(out.fused_logits, 1)[1][:, 0].numpy())


def test_predictor_preprocessing(fx: Fixture, light: Ovsam) -> None:
    """set_image's resize + normalisation of the stored frame equals the fixture's recipe."""
    predictor = OvsamPredictor(light, fx.vocabulary())
    x, size = predictor.prepare_image(fx.inputs["frames"][0])
    assert size == (1024, 1024)
    fx.check_summary("preprocess/input", x)
    wide, size = predictor.prepare_image(np.zeros((540, 960, 3), np.uint8))
    assert size == (576, 1024)
    assert wide.shape == (1, 3, 1024, 1024)
    assert torch.all(wide[:, :, 576:] == 0)


@pytest.mark.slow
def test_predictor_end_to_end(
    fx: Fixture, full: Ovsam, features: tuple[Any, dict[str, torch.Tensor]]
) -> None:
    """The public API on the 256x256 frame: box prompts (fused labels), points (head labels)."""
    predictor = OvsamPredictor(full, fx.vocabulary())
    predictor.set_features(features[0], (256, 256), (1024, 1024))
    spec = fx.manifest["cases"]["box"]
    out = predictor.predict(box=np.asarray(spec["boxes_256"]), top_k_labels=5)
    fx.check_masks("box/masks", out.masks)
    assert set(out.class_ids[0].tolist()) == set(fx.expected["box/fused_top5"][0].tolist())
    assert out.labels[0][0][0] == f"lvis_{fx.expected['box/labels'][0]}"
    assert np.all(np.diff(out.scores, axis=1) <= 0)
    points = np.asarray(fx.manifest["cases"]["point"]["points_256"])[:, None, :]
    head_only = predictor.predict(point_coords=points, use_clip=False)
    fx.check_masks("point/masks", head_only.masks)
    np.testing.assert_array_equal(head_only.class_ids, fx.expected["point/head_top5"])


def test_predictor_api_on_stored_embedding(fx: Fixture, light: Ovsam) -> None:
    """predict() with frame-pixel prompts on the stored embedding (FPN/C5 stand-ins: noise)."""
    gen = torch.Generator().manual_seed(0)
    fpn = [torch.randn(1, 256, 256 >> i, 256 >> i, generator=gen) for i in range(4)]
    features = ImageFeatures(
        c5=torch.randn(1, 3072, 32, 32, generator=gen),
        embedding=torch.from_numpy(fx.expected["features/neck_out_f16"].astype(np.float32)),
        fpn=fpn,
    )
    predictor = OvsamPredictor(light, fx.vocabulary())
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(box=np.array([0, 0, 10, 10]))
    predictor.set_features(features, (256, 256), (1024, 1024))
    out = predictor.predict(
        box=np.asarray(fx.manifest["cases"]["box"]["boxes_256"]), top_k_labels=3
    )
    fx.check_masks("box/masks", out.masks)
    assert out.masks.dtype == np.bool_
    assert out.class_ids.shape == out.scores.shape == (2, 3)
    assert len(out.labels) == 2
    assert all(name.startswith("lvis_") and 0.0 <= p <= 1.0 for name, p in out.labels[1])
    one = predictor.predict(point_coords=np.array([[106.0, 72.0]]), top_k_labels=1)
    assert one.masks.shape == (1, 256, 256)
    with pytest.raises(PromptError):
        predictor.predict()
