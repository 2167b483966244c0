"""EdgeSamPredictor: encode a frame once (`set_image`), then decode prompts cheaply (`predict`).

Follows the official `edge_sam/predictor.py` (`SamPredictor`): ResizeLongestSide(1024) with PIL
bilinear, normalise, zero-pad; prompts scaled to the resized frame; a padding point only when
no box is given; masks thresholded at 0; stability score with offset 1.0. EdgeSAM's IoU head
was not distilled, so `predict` ranks candidates by stability score (the official web demo's
choice) and keeps the IoU prediction alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from annotator.nn.edgesam.model import IMG_SIZE, EdgeSam
from annotator.nn.sam.transformer import ImageContext

STABILITY_OFFSET = 1.0


def preprocess_shape(h: int, w: int, long_side: int = IMG_SIZE) -> tuple[int, int]:
    """(new_h, new_w) with the long side scaled to `long_side` (official rounding)."""
    scale = long_side * 1.0 / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def resize_longest_side(image: np.ndarray, long_side: int = IMG_SIZE) -> np.ndarray:
    """HxWx3 uint8 -> resized uint8 with PIL bilinear (antialiased), like the official code."""
    new_h, new_w = preprocess_shape(image.shape[0], image.shape[1], long_side)
    resized = Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR)
    return np.array(resized)  # writable copy for torch


def scale_coords(
    coords: np.ndarray, original_size: tuple[int, int], long_side: int = IMG_SIZE
) -> np.ndarray:
    """(..., 2) x/y pixels of the original frame -> the resized frame (float64)."""
    old_h, old_w = original_size
    new_h, new_w = preprocess_shape(old_h, old_w, long_side)
    out = np.array(coords, dtype=np.float64, copy=True)
    out[..., 0] = out[..., 0] * (new_w / old_w)
    out[..., 1] = out[..., 1] * (new_h / old_h)
    return out


def stability_score(logits: Tensor, threshold: float, offset: float) -> Tensor:
    """|logit > t + offset| / |logit > t - offset| per mask (official integer counting)."""
    inter = (logits > threshold + offset).sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)
    union = (logits > threshold - offset).sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)
    return inter / union


@dataclass(frozen=True)
class EdgeSamPrediction:
    """Candidate masks for one prompt set, C of them, best stability score first when ranked.

    masks: C x H x W bool (or float logits with return_logits) at the original frame size
    (only the first `full_res_masks` candidates when that was given).
    iou_predictions, stability_scores: (C,) float32. low_res_logits: C x 256 x 256 float32,
    reusable as `mask_input`. token_indices: the decoder mask token of each candidate.
    """

    masks: np.ndarray
    iou_predictions: np.ndarray
    stability_scores: np.ndarray
    low_res_logits: np.ndarray
    token_indices: np.ndarray


class EdgeSamPredictor:
    """Caches one frame's image embedding and decodes prompts against it."""

    def __init__(self, model: EdgeSam) -> None:
        self.model = model
        self.features: Tensor | None = None
        self.context: ImageContext | None = None
        self.original_size: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None
        self._dense_pe: Tensor | None = None

    @property
    def is_image_set(self) -> bool:
        return self.features is not None

    def reset_image(self) -> None:
        self.features = None
        self.context = None
        self.original_size = None
        self.input_size = None

    def set_image(self, image: np.ndarray) -> Tensor:
        """Encode an H x W x 3 uint8 RGB frame (runs the image encoder once)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        resized = resize_longest_side(image)
        x = torch.as_tensor(resized, device=self.model.device).permute(2, 0, 1).contiguous()
        return self.set_torch_image(x[None], (image.shape[0], image.shape[1]))

    @torch.no_grad()
    def set_torch_image(self, transformed_image: Tensor, original_size: tuple[int, int]) -> Tensor:
        """Encode a 1 x 3 x h x w 0..255 RGB tensor already resized to long side 1024."""
        shape = transformed_image.shape
        if len(shape) != 4 or shape[1] != 3 or max(shape[2:]) != IMG_SIZE:
            raise ValueError(f"expected 1x3xHxW with long side {IMG_SIZE}, got {tuple(shape)}")
        self.reset_image()
        x = self.model.preprocess(transformed_image.to(torch.float32))
        features = self.model.image_encoder(x)
        self.set_embedding(features, (int(original_size[0]), int(original_size[1])),
                           (int(shape[2]), int(shape[3])))
        return features

    @torch.no_grad()
    def set_embedding(
        self,
        features: Tensor,
        original_size: tuple[int, int],
        input_size: tuple[int, int],
        context: ImageContext | None = None,
    ) -> None:
        """Restore a cached embedding (from `get_image_embedding`) without re-encoding.

        `context` (from `self.context` after the earlier `set_image`) saves recomputing the
        prompt-independent half of the decoder's first layer (~15 ms on 2 CPU cores)."""
        self.features = features
        self.original_size = original_size
        self.input_size = input_size
        if context is None:
            no_mask = self.model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
            context = self.model.mask_decoder.image_context(features, self.dense_pe(), no_mask)
        self.context = context

    def dense_pe(self) -> Tensor:
        """The prompt encoder's positional encoding of the embedding grid (computed once)."""
        if self._dense_pe is None:
            self._dense_pe = self.model.prompt_encoder.get_dense_pe()
        return self._dense_pe

    def get_image_embedding(self) -> Tensor:
        if self.features is None:
            raise RuntimeError("call set_image() before asking for the embedding")
        return self.features

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        num_multimask_outputs: int = 3,
        return_logits: bool = False,
        rank: bool = True,
        full_res_masks: int | None = None,
    ) -> EdgeSamPrediction:
        """Masks for points (N x 2 x/y pixels, labels 1 fg / 0 bg), a XYXY box, a 1 x 256 x 256
        low-res logit mask, or any mix. num_multimask_outputs: 4 (all tokens, the web demo's
        choice for clicks), 3 (tokens 1-3, SAM's multimask) or 1 (token 0, for boxes).
        full_res_masks: upscale only the first N (ranked) candidates to the frame size (the
        full-size resize is the costliest step per click); None upscales all, 0 none."""
        if self.features is None or self.original_size is None:
            raise RuntimeError("call set_image() before predict()")
        coords, labels, box_t, mask_t = self._prompt_tensors(
            point_coords, point_labels, box, mask_input
        )
        with torch.no_grad():
            low_res, iou = self._decode(coords, labels, box_t, mask_t, num_multimask_outputs)
            stability = stability_score(low_res, self.model.mask_threshold, STABILITY_OFFSET)
            order = torch.arange(low_res.shape[1])
            if rank:  # stable sort keeps token order among equal scores
                order = torch.sort(stability[0], descending=True, stable=True).indices
            low_res, iou, stability = low_res[:, order], iou[:, order], stability[:, order]
            assert self.input_size is not None
            keep = low_res if full_res_masks is None else low_res[:, :full_res_masks]
            if keep.shape[1]:
                masks = self.model.postprocess_masks(keep, self.input_size, self.original_size)
            else:  # the decoder's output only (low-res logits, scores, ranking)
                masks = low_res.new_zeros((1, 0, *self.original_size))
            if not return_logits:
                masks = masks > self.model.mask_threshold
        first = self.model.mask_decoder.output_slice(num_multimask_outputs).start or 0
        return EdgeSamPrediction(
            masks=masks[0].cpu().numpy(),
            iou_predictions=iou[0].cpu().numpy(),
            stability_scores=stability[0].cpu().numpy(),
            low_res_logits=low_res[0].cpu().numpy(),
            token_indices=(order + first).numpy(),
        )

    def _prompt_tensors(
        self,
        point_coords: np.ndarray | None,
        point_labels: np.ndarray | None,
        box: np.ndarray | None,
        mask_input: np.ndarray | None,
    ) -> tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None]:
        assert self.original_size is not None
        device = self.model.device
        coords = labels = box_t = mask_t = None
        if point_coords is not None:
            if point_labels is None:
                raise ValueError("point_labels must be given with point_coords")
            scaled = scale_coords(np.asarray(point_coords), self.original_size)
            coords = torch.as_tensor(scaled, dtype=torch.float, device=device)[None]
            labels = torch.as_tensor(np.asarray(point_labels), dtype=torch.int, device=device)[None]
        if box is not None:
            scaled = scale_coords(np.asarray(box).reshape(-1, 2, 2), self.original_size)
            box_t = torch.as_tensor(scaled.reshape(-1, 4), dtype=torch.float, device=device)
        if mask_input is not None:
            mask_t = torch.as_tensor(mask_input, dtype=torch.float, device=device)[None]
        return coords, labels, box_t, mask_t

    def _decode(
        self,
        coords: Tensor | None,
        labels: Tensor | None,
        box: Tensor | None,
        mask: Tensor | None,
        num_multimask_outputs: int,
    ) -> tuple[Tensor, Tensor]:
        points = (coords, labels) if coords is not None and labels is not None else None
        sparse, dense = self.model.prompt_encoder(points=points, boxes=box, masks=mask)
        assert self.features is not None
        if mask is None and self.context is not None and sparse.shape[0] == 1:
            low_res, iou = self.model.mask_decoder.forward_cached(
                self.context, sparse, self.features.shape[-2:], num_multimask_outputs
            )
            assert iou is not None
            return low_res, iou
        low_res, iou = self.model.mask_decoder(
            image_embeddings=self.features,
            image_pe=self.dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            num_multimask_outputs=num_multimask_outputs,
        )
        assert iou is not None
        return low_res, iou
