"""CLIP (OpenAI layout: ViT or ModifiedResNet image and causal text towers, BPE tokenizer)
and MaskCLIP labels.

Entry points: `DenseClip.from_files(checkpoint, vocab)` for the app; `load_clip` for plain CLIP.
Submodules import torch; importing this package does too.
"""

from __future__ import annotations

from annotator.nn.clip.checkpoint import load_clip, read_clip_state_dict
from annotator.nn.clip.maskclip import DenseClip, EncodedFrame, LabelMap
from annotator.nn.clip.model import (
    CLIP,
    CLIP_NUMERICS,
    MASKCLIP_NUMERICS,
    RN50X16,
    VIT_B16,
    ClipConfig,
)
from annotator.nn.clip.resnet import ModifiedResNet
from annotator.nn.clip.tokenizer import ClipTokenizer, find_vocab

__all__ = [
    "CLIP",
    "CLIP_NUMERICS",
    "MASKCLIP_NUMERICS",
    "RN50X16",
    "VIT_B16",
    "ClipConfig",
    "ClipTokenizer",
    "DenseClip",
    "EncodedFrame",
    "LabelMap",
    "ModifiedResNet",
    "find_vocab",
    "load_clip",
    "read_clip_state_dict",
]
