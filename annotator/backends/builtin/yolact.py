"""YOLACT as a Proposer: instance masks with COCO class names for a whole frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from annotator.backends.builtin import YOLACT_INFO, YOLACT_MODELS
from annotator.backends.device import resolve_device
from annotator.backends.weights import find_weights, missing_weights
from annotator.core.errors import BackendUnavailable
from annotator.core.types import MaskProposal
from annotator.nn.ops.noh import NOHHead, load_noh_head
from annotator.nn.yolact import COCO_CLASSES, load_yolact, predict
from annotator.nn.yolact.suppression import NOH_HEAD_NEEDED, SUPPRESSIONS

VARIANTS = YOLACT_MODELS
"""yolact_base, yolact_resnet50, yolact_plus_base, yolact_plus_resnet50 (manifest ids too)."""


def _present_variant() -> str:
    """The first variant whose released file is on this machine (yolact_base if none is)."""
    return next((v for v in VARIANTS if find_weights(v) is not None), VARIANTS[0])


class YolactProposer:
    """Official YOLACT / YOLACT++ checkpoint, the README demo's display filters by default.

    `variant` None takes the first of VARIANTS whose file is downloaded.

    `suppression` picks the NMS (`fast`, the official Fast NMS, by default; see
    `annotator.nn.yolact.suppression`); `noh` needs `noh_head`, a trained nearby-objects
    hallucinator head's state dict (none is released for YOLACT).
    """

    info = YOLACT_INFO
    class_names = COCO_CLASSES

    def __init__(self, variant: str | None = None, checkpoint: str | Path | None = None,
                 device: str = "auto", score_threshold: float = 0.15, top_k: int = 15,
                 suppression: str = "fast", noh_head: str | Path | None = None) -> None:
        variant = variant or _present_variant()
        if variant not in VARIANTS:
            raise BackendUnavailable(f"unknown YOLACT variant '{variant}': use one of {VARIANTS}")
        path = Path(checkpoint) if checkpoint else find_weights(variant)
        if path is None:
            raise BackendUnavailable(f"YOLACT is unavailable: {missing_weights(variant)}")
        self.device = resolve_device(device)
        self.suppression = "fast"
        self.noh_head: NOHHead | None = None
        self.set_suppression(suppression, noh_head)
        self.model = load_yolact(variant, path, self.device)
        self.model_version = path.name
        self.score_threshold = score_threshold
        self.top_k = top_k

    def set_suppression(self, suppression: str, noh_head: str | Path | None = None) -> None:
        """Choose the NMS for the next frames; `noh` loads the head file (CheckpointError if it
        is not one) and without a file raises BackendUnavailable saying how to give one."""
        if suppression not in SUPPRESSIONS:
            raise BackendUnavailable(f"unknown suppression '{suppression}': use one of "
                                     f"{SUPPRESSIONS}")
        head = None
        if suppression == "noh":
            if not noh_head:
                raise BackendUnavailable(NOH_HEAD_NEEDED)
            head = load_noh_head(noh_head).to(self.device)
        self.suppression, self.noh_head = suppression, head

    def propose(self, frame: np.ndarray) -> list[MaskProposal]:
        """Instances on an RGB uint8 frame, best first, with COCO class names."""
        with torch.inference_mode():
            found = predict(self.model, np.ascontiguousarray(frame), self.score_threshold,
                            self.top_k, self.suppression, self.noh_head)
        return [MaskProposal(d.mask, float(d.score), {"class_id": float(d.class_id)}, d.label)
                for d in found]


def create(**options: object) -> YolactProposer:
    """Registry factory."""
    return YolactProposer(**options)  # type: ignore[arg-type]
