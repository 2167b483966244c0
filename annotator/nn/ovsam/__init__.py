"""Open-Vocabulary SAM (HarborYuan/ovsam): point/box prompts -> a mask and a class per prompt.

Entry points: `load_ovsam(OvsamFiles(...))` assembles the model from the four released files;
`OvsamPredictor(model, vocabulary)` with `set_image` (once per frame) and `predict` (per
prompt). Vocabularies come from a classifier file (`load_classifier_file`) or from class names
through the CLIP RN50x16 text tower (`text_vocabulary`). Submodules import torch.
"""

from __future__ import annotations

from annotator.nn.ovsam.checkpoint import (
    OvsamFiles,
    build_ovsam_meta,
    load_ovsam,
    load_ovsam_from_state_dicts,
)
from annotator.nn.ovsam.model import Decoded, ImageFeatures, Ovsam, postprocess_masks
from annotator.nn.ovsam.predictor import OvsamPrediction, OvsamPredictor
from annotator.nn.ovsam.vocab import (
    VILD_TEMPLATES,
    Vocabulary,
    load_classifier_file,
    split_synonyms,
    text_vocabulary,
)

__all__ = [
    "VILD_TEMPLATES",
    "Decoded",
    "ImageFeatures",
    "Ovsam",
    "OvsamFiles",
    "OvsamPrediction",
    "OvsamPredictor",
    "Vocabulary",
    "build_ovsam_meta",
    "load_classifier_file",
    "load_ovsam",
    "load_ovsam_from_state_dicts",
    "postprocess_masks",
    "split_synonyms",
    "text_vocabulary",
]
