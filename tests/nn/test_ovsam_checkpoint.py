"""OVSAM loading from the released files' layouts, errors, and the text vocabulary.

The file layouts come from the parity fixture's `sources` (prefix maps checked against the
official loaders), not from our own tables. Tensors live on the `meta` device, so the 993-key
model is checked without allocating its 1.2 GB.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from annotator.core.errors import CheckpointError
from annotator.nn.clip.model import CLIP, ClipConfig
from annotator.nn.clip.resnet import AttentionPool2d
from annotator.nn.clip.tokenizer import ClipTokenizer
from annotator.nn.ovsam import (
    Ovsam,
    OvsamFiles,
    Vocabulary,
    load_classifier_file,
    load_ovsam,
    load_ovsam_from_state_dicts,
    split_synonyms,
    text_vocabulary,
)
from annotator.nn.ovsam.backbone import pool_mean_token
from annotator.nn.ovsam.checkpoint import load_source, read_tensor_dict
from annotator.nn.ovsam.vocab import VILD_TEMPLATES, pad_synonyms

# fixture source name -> our loader's source name
SOURCE_NAMES = {"sam2clip": "sam2clip", "clip2sam": "clip2sam", "sam_vit_h": "sam",
                "openai_rn50x16": "clip"}  # fmt: skip


def _to_file_key(key: str, prefix_map: list[list[str]]) -> str:
    for model_prefix, file_prefix in prefix_map:
        if key.startswith(model_prefix):
            return file_prefix + key[len(model_prefix) :]
    raise AssertionError(f"{key} has no prefix in {prefix_map}")


@pytest.fixture(scope="module")
def file_layouts(parity_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    """{our source: {file key: meta tensor}} as the released files hold them."""
    manifest: dict[str, Any] = json.loads((parity_dir / "ovsam" / "manifest.json").read_text())
    shapes = {k: (s, d) for k, s, d, _ in manifest["keys"]}
    out: dict[str, dict[str, torch.Tensor]] = {}
    for name, ours in SOURCE_NAMES.items():
        src = manifest["sources"][name]
        layout = {}
        for key in src["model_keys"]:
            shape, dtype = shapes[key]
            layout[_to_file_key(key, src["prefix_map"])] = torch.empty(
                shape, dtype=getattr(torch, dtype), device="meta"
            )
        for extra in src["file_keys_not_used"]:  # e.g. the CLIP text tower
            layout[extra] = torch.empty(1, device="meta")
        out[ours] = layout
    out["sam"]["image_encoder.pos_embed"] = torch.empty(1, device="meta")  # ignored, as officially
    return out


@pytest.fixture(scope="module")
def loaded(file_layouts: dict[str, dict[str, torch.Tensor]]) -> Ovsam:
    """OVSAM assembled from all four layouts (strict per part); errors leave it untouched."""
    return load_ovsam_from_state_dicts(file_layouts)


def test_all_sources_load_strictly(loaded: Ovsam) -> None:
    assert len(loaded.state_dict()) == 993
    assert not any(p.requires_grad for p in loaded.parameters())


def test_missing_and_unexpected_keys_are_named(
    file_layouts: dict[str, dict[str, torch.Tensor]], loaded: Ovsam
) -> None:
    neck = dict(file_layouts["sam2clip"])
    del neck["neck_student.blocks.4.attn.rel_pos_h"]
    neck["neck_student.extra.weight"] = torch.empty(1, device="meta")
    with pytest.raises(
        CheckpointError, match=r"f\.pth \(neck\).*missing.*blocks\.4\.attn\.rel_pos_h"
    ):
        load_source(loaded, "sam2clip", neck, "f.pth")
    with pytest.raises(CheckpointError, match=r"unexpected.*extra\.weight"):
        load_source(loaded, "sam2clip", neck, "f.pth")


def test_wrong_shape_and_wrong_file(
    file_layouts: dict[str, dict[str, torch.Tensor]], loaded: Ovsam
) -> None:
    head = dict(file_layouts["clip2sam"])
    head["mask_decoder.mask_decoder.mask_tokens.weight"] = torch.empty(4, 256, device="meta")
    with pytest.raises(CheckpointError, match=r"wrong shapes.*mask_tokens"):
        load_source(loaded, "clip2sam", head, "clip2sam_lvis_rn50x16.pth")
    with pytest.raises(CheckpointError, match=r"no keys under neck_student"):
        load_source(loaded, "sam2clip", file_layouts["clip2sam"], "clip2sam_lvis_rn50x16.pth")
    with pytest.raises(CheckpointError, match=r"needs the 'clip' file"):
        load_ovsam_from_state_dicts({k: v for k, v in file_layouts.items() if k != "clip"})


def test_real_values_reach_their_modules(
    file_layouts: dict[str, dict[str, torch.Tensor]], loaded: Ovsam
) -> None:
    """clip2sam with distinct values: every tensor lands on the key the prefix map names."""
    model = loaded
    real = {
        k: torch.arange(v.numel(), dtype=torch.float32).reshape(v.shape) + i
        for i, (k, v) in enumerate(file_layouts["clip2sam"].items())
    }
    load_source(model, "clip2sam", real, "clip2sam")
    own = model.state_dict()
    for key, value in real.items():
        assert torch.equal(own[key], value), key


def test_missing_and_garbage_files(tmp_path: Path) -> None:
    garbage = tmp_path / "clip2sam_lvis_rn50x16.pth"
    garbage.write_bytes(b"not a checkpoint")
    files = OvsamFiles(
        sam2clip=tmp_path / "sam2clip_vith_rn50x16.pth",
        clip2sam=garbage,
        sam=tmp_path / "sam_vit_h_4b8939.pth",
        clip=tmp_path / "RN50x16.pt",
    )
    with pytest.raises(CheckpointError, match=r"sam2clip_vith_rn50x16\.pth is missing"):
        load_ovsam(files)
    with pytest.raises(CheckpointError, match=r"cannot read OVSAM file clip2sam_lvis"):
        read_tensor_dict(garbage)
    torch.save({"neck_student.pos_embed": torch.zeros(1)}, files.sam2clip)
    with pytest.raises(CheckpointError, match=r"sam2clip_vith_rn50x16.pth \(neck\).*missing"):
        load_ovsam(files)


def test_synonyms_and_padding() -> None:
    assert split_synonyms("tape_(sticky_cloth_or_paper)") == ["tape (sticky cloth", "paper)"]
    assert split_synonyms("Bow_(weapon)") == ["bow (weapon)"]
    assert split_synonyms("person/people") == ["person", "people"]
    a, b, c = torch.eye(3)
    padded = pad_synonyms([[a], [b, c]])
    assert padded.shape == (2, 2, 3)
    assert torch.equal(padded[0, 1], a)
    assert len(VILD_TEMPLATES) == 14


def test_classifier_file(tmp_path: Path) -> None:
    emb = torch.nn.functional.normalize(torch.randn(3, 2, 768), dim=-1)
    path = tmp_path / "RN50x16_test.pth"
    torch.save(emb, path)
    vocab = load_classifier_file(path, ["a", "b", "c"])
    assert vocab.embeddings.shape == (3, 2, 768)
    with pytest.raises(CheckpointError, match="3 classes, 2 names"):
        load_classifier_file(path, ["a", "b"])
    torch.save(emb * 2, path)
    with pytest.raises(CheckpointError, match="unit vectors"):
        load_classifier_file(path, ["a", "b", "c"])
    with pytest.raises(ValueError, match="names"):
        Vocabulary(("a",), emb)


def test_text_vocabulary_tiny_clip(tmp_path: Path) -> None:
    """A tiny random CLIP (ModifiedResNet tower) and a byte-level tokenizer without merges."""
    vocab_path = tmp_path / "bpe_bytes_only.txt.gz"
    vocab_path.write_bytes(gzip.compress(b"#version: 0.2\n"))
    tokenizer = ClipTokenizer(vocab_path)
    tiny = ClipConfig(32, 64, (1, 1, 1, 1), 8, 0, 77, tokenizer.eot_id + 1, 32, 2, 1)
    torch.manual_seed(0)
    clip = CLIP(tiny).eval()
    vocab = text_vocabulary(clip, tokenizer, ["cat", "dog_or_puppy"])
    assert vocab.embeddings.shape == (2, 2, 32)
    torch.testing.assert_close(vocab.embeddings.norm(dim=-1), torch.ones(2, 2))
    assert torch.equal(vocab.embeddings[0, 0], vocab.embeddings[0, 1])  # padded with "cat"
    assert not torch.allclose(vocab.embeddings[1, 0], vocab.embeddings[1, 1])


def test_factorised_attention_pool_matches_official() -> None:
    """The CLIP branch's folded attention pool equals the official one at RN50x16 size."""
    torch.manual_seed(0)
    pool = AttentionPool2d(12, 3072, 48, 768).eval()
    x = torch.randn(2, 3072, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(pool_mean_token(pool, x), pool(x), atol=1e-4, rtol=1e-4)
