"""YOLACT as a Proposer: instance masks with COCO class names for a whole frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from annotator.backends.builtin import YOLACT_INFO
from annotator.backends.device import resolve_device
from annotator.backends.weights import find_weights, missing_weights
from annotator.core.errors import BackendUnavailable
from annotator.core.types import MaskProposal
from annotator.nn.yolact import load_yolact, predict

VARIANTS = ("yolact_base", "yolact_resnet50")


class YolactProposer:
    """Official YOLACT checkpoint, Fast NMS, the README demo's display filters by default."""

    info = YOLACT_INFO

    def __init__(self, variant: str = "yolact_base", checkpoint: str | Path | None = None,
                 device: str = "auto", score_threshold: float = 0.15, top_k: int = 15) -> None:
        if variant not in VARIANTS:
            raise BackendUnavailable(f"unknown YOLACT variant '{variant}': use one of {VARIANTS}")
        path = Path(checkpoint) if checkpoint else find_weights(variant)
        if path is None:
            raise BackendUnavailable(f"YOLACT is unavailable: {missing_weights(variant)}")
        self.model = load_yolact(variant, path, resolve_device(device))
        self.model_version = path.name
        self.score_threshold = score_threshold
        self.top_k = top_k

    def propose(self, frame: np.ndarray) -> list[MaskProposal]:
        """Instances on an RGB uint8 frame, best first, with COCO class names."""
        with torch.inference_mode():
            found = predict(self.model, np.ascontiguousarray(frame), self.score_threshold,
                            self.top_k)
        return [MaskProposal(d.mask, float(d.score), {"class_id": float(d.class_id)}, d.label)
                for d in found]


def create(**options: object) -> YolactProposer:
    """Registry factory."""
    return YolactProposer(**options)  # type: ignore[arg-type]
