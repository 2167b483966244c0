"""Open-Vocabulary SAM as a Segmenter that also names what it segmented (top-k suggestions).

It is a Recognizer: `set_vocabulary(names)` classifies among any names (e.g. the project's
Labels), embedded by the CLIP RN50x16 text tower that ships among OVSAM's released files and
cached per name; `set_vocabulary(None)` goes back to the released vocabulary: LVIS v1 (1203
classes) from the released classifier file and the LVIS names when both are here, else COCO's
80 classes through the text tower.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from annotator.backends.builtin import OVSAM_FILES, OVSAM_INFO, ovsam_missing_files
from annotator.backends.builtin.lvis import find_lvis_names, read_lvis_names
from annotator.backends.builtin.maskclip import resolve_vocab, vocab_problem
from annotator.backends.device import resolve_device
from annotator.backends.weights import find_weights
from annotator.core.errors import BackendUnavailable, PromptError
from annotator.core.types import MaskProposal, Prompts, validate_prompts
from annotator.nn.clip import CLIP, ClipTokenizer, load_clip
from annotator.nn.clip.model import RN50X16
from annotator.nn.ovsam import (
    OvsamFiles,
    OvsamPredictor,
    Vocabulary,
    load_classifier_file,
    load_ovsam,
    text_vocabulary,
)
from annotator.nn.yolact import COCO_CLASSES

CLASSIFIER_ID = "ovsam_lvis_classifier"


class Vocabularies:
    """Released and named vocabularies for one CLIP text tower, each name embedded once."""

    def __init__(self, clip: CLIP, tokenizer: ClipTokenizer) -> None:
        self.clip, self.tokenizer = clip, tokenizer
        self._cache: dict[str, list[torch.Tensor]] = {}

    def named(self, names: Sequence[str]) -> Vocabulary:
        """Any names through the text tower (ViLD templates, synonyms split as gen_cls.py)."""
        return text_vocabulary(self.clip, self.tokenizer, list(names), cache=self._cache)

    def released(self) -> tuple[str, Vocabulary]:
        """(description, vocabulary): LVIS v1 as released when its classifier file and names
        are here (models `ovsam_lvis_classifier`, `lvis_v1_names`), else COCO's 80 classes."""
        names_path, classifier = find_lvis_names(), find_weights(CLASSIFIER_ID)
        if names_path is not None and classifier is not None:
            return "LVIS v1 (1203 classes)", load_classifier_file(classifier,
                                                                 read_lvis_names(names_path))
        return "COCO (80 classes)", self.named(COCO_CLASSES)


class OvsamSegmenter:
    """Masks from positive points or a box, each with ranked class suggestions."""

    info = OVSAM_INFO

    def __init__(self, vocabulary: Sequence[str] | None = None, device: str = "auto",
                 top_k: int = 5) -> None:
        problem = ovsam_missing_files() or vocab_problem()
        if problem:
            raise BackendUnavailable(f"Open-Vocabulary SAM is unavailable: {problem}")
        paths = {part: find_weights(model_id) for part, model_id in OVSAM_FILES.items()}
        files = OvsamFiles(**{k: Path(v) for k, v in paths.items() if v is not None})
        self.device = resolve_device(device)
        self.model_version = files.clip2sam.name
        self.vocabularies = Vocabularies(load_clip(files.clip, RN50X16),
                                         ClipTokenizer(resolve_vocab()))  # type: ignore[arg-type]
        self.vocabulary_name, vocab = self._resolve(vocabulary)
        self._names = tuple(vocabulary) if vocabulary else None
        self.predictor = OvsamPredictor(load_ovsam(files).to(self.device).eval(), vocab)
        self.top_k = top_k
        self._key: object = None
        self._shape: tuple[int, int] | None = None

    def _resolve(self, names: Sequence[str] | None) -> tuple[str, Vocabulary]:
        if not names:
            return self.vocabularies.released()
        return f"{len(names)} given names", self.vocabularies.named(names)

    def set_vocabulary(self, names: Sequence[str] | None) -> None:
        """Name proposals from these classes (e.g. the project's labels), or from the released
        vocabulary when None or empty; a no-op when unchanged."""
        wanted = tuple(names) if names else None
        if wanted == self._names:
            return
        self.vocabulary_name, vocab = self._resolve(wanted)
        self.predictor.set_vocabulary(vocab)
        self._names = wanted

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        """Run the backbone and necks (skipped when `key` is the frame encoded last)."""
        if key is None or key != self._key:
            self.predictor.set_image(np.ascontiguousarray(frame))
            self._key = key
        self._shape = (frame.shape[0], frame.shape[1])

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        """One mask with its top-k labels; the score is the top label's probability."""
        if self._shape is None:
            raise RuntimeError("set_frame() must be called before predict()")
        if any(not p.positive for p in prompts.points):
            raise PromptError("Open-Vocabulary SAM takes positive points and boxes only: "
                              "remove the negative points")
        if not prompts.points and prompts.box is None:
            raise PromptError("give at least one point or a box")
        validate_prompts(prompts, self._shape[1], self._shape[0])
        points = np.array([[p.x, p.y] for p in prompts.points], np.float32) if prompts.points \
            else None
        box = None
        if prompts.box is not None:
            b = prompts.box.normalized()
            box = np.array([b.x0, b.y0, b.x1, b.y1], np.float32)
        out = self.predictor.predict(points, box, top_k_labels=self.top_k)
        labels = out.labels[0]
        top_name, top_prob = labels[0] if labels else ("", 0.0)
        return [MaskProposal(out.masks[0], float(top_prob), {}, top_name, tuple(labels))]


def create(**options: object) -> OvsamSegmenter:
    """Registry factory."""
    return OvsamSegmenter(**options)  # type: ignore[arg-type]
