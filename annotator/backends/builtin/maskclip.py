"""DenseCLIP (MaskCLIP) as a TextGrounder: training-free dense labels from class names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotator.backends.builtin import MASKCLIP_INFO
from annotator.backends.device import resolve_device
from annotator.backends.weights import find_weights, missing_weights
from annotator.core.errors import BackendUnavailable
from annotator.core.types import DenseLabels
from annotator.nn.clip import DenseClip
from annotator.nn.clip.maskclip import EncodedFrame
from annotator.nn.clip.model import VIT_B16, ClipConfig
from annotator.nn.clip.tokenizer import find_vocab


def vocab_problem() -> str | None:
    """Why the tokenizer vocabulary cannot be found, or None."""
    if find_vocab() is not None:
        return None
    return missing_weights("clip_bpe_vocab")


def resolve_vocab() -> Path | None:
    """The vocabulary from $ANNOTATOR_CLIP_VOCAB / an installed CLIP package / the model cache."""
    return find_vocab() or find_weights("clip_bpe_vocab")


class DenseClipGrounder:
    """MaskCLIP dense labels with the official OpenAI CLIP ViT-B/16 weights."""

    info = MASKCLIP_INFO

    def __init__(self, model_id: str = "clip_vit_b16", checkpoint: str | Path | None = None,
                 vocab: str | Path | None = None, device: str = "auto",
                 short_side: int = 448, config: ClipConfig = VIT_B16) -> None:
        path = Path(checkpoint) if checkpoint else find_weights(model_id)
        vocab_path = Path(vocab) if vocab else resolve_vocab()
        if path is None or vocab_path is None:
            reason = missing_weights(model_id) if path is None else vocab_problem()
            raise BackendUnavailable(f"DenseCLIP is unavailable: {reason}")
        self.model = DenseClip.from_files(path, vocab_path, device=resolve_device(device),
                                          config=config, short_side=short_side)
        self.model_version = path.name
        self._encoded: tuple[object, EncodedFrame] | None = None

    def _encode(self, frame: np.ndarray, key: object) -> EncodedFrame:
        if key is not None and self._encoded is not None and self._encoded[0] == key:
            return self._encoded[1]
        encoded = self.model.encode(np.ascontiguousarray(frame))
        self._encoded = (key, encoded) if key is not None else None
        return encoded

    def label_map(self, frame: np.ndarray, class_names: Sequence[str], key: object = None
                  ) -> DenseLabels:
        """Per-pixel classes among `class_names` (add background names such as 'wall')."""
        out = self.model.label_map(self._encode(frame, key), list(class_names))
        return DenseLabels(out.labels, out.scores, tuple(out.class_names))

    def heatmap(self, frame: np.ndarray, phrase: str, background: Sequence[str] = (),
                key: object = None) -> np.ndarray:
        """Where the phrase is: a probability against `background` names, else a cosine map."""
        return self.model.heatmap(self._encode(frame, key), phrase, list(background))


def create(**options: object) -> DenseClipGrounder:
    """Registry factory."""
    return DenseClipGrounder(**options)  # type: ignore[arg-type]
