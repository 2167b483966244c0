"""OvsamPredictor: encode a frame once (`set_image`), then segment and name prompts (`predict`).

Preprocessing follows OVSAM's evaluation pipeline: long side resized to 1024 with bilinear
interpolation (no antialias, like cv2's INTER_LINEAR) and size `int(x * s + 0.5)`, SAM/ImageNet
normalisation, zero padding to 1024x1024. Prompts are positive points or one box per proposal
(OVSAM has no negative clicks: its prompt encoder forces every label to 1). Masks are the
sigmoid > 0.5 of the decoder logits resized to the frame; the label suggestions are the top-k
classes of the fused head + CLIP probabilities (`use_clip=False`: the head alone, as the
official web demo does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from annotator.core.errors import PromptError
from annotator.nn.ovsam.head import top_k
from annotator.nn.ovsam.model import (
    IMG_SIZE,
    MASK_THRESHOLD,
    ImageFeatures,
    Ovsam,
    postprocess_masks,
)
from annotator.nn.ovsam.vocab import Vocabulary


def preprocess_shape(h: int, w: int, long_side: int = IMG_SIZE) -> tuple[int, int]:
    """(new_h, new_w) with the long side scaled to `long_side` (mmdet Resize rounding)."""
    scale = long_side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


@dataclass(frozen=True)
class OvsamPrediction:
    """N proposals. masks: (N, H, W) bool at the frame size; low_res_logits: (N, 256, 256).

    class_ids / scores: (N, k) top-k class indices into the vocabulary and their probabilities
    (softmax over K classes + background); labels: the same as (name, probability) pairs.
    """

    masks: np.ndarray
    low_res_logits: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    labels: tuple[tuple[tuple[str, float], ...], ...]


class OvsamPredictor:
    """Caches one frame's features and decodes prompts against them."""

    def __init__(self, model: Ovsam, vocabulary: Vocabulary) -> None:
        self.model = model
        self.vocabulary = vocabulary
        self.set_vocabulary(vocabulary)
        self.features: ImageFeatures | None = None
        self.original_size: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Classify against `vocabulary` from now on (no re-encoding needed)."""
        self.vocabulary = vocabulary
        self.model.mask_decoder.set_class_embeddings(vocabulary.embeddings)
        self.model.base_novel = vocabulary.base_novel

    @property
    def is_image_set(self) -> bool:
        return self.features is not None

    def reset_image(self) -> None:
        self.features = None
        self.original_size = None
        self.input_size = None

    def prepare_image(self, image: np.ndarray) -> tuple[Tensor, tuple[int, int]]:
        """H x W x 3 uint8 RGB -> the normalised, padded (1, 3, 1024, 1024) input and the
        resized size (h, w) (long side 1024)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        size = preprocess_shape(h, w)
        x = torch.from_numpy(image).to(self.model.device).permute(2, 0, 1)[None].float()
        if size != (h, w):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.model.preprocess(x), size

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> ImageFeatures:
        """Encode an H x W x 3 uint8 RGB frame (backbone + necks, the expensive step)."""
        self.reset_image()
        x, size = self.prepare_image(image)
        features = self.model.encode(x)
        self.set_features(features, (image.shape[0], image.shape[1]), size)
        return features

    def set_features(
        self, features: ImageFeatures, original_size: tuple[int, int], input_size: tuple[int, int]
    ) -> None:
        """Restore cached features (from `set_image`) without re-encoding."""
        self.features = features
        self.original_size = (int(original_size[0]), int(original_size[1]))
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def _scale(self, coords: np.ndarray) -> Tensor:
        """(..., 2) frame x/y pixels -> resized-frame pixels (float32 tensor)."""
        assert self.original_size is not None
        assert self.input_size is not None
        out = np.array(coords, dtype=np.float64, copy=True)
        out[..., 0] *= self.input_size[1] / self.original_size[1]
        out[..., 1] *= self.input_size[0] / self.original_size[0]
        return torch.as_tensor(out, dtype=torch.float32, device=self.model.device)

    @torch.inference_mode()
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        box: np.ndarray | None = None,
        top_k_labels: int = 5,
        use_clip: bool = True,
    ) -> OvsamPrediction:
        """Masks and label suggestions for N proposals.

        point_coords: (P, 2) or (N, P, 2) positive points, x/y frame pixels; box: (4,) or
        (N, 4) XYXY frame pixels. With both, each proposal gets its points and its box.
        """
        if self.features is None or self.original_size is None or self.input_size is None:
            raise RuntimeError("call set_image() before predict()")
        points = boxes = None
        if point_coords is not None:
            pts = np.asarray(point_coords, dtype=np.float64)
            points = self._scale(pts[None] if pts.ndim == 2 else pts)
        if box is not None:
            bx = np.asarray(box, dtype=np.float64).reshape(-1, 2, 2)
            boxes = self._scale(bx).reshape(-1, 4)
        if points is None and boxes is None:
            raise PromptError("OVSAM needs positive points or a box")
        if points is not None and boxes is not None and points.shape[0] != boxes.shape[0]:
            raise PromptError("give one box per point set")
        out = self.model.decode(self.features, points, boxes, clip_boxes=boxes, use_clip=use_clip)
        logits = postprocess_masks(out.low_res, self.input_size, self.original_size)[:, 0]
        masks = logits.sigmoid() > MASK_THRESHOLD
        scores, ids = top_k(out.logits, top_k_labels)
        names = self.vocabulary.names
        labels = tuple(
            tuple((names[int(i)], float(s)) for i, s in zip(row_i, row_s, strict=True))
            for row_i, row_s in zip(ids.tolist(), scores.tolist(), strict=True)
        )
        return OvsamPrediction(
            masks=masks.cpu().numpy(),
            low_res_logits=out.low_res[:, 0].cpu().numpy(),
            class_ids=ids.cpu().numpy(),
            scores=scores.cpu().numpy(),
            labels=labels,
        )


__all__ = ["OvsamPrediction", "OvsamPredictor", "preprocess_shape"]
