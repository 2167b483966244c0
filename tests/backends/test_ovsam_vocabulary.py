"""Open-Vocabulary SAM's vocabularies: the LVIS v1 names read from the mmdetection wheel, the
released LVIS classifier paired with them, and named vocabularies through a (tiny) CLIP text
tower, each name embedded once."""

from __future__ import annotations

import gzip
import os
import zipfile
from pathlib import Path

import pytest
import torch

from annotator.backends.builtin.lvis import ENV_NAMES, find_lvis_names, read_lvis_names
from annotator.backends.builtin.ovsam import Vocabularies
from annotator.backends.weights import ENV_DIR, get_manifest, sha256_file
from annotator.core.errors import CheckpointError
from annotator.nn.clip.model import CLIP, ClipConfig
from annotator.nn.clip.tokenizer import ClipTokenizer
from annotator.nn.yolact import COCO_CLASSES


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(ENV_DIR, str(folder))
    monkeypatch.delenv(ENV_NAMES, raising=False)
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Vocabularies:
    """A tiny random CLIP text tower and a byte-level tokenizer (no merges)."""
    vocab_path = tmp_path / "bpe_bytes_only.txt.gz"
    vocab_path.write_bytes(gzip.compress(b"#version: 0.2\n"))
    tokenizer = ClipTokenizer(vocab_path)
    torch.manual_seed(0)
    config = ClipConfig(16, 64, (1, 1, 1, 1), 8, 0, 77, tokenizer.eot_id + 1, 16, 1, 1)
    return Vocabularies(CLIP(config).eval(), tokenizer)


def fake_names(n: int = 1203) -> list[str]:
    return [f"class_{i}" for i in range(n)]


def write_classifier(path: Path, n: int = 1203, width: int = 16) -> torch.Tensor:
    emb = torch.nn.functional.normalize(torch.randn(n, 2, width), dim=-1)
    torch.save(emb, path)
    return emb


@pytest.mark.skipif(not os.environ.get(ENV_NAMES), reason="`make test` downloads the mmdet wheel")
def test_names_from_the_mmdetection_wheel() -> None:
    path = find_lvis_names()
    assert path is not None
    manifest = get_manifest("lvis_v1_names")
    assert path.name == manifest.file_name
    assert path.stat().st_size == manifest.size_bytes
    assert sha256_file(path) == manifest.sha256
    names = read_lvis_names(path)
    assert len(names) == 1203 and len(set(names)) == 1203
    assert names[:3] == ("aerosol_can", "air_conditioner", "airplane")
    assert names[-2:] == ("zebra", "zucchini")
    assert "arctic_(type_of_shoe)" in names and "Band_Aid" in names


def test_names_file_errors(tmp_path: Path) -> None:
    text = tmp_path / "names.txt"
    text.write_text("\n".join(fake_names()) + "\n")
    assert read_lvis_names(text)[-1] == "class_1202"
    text.write_text("\n".join(fake_names(80)))
    with pytest.raises(CheckpointError, match=r"80 class names .* not the 1203"):
        read_lvis_names(text)
    wheel = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("other/__init__.py", "")
    with pytest.raises(CheckpointError, match="annotator models get lvis_v1_names"):
        read_lvis_names(wheel)
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mmdet/datasets/lvis.py", "class LVISV05Dataset:\n    METAINFO = {}\n")
    with pytest.raises(CheckpointError, match="no LVISV1Dataset"):
        read_lvis_names(wheel)


def test_released_is_lvis_with_classifier_and_names(models: Path, tiny: Vocabularies,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    names = models / "names.txt"
    names.write_text("\n".join(fake_names()))
    monkeypatch.setenv(ENV_NAMES, str(names))
    emb = write_classifier(models / get_manifest("ovsam_lvis_classifier").file_name)
    title, vocab = tiny.released()
    assert title == "LVIS v1 (1203 classes)"
    assert vocab.names == tuple(fake_names())
    torch.testing.assert_close(vocab.embeddings, emb)


def test_released_falls_back_to_coco_without_lvis(models: Path, tiny: Vocabularies) -> None:
    write_classifier(models / get_manifest("ovsam_lvis_classifier").file_name)  # names missing
    title, vocab = tiny.released()
    assert title == "COCO (80 classes)"
    assert vocab.names == COCO_CLASSES
    assert vocab.embeddings.shape[0] == 80
    torch.testing.assert_close(vocab.embeddings.norm(dim=-1),
                               torch.ones(vocab.embeddings.shape[:2]))


def test_named_vocabularies_embed_each_name_once(tiny: Vocabularies) -> None:
    first = tiny.named(["cat", "dog_or_puppy"])
    assert first.embeddings.shape == (2, 2, 16)
    again = tiny.named(["dog_or_puppy", "Tomato"])  # one new name
    assert set(tiny._cache) == {"cat", "dog_or_puppy", "Tomato"}
    torch.testing.assert_close(again.embeddings[0], first.embeddings[1])
    assert torch.equal(again.embeddings[1, 0], again.embeddings[1, 1])  # padded with its first
