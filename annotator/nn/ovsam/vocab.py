"""OVSAM's class vocabulary: unit CLIP RN50x16 text embeddings, (K, P, 768) with P synonyms.

The official head reads a classifier file made by `tools/gen_cls.py` (`RN50x16_LVISV1Dataset.pth`
for LVIS; the HF Space ships it as `models/RN50x16_LVISV1Dataset.pth`). It holds no class names,
so the names come with it from the caller (LVIS v1 order). `text_vocabulary` makes the same
tensor for any list of names: each name split into synonyms (`_or_`, `/` -> `,`; `_` -> space;
lower case), each synonym put into the 14 ViLD templates, encoded by the RN50x16 text tower,
normalised, averaged and re-normalised; classes with fewer synonyms repeat their first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from annotator.core.errors import CheckpointError
from annotator.nn.clip.maskclip import class_embedding
from annotator.nn.clip.model import CLIP
from annotator.nn.clip.tokenizer import ClipTokenizer

# ViLD's prompt templates (as in OVSAM's ext/templates/vild.py; some lack the final period)
VILD_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "This is a photo of a {}",
    "There is a {} in the scene",
    "There is the {} in the scene",
    "a photo of a {} in the scene",
    "a photo of a small {}.",
    "a photo of a medium {}.",
    "a photo of a large {}.",
    "This is a photo of a small {}.",
    "This is a photo of a medium {}.",
    "This is a photo of a large {}.",
    "There is a small {} in the scene.",
    "There is a medium {} in the scene.",
    "There is a large {} in the scene.",
)


@dataclass(frozen=True)
class Vocabulary:
    """Class names and their (K, P, C) unit text embeddings.

    base_novel: optional (K,) int64, 1 = base (seen in training), 2 = novel, 0 = excluded:
    it picks the fusion weight per class (see `head.fuse_logits`); None treats all as novel.
    """

    names: tuple[str, ...]
    embeddings: torch.Tensor
    base_novel: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.embeddings.dim() != 3 or self.embeddings.shape[0] != len(self.names):
            raise ValueError(
                f"{len(self.names)} names but embeddings of shape {tuple(self.embeddings.shape)}"
            )
        if self.base_novel is not None and self.base_novel.shape != (len(self.names),):
            raise ValueError("base_novel must have one entry per class")


def split_synonyms(name: str) -> list[str]:
    """gen_cls.py's synonym split of a dataset class name (LVIS style)."""
    text = name.replace("_or_", ",").replace("/", ",").replace("_", " ").lower()
    parts = [p.strip() for p in text.split(",")]
    return [p for p in parts if p] or [name.strip().lower()]


def pad_synonyms(rows: list[list[torch.Tensor]]) -> torch.Tensor:
    """(K, P, C) from per-class synonym embeddings, padding with each class's first one."""
    width = max(len(r) for r in rows)
    return torch.stack([torch.stack(r + [r[0]] * (width - len(r))) for r in rows])


@torch.inference_mode()
def text_vocabulary(
    clip: CLIP,
    tokenizer: ClipTokenizer,
    names: Sequence[str],
    templates: Sequence[str] = VILD_TEMPLATES,
    cache: dict[str, list[torch.Tensor]] | None = None,
) -> Vocabulary:
    """A vocabulary for `names` from the RN50x16 CLIP text tower (one forward per synonym).

    `cache` (name -> its synonyms' embeddings) lets a caller embed each name only once across
    vocabularies; it must belong to one (clip, templates) pair."""
    device = clip.positional_embedding.device
    rows = []
    for name in names:
        row = cache.get(name) if cache is not None else None
        if row is None:
            row = []
            for synonym in split_synonyms(name):
                tokens = torch.from_numpy(tokenizer([t.format(synonym) for t in templates]))
                row.append(class_embedding(clip, tokens.to(device)).float().cpu())
            if cache is not None:
                cache[name] = row
        rows.append(row)
    return Vocabulary(tuple(names), pad_synonyms(rows))


def load_classifier_file(
    path: str | Path, names: Sequence[str], base_novel: torch.Tensor | None = None
) -> Vocabulary:
    """A gen_cls.py classifier file ((K, P, C) unit vectors) with its K class names."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"OVSAM classifier file {path} is missing")
    try:
        emb = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"cannot read classifier {path.name}: {exc}") from exc
    if not isinstance(emb, torch.Tensor) or emb.dim() != 3:
        raise CheckpointError(f"{path.name} is not a (K, P, C) class-embedding tensor")
    emb = emb.float()
    if not torch.allclose(emb.norm(dim=-1), torch.ones(emb.shape[:2]), atol=1e-3):
        raise CheckpointError(f"{path.name}: class embeddings are not unit vectors")
    if emb.shape[0] != len(names):
        raise CheckpointError(f"{path.name} has {emb.shape[0]} classes, {len(names)} names given")
    return Vocabulary(tuple(names), emb, base_novel)


__all__ = [
    "VILD_TEMPLATES",
    "Vocabulary",
    "load_classifier_file",
    "pad_synonyms",
    "split_synonyms",
    "text_vocabulary",
]
