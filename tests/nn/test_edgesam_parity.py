"""EdgeSAM parity: our model against the official one (fixture ../shared/parity/edgesam)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from annotator.core.errors import CheckpointError
from annotator.nn.edgesam import EdgeSam, EdgeSamPredictor, build_edge_sam, load_edge_sam

STAGES = ("stem", "stage0", "stage1", "stage2", "stage3", "neck_input", "embedding")


class Fixture:
    """The fixture's arrays and a model loaded with its deterministic weights."""

    def __init__(self, root: Path) -> None:
        import detinit  # put on sys.path by the parity_dir fixture

        self.manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())
        self.inputs = dict(np.load(root / "inputs.npz"))
        self.expected = dict(np.load(root / "expected.npz"))
        self.shapes = {k: (tuple(s), d) for k, s, d, _ in self.manifest["keys"]}
        self.state = detinit.state_dict(self.shapes)
        explicit = np.load(root / "explicit.npz")
        for key in self.manifest["explicit"]:
            self.state[key] = torch.from_numpy(explicit[key])
        self.model = build_edge_sam()
        self.model.load_state_dict(self.state, strict=True)
        self.tol: dict[str, Any] = self.manifest["tolerance"]["per_output"]
        self.rtol: float = self.manifest["tolerance"]["rtol"]

    def recipe(self, k: int) -> torch.Tensor:
        """The fixture's preprocessing recipe: 256x256 uint8 -> 1x3x1024x1024 0..255 float."""
        x = torch.from_numpy(self.inputs["frames"][k : k + 1]).to(torch.float32) / 255.0
        x = x.permute(0, 3, 1, 2).contiguous()
        x = torch.nn.functional.interpolate(
            x, size=(1024, 1024), mode="bilinear", align_corners=False
        )
        return x * 255.0

    def check(self, name: str, actual: np.ndarray) -> None:
        """Compare a full output with `|a - e| <= atol + rtol |e|`."""
        exp = self.expected[name]
        assert actual.shape == exp.shape, name
        err = np.abs(actual.astype(np.float64) - exp)
        bound = self.tol[name] + self.rtol * np.abs(exp)
        assert np.all(err <= bound), f"{name}: max err {err.max():.3g} (atol {self.tol[name]})"

    def check_summary(self, name: str, tensor: torch.Tensor) -> None:
        """Compare shape, mean, std and the sampled elements of a big tensor."""
        a = tensor.detach().numpy()
        assert list(a.shape) == self.expected[f"{name}/shape"].tolist(), name
        a64 = a.astype(np.float64)
        self.check(f"{name}/mean", np.asarray(a64.mean()))
        self.check(f"{name}/std", np.asarray(a64.std()))
        self.check(f"{name}/sample", a.reshape(-1)[self.expected[f"{name}/sample_idx"]])


@pytest.fixture(scope="module")
def fx(parity_dir: Path) -> Fixture:
    return Fixture(parity_dir / "edgesam")


@pytest.fixture(scope="module")
def stages_f0(fx: Fixture) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return fx.model.image_encoder.forward_stages(fx.model.preprocess(fx.recipe(0)))


@pytest.fixture(scope="module")
def predictor_f0(fx: Fixture, stages_f0: dict[str, torch.Tensor]) -> EdgeSamPredictor:
    predictor = EdgeSamPredictor(fx.model)
    predictor.set_embedding(stages_f0["embedding"], (256, 256), (1024, 1024))
    return predictor


def test_state_dict_layout(fx: Fixture) -> None:
    own = {
        k: (tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in fx.model.state_dict().items()
    }
    assert own == fx.shapes
    assert len(own) == fx.manifest["num_keys"]
    assert sum(p.numel() for p in fx.model.parameters()) == fx.manifest["num_params"]


@pytest.mark.parametrize("stage", STAGES)
def test_encoder_stages_f0(fx: Fixture, stages_f0: dict[str, torch.Tensor], stage: str) -> None:
    fx.check_summary(f"image_encoder/f0/{stage}", stages_f0[stage])


def test_embedding_f16(fx: Fixture, stages_f0: dict[str, torch.Tensor]) -> None:
    fx.check("image_encoder/f0/embedding_f16", stages_f0["embedding"].half().float().numpy())


@pytest.mark.slow
def test_set_torch_image_f100(fx: Fixture) -> None:
    predictor = EdgeSamPredictor(fx.model)
    features = predictor.set_torch_image(fx.recipe(1), (256, 256))
    assert predictor.input_size == (1024, 1024)
    assert predictor.original_size == (256, 256)
    fx.check_summary("image_encoder/f100/embedding", features)


def _prompts(fx: Fixture, case: dict[str, Any]) -> dict[str, Any]:
    def arr(v: Any) -> np.ndarray | None:
        return None if v is None else np.asarray(v, dtype=np.float32)

    mask = None
    if case["mask_input"] is not None:
        mask = fx.expected["predict_box/low_res_logits"][0:1]
    labels = case["point_labels"]
    return {
        "point_coords": arr(case["point_coords_256"]),
        "point_labels": None if labels is None else np.asarray(labels),
        "box": arr(case["box_256"]),
        "mask_input": mask,
        "num_multimask_outputs": case["num_multimask_outputs"],
    }


PROMPT_CASES = (
    "predict_point_multimask4",
    "predict_point_multimask3",
    "predict_box",
    "predict_points_posneg",
    "predict_box_point",
    "predict_points_posneg_maskin",
)


@pytest.mark.parametrize("cached", [True, False], ids=["frame-context", "plain-decoder"])
@pytest.mark.parametrize("case", PROMPT_CASES)
def test_prompt_case(
    fx: Fixture, predictor_f0: EdgeSamPredictor, case: str, cached: bool
) -> None:
    """Every case through the per-frame decoder context (what the app runs) and without it
    (the official layer-by-layer computation)."""
    spec = fx.manifest["cases"][case]
    context = predictor_f0.context
    if not cached:
        predictor_f0.context = None
    try:
        out = predictor_f0.predict(**_prompts(fx, spec), return_logits=True, rank=False)
    finally:
        predictor_f0.context = context
    fx.check(f"{case}/low_res_logits", out.low_res_logits)
    fx.check(f"{case}/iou_predictions", out.iou_predictions)
    fx.check(f"{case}/stability_scores", out.stability_scores)
    fx.check(f"{case}/masks_logits", out.masks)


def test_ranked_by_stability(fx: Fixture, predictor_f0: EdgeSamPredictor) -> None:
    prompts = _prompts(fx, fx.manifest["cases"]["predict_point_multimask4"])
    plain = predictor_f0.predict(**prompts, rank=False)
    ranked = predictor_f0.predict(**prompts)
    assert list(plain.token_indices) == [0, 1, 2, 3]
    assert np.all(np.diff(ranked.stability_scores) <= 0)
    assert ranked.token_indices[0] == int(
        np.argmax(fx.expected["predict_point_multimask4/stability_scores"])
    )
    for i, token in enumerate(ranked.token_indices):
        np.testing.assert_array_equal(ranked.masks[i], plain.masks[token])
        assert ranked.iou_predictions[i] == plain.iou_predictions[token]
    assert ranked.masks.dtype == np.bool_
    expected_binary = fx.expected["predict_point_multimask4/masks_logits"] > 0.0
    agree = (plain.masks == expected_binary).mean()
    assert agree > 0.9999


def test_multimask3_tokens(fx: Fixture, predictor_f0: EdgeSamPredictor) -> None:
    prompts = _prompts(fx, fx.manifest["cases"]["predict_point_multimask3"])
    out = predictor_f0.predict(**prompts, rank=False)
    assert list(out.token_indices) == [1, 2, 3]
    with pytest.raises(ValueError, match="num_multimask_outputs"):
        predictor_f0.predict(**{**prompts, "num_multimask_outputs": 2})


@pytest.fixture(scope="module")
def fused(fx: Fixture) -> EdgeSam:
    return copy.deepcopy(fx.model).fuse()


def test_fused_encoder_matches(
    fx: Fixture, fused: EdgeSam, stages_f0: dict[str, torch.Tensor]
) -> None:
    assert not any(".bn." in k for k in fused.state_dict())
    with torch.no_grad():
        emb = fused.image_encoder(fused.preprocess(fx.recipe(0)))
    assert (emb - stages_f0["embedding"]).abs().max().item() < 1e-4
    fx.check_summary("image_encoder/f0/embedding", emb)


@pytest.mark.parametrize("case", PROMPT_CASES)
def test_fused_decoder_case(
    fx: Fixture, fused: EdgeSam, stages_f0: dict[str, torch.Tensor], case: str
) -> None:
    """The fused model's factorised attention still meets every prompt case."""
    predictor = EdgeSamPredictor(fused)
    predictor.set_embedding(stages_f0["embedding"], (256, 256), (1024, 1024))
    out = predictor.predict(
        **_prompts(fx, fx.manifest["cases"][case]), return_logits=True, rank=False
    )
    fx.check(f"{case}/low_res_logits", out.low_res_logits)
    fx.check(f"{case}/iou_predictions", out.iou_predictions)
    fx.check(f"{case}/masks_logits", out.masks)


def test_reference_upscaling_matches(fx: Fixture, predictor_f0: EdgeSamPredictor) -> None:
    """The GEMM upscaling agrees with the official ConvTranspose2d modules."""
    prompts = _prompts(fx, fx.manifest["cases"]["predict_point_multimask4"])
    fast = predictor_f0.predict(**prompts, return_logits=True, rank=False)
    decoder = fx.model.mask_decoder
    decoder.fast_upscaling = False
    try:
        ref = predictor_f0.predict(**prompts, return_logits=True, rank=False)
    finally:
        decoder.fast_upscaling = True
    np.testing.assert_allclose(fast.low_res_logits, ref.low_res_logits, atol=1e-5, rtol=0)
    fx.check("predict_point_multimask4/low_res_logits", ref.low_res_logits)


@pytest.mark.parametrize(
    ("input_size", "original_size"),
    [
        ((1024, 1024), (256, 256)),
        ((576, 1024), (720, 1280)),
        ((1024, 683), (1080, 720)),
        ((768, 1024), (192, 256)),
        ((1, 1024), (1, 3000)),
    ],
)
def test_postprocess_crop_is_exact(
    input_size: tuple[int, int], original_size: tuple[int, int]
) -> None:
    model = build_edge_sam()
    logits = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    fast = model.postprocess_masks(logits, input_size, original_size)
    ref = model.postprocess_masks_reference(logits, input_size, original_size)
    assert fast.shape == (1, 3, *original_size)
    assert torch.equal(fast, ref)


def test_full_res_masks_subset(fx: Fixture, predictor_f0: EdgeSamPredictor) -> None:
    prompts = _prompts(fx, fx.manifest["cases"]["predict_point_multimask4"])
    full = predictor_f0.predict(**prompts)
    top = predictor_f0.predict(**prompts, full_res_masks=1)
    assert top.masks.shape == (1, 256, 256)
    np.testing.assert_array_equal(top.masks[0], full.masks[0])
    assert top.low_res_logits.shape == (4, 256, 256)
    none = predictor_f0.predict(**prompts, full_res_masks=0)  # the decoder's output only
    assert none.masks.shape == (0, 256, 256)
    np.testing.assert_array_equal(none.stability_scores, full.stability_scores)


@pytest.mark.slow
def test_set_image_non_square(fx: Fixture) -> None:
    frame = np.ascontiguousarray(fx.inputs["frames"][0][:192])  # 192 x 256 -> 768 x 1024
    predictor = EdgeSamPredictor(fx.model)
    features = predictor.set_image(frame)
    assert features.shape == (1, 256, 64, 64)
    assert predictor.input_size == (768, 1024)
    out = predictor.predict(np.array([[106.0, 72.0]]), np.array([1]), num_multimask_outputs=4)
    assert out.masks.shape == (4, 192, 256)
    assert out.low_res_logits.shape == (4, 256, 256)
    assert np.isfinite(out.low_res_logits).all()
    # the padded bottom rows of the 1024 input are cropped away before resizing back
    assert predictor.original_size == (192, 256)


def test_load_checkpoint_file(fx: Fixture, tmp_path: Path) -> None:
    path = tmp_path / "edge_sam.pth"
    state = dict(fx.state)
    state["pixel_mean"] = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    state["pixel_std"] = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    torch.save(state, path)
    model = load_edge_sam(path)
    assert isinstance(model, EdgeSam)
    key = "mask_decoder.iou_prediction_head.layers.2.weight"
    torch.testing.assert_close(model.state_dict()[key], fx.state[key], rtol=0, atol=0)


def test_wrong_keys_raise(fx: Fixture, tmp_path: Path) -> None:
    state = dict(fx.state)
    state["image_encoder.extra.weight"] = torch.zeros(3)
    del state["mask_decoder.iou_token.weight"]
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_edge_sam(path)
    msg = str(info.value)
    assert "1 missing keys: mask_decoder.iou_token.weight" in msg
    assert "1 unexpected keys: image_encoder.extra.weight" in msg
    assert "\n" not in msg


def test_wrong_shape_raises(fx: Fixture, tmp_path: Path) -> None:
    state = dict(fx.state)
    state["mask_decoder.mask_tokens.weight"] = torch.zeros(3, 256)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="mask_tokens"):
        load_edge_sam(path)


def test_corrupt_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pth"
    path.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError):
        load_edge_sam(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_edge_sam(tmp_path / "absent.pth")
