"""EdgeSAM as a Segmenter: one encoder pass per frame, a fast decoder per prompt.

Candidates are ranked by stability score (EdgeSAM's IoU head was not distilled, so it is kept
only as extra information). A small LRU of embeddings (each with its decoder context, the
prompt-independent half of the decoder's first layer) lets the UI encode the neighbouring frames
ahead of time and switch back without re-encoding.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from annotator.backends.builtin import EDGESAM_INFO
from annotator.backends.device import resolve_device
from annotator.backends.weights import find_weights, missing_weights
from annotator.core.errors import BackendUnavailable, PromptError
from annotator.core.types import MaskProposal, Prompts, validate_prompts
from annotator.nn.edgesam.build import load_edge_sam
from annotator.nn.edgesam.predictor import EdgeSamPredictor
from annotator.nn.sam.transformer import ImageContext

POINT_CANDIDATES = 4
"""Clicks decode all four mask tokens, as EdgeSAM's demo does; boxes use SAM's three."""
BOX_CANDIDATES = 3


class EdgeSamSegmenter:
    """Segmenter backed by the official EdgeSAM checkpoint."""

    info = EDGESAM_INFO

    def __init__(self, model_id: str = "edge_sam", checkpoint: str | Path | None = None,
                 device: str = "auto", cache_size: int = 3) -> None:
        path = Path(checkpoint) if checkpoint else find_weights(model_id)
        if path is None:
            raise BackendUnavailable(f"EdgeSAM is unavailable: {missing_weights(model_id)}")
        self.device = resolve_device(device)
        model = load_edge_sam(path, fuse=True).to(self.device).eval()
        self.predictor = EdgeSamPredictor(model)
        self.model_version = path.name
        self._cache: OrderedDict[object, tuple[torch.Tensor, tuple[int, int], tuple[int, int],
                                               ImageContext | None]] = OrderedDict()
        self._cache_size = cache_size
        self._shape: tuple[int, int] | None = None

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        """Encode the frame, or restore its embedding when `key` was seen recently."""
        self._shape = (frame.shape[0], frame.shape[1])
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            self.predictor.set_embedding(*self._cache[key])
            return
        self.predictor.set_image(np.ascontiguousarray(frame))
        if key is not None:
            p = self.predictor
            assert p.original_size is not None
            assert p.input_size is not None
            self._cache[key] = (p.get_image_embedding(), p.original_size, p.input_size, p.context)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        """Candidates for points and/or a box, best stability score first."""
        if self._shape is None:
            raise RuntimeError("set_frame() must be called before predict()")
        if not prompts.points and prompts.box is None:
            raise PromptError("give at least one point or a box")
        validate_prompts(prompts, self._shape[1], self._shape[0])
        coords = labels = box = None
        if prompts.points:
            coords = np.array([[p.x, p.y] for p in prompts.points], np.float32)
            labels = np.array([1 if p.positive else 0 for p in prompts.points], np.float32)
        if prompts.box is not None:
            b = prompts.box.normalized()
            box = np.array([b.x0, b.y0, b.x1, b.y1], np.float32)
        out = self.predictor.predict(coords, labels, box, None,
                                     BOX_CANDIDATES if box is not None else POINT_CANDIDATES)
        return [MaskProposal(out.masks[i], float(out.stability_scores[i]),
                             {"iou": float(out.iou_predictions[i])})
                for i in range(len(out.masks))]


def create(**options: object) -> EdgeSamSegmenter:
    """Registry factory."""
    return EdgeSamSegmenter(**options)  # type: ignore[arg-type]
