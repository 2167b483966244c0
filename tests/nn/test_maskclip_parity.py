"""CLIP ViT-B/16 + MaskCLIP parity with the official code (../shared/parity/maskclip_vitb16).

The deterministic fill of 150 M parameters dominates the run time (~25 s), so one module-scoped
model serves every case; the 448x448 dense case is `slow`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from annotator.nn.clip import CLIP, CLIP_NUMERICS, MASKCLIP_NUMERICS
from annotator.nn.clip.checkpoint import clip_from_state_dict
from annotator.nn.clip.maskclip import (
    DenseClip,
    class_embedding,
    cosine_logits,
    dense_forward,
    project,
    text_classifier,
)
from annotator.nn.clip.templates import SINGLE_TEMPLATE
from annotator.nn.clip.tokenizer import ClipTokenizer, find_vocab

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


class Fixture:
    """The fixture's arrays and a CLIP model holding its deterministic weights."""

    def __init__(self, root: Path) -> None:
        import detinit  # put on sys.path by the parity_dir fixture

        self.manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())
        self.frames = np.load(root / "inputs.npz")["frames"]
        self.expected = dict(np.load(root / "expected.npz"))
        self.shapes = {k: (tuple(s), d) for k, s, d, _ in self.manifest["keys"]}
        self.model = clip_from_state_dict(detinit.state_dict(self.shapes))
        self.tol: dict[str, Any] = self.manifest["tolerance"]["per_output"]
        self.rtol: float = self.manifest["tolerance"]["rtol"]

    def frame(self, size: int, mean: tuple[float, ...], std: tuple[float, ...], scale: float):
        """The fixture recipe: frame 0, bilinear to size x size on 0..1, *scale, normalise."""
        x = torch.from_numpy(self.frames[0:1]).to(torch.float32) / 255.0
        x = x.permute(0, 3, 1, 2).contiguous()
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) * scale
        return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)

    def check(self, name: str, actual: torch.Tensor | np.ndarray, tol: str | None = None) -> None:
        """Full output: |a - e| <= atol + rtol |e| (atol from the manifest)."""
        a = actual.detach().numpy() if isinstance(actual, torch.Tensor) else actual
        exp = self.expected[name]
        assert a.shape == exp.shape, name
        err = np.abs(a.astype(np.float64) - exp.astype(np.float64))
        atol = self.tol[tol or name]
        bound = atol + self.rtol * np.abs(exp.astype(np.float64))
        assert np.all(err <= bound), f"{name}: max err {err.max():.3g} (atol {atol})"

    def check_summary(self, name: str, tensor: torch.Tensor) -> None:
        """Big tensors: shape, mean, std and 4096 sampled elements."""
        a = tensor.detach().numpy()
        assert list(a.shape) == self.expected[f"{name}/shape"].tolist(), name
        a64 = a.astype(np.float64)
        for stat, value in (("mean", a64.mean()), ("std", a64.std())):
            err = abs(value - self.expected[f"{name}/{stat}"])
            assert err <= self.tol[f"{name}/{stat}"], f"{name}/{stat}: err {err:.3g}"
        sample = a.reshape(-1)[self.expected[f"{name}/sample_idx"]]
        self.check(f"{name}/sample", sample)


@pytest.fixture(scope="module")
def fx(parity_dir: Path) -> Fixture:
    return Fixture(parity_dir / "maskclip_vitb16")


def test_state_dict_layout_matches_official(parity_dir: Path) -> None:
    manifest = json.loads((parity_dir / "maskclip_vitb16" / "manifest.json").read_text())
    with torch.device("meta"):
        model = CLIP()
    ours = {
        k: (list(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in model.state_dict().items()
    }
    official = {k: (s, d) for k, s, d, _ in manifest["keys"]}
    assert ours == official
    assert sum(p.numel() for p in model.parameters()) == manifest["num_params"]


def test_text_encoder(fx: Fixture) -> None:
    tokens = torch.from_numpy(fx.expected["text/tokens"])
    with torch.inference_mode():
        fx.check("text/encode_text", fx.model.encode_text(tokens))
        fx.check("text/encode_text", fx.model.encode_text(tokens, trim=True))
        rows = torch.stack([class_embedding(fx.model, tokens[i : i + 1]) for i in range(3)])
    fx.check("text/embeddings", rows)


def test_text_classifier_from_class_names(fx: Fixture) -> None:
    vocab = find_vocab()
    if vocab is None:
        pytest.skip(
            "CLIP vocabulary absent: set ANNOTATOR_CLIP_VOCAB to bpe_simple_vocab_16e6.txt.gz"
        )
    classes = fx.manifest["cases"]["text"]["inputs"]["classes"]
    rows = text_classifier(fx.model, ClipTokenizer(vocab), classes, SINGLE_TEMPLATE)
    fx.check("text/embeddings", rows)


def test_clip_image(fx: Fixture) -> None:
    fx.model.visual.set_numerics(CLIP_NUMERICS)
    x = fx.frame(224, CLIP_MEAN, CLIP_STD, 1.0)
    tokens = torch.from_numpy(fx.expected["text/tokens"])
    with torch.inference_mode():
        fx.check("clip_image/image_features", fx.model.encode_image(x))
        per_image, per_text = fx.model(x, tokens)
    fx.check("clip_image/logits_per_image", per_image)
    fx.check("clip_image/logits_per_text", per_text)


@pytest.mark.parametrize("size", [224, pytest.param(448, marks=pytest.mark.slow)])
def test_dense(fx: Fixture, size: int) -> None:
    fx.model.visual.set_numerics(MASKCLIP_NUMERICS)
    x = fx.frame(size, IMAGENET_MEAN, IMAGENET_STD, 255.0)
    name = f"dense_{size}"
    with torch.inference_mode():
        feats = dense_forward(fx.model.visual, x)
        proj_v = project(fx.model.visual, feats.v)
        logits = cosine_logits(proj_v, torch.from_numpy(fx.expected["text/embeddings"]))
    for key, value in (("v", feats.v), ("x", feats.x), ("q", feats.q), ("k", feats.k)):
        fx.check_summary(f"{name}/{key}", value)
    fx.check_summary(f"{name}/proj_v", proj_v)
    if size == 224:
        fx.check(f"{name}/v", feats.v)
    else:
        fx.check(f"{name}/v_f16", feats.v.half().float().numpy().astype(np.float16))
    fx.check(f"{name}/logits", logits)
    up = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
    fx.check_summary(f"{name}/seg_logits_up", up)
    np.testing.assert_array_equal(
        up[0].argmax(0).numpy().astype(np.uint8), fx.expected[f"{name}/labels"]
    )


def test_dense_clip_api_matches_the_dense_path(fx: Fixture, tmp_path: Path) -> None:
    """label_map/heatmap = keep-ratio resize + the checked dense path + resize to the frame."""
    fx.model.visual.set_numerics(MASKCLIP_NUMERICS)
    tiny = tmp_path / "tiny.txt.gz"
    import gzip

    tiny.write_bytes(gzip.compress(b"header\np e\nb e\n"))
    dense = DenseClip(fx.model, ClipTokenizer(tiny), templates=SINGLE_TEMPLATE, short_side=112)
    rgb = np.ascontiguousarray(fx.frames[0, :128, :100])  # non-square: padded grid, pos resize
    names = ["person", "bed", "pillow"]
    frame = dense.encode(rgb)
    assert frame.input_hw == (143, 112)
    assert frame.image_hw == (128, 100)
    assert frame.features.shape == (1, 512, 9, 7)
    result = dense.label_map(frame, names)
    assert result.labels.shape == (128, 100)
    assert result.scores.shape == (3, 128, 100)
    np.testing.assert_allclose(result.scores.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(result.labels, result.scores.argmax(0))
    with torch.inference_mode():
        grid = cosine_logits(frame.features, dense.text_embeddings(names))
    small = F.interpolate(grid, size=(143, 112), mode="bilinear", align_corners=False)
    full = F.interpolate(small, size=(128, 100), mode="bilinear", align_corners=False)
    np.testing.assert_array_equal(result.labels, full[0].argmax(0).numpy())
    heat = dense.heatmap(frame, "bed")
    np.testing.assert_allclose(heat, full[0, 1].numpy(), atol=1e-6)
    against = dense.heatmap(frame, "bed", background=["person", "pillow"])
    np.testing.assert_allclose(
        against, F.softmax(full[0, [1, 0, 2]] * 100, dim=0)[0].numpy(), atol=1e-5
    )
