"""Single-image prediction (SAM2ImagePredictor): encode once with `set_image`, then `predict`
per prompt. No memory, no object-presence gating; IoUs are returned unsorted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from annotator.core.errors import PromptError
from annotator.nn.sam2.model import Sam2Model
from annotator.nn.sam2.transforms import ResizeMode, preprocess


class Sam2ImagePredictor:
    """Holds the embedding of one image; decodes masks for points / a box / a mask prompt."""

    def __init__(
        self, model: Sam2Model, resize_mode: ResizeMode = "antialias", mask_threshold: float = 0.0
    ) -> None:
        self.model = model.eval()
        self.resize_mode: ResizeMode = resize_mode
        self.mask_threshold = mask_threshold
        self._embed: Tensor | None = None
        self._high_res: list[Tensor] | None = None
        self._orig_hw: tuple[int, int] = (0, 0)

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        """Encode an RGB uint8 H x W x 3 image (the slow step)."""
        x = preprocess(image, self.model.cfg.image_size, self.resize_mode)
        x = x.to(next(self.model.parameters()).device)
        feats = self.model.frame_features(self.model.forward_image(x))
        top = feats.top
        if self.model.cfg.directly_add_no_mem_embed:
            top = top + self.model.no_mem_embed.reshape(1, -1, 1, 1)
        self._embed, self._high_res = top, feats.high_res
        self._orig_hw = (int(image.shape[0]), int(image.shape[1]))

    @property
    def is_image_set(self) -> bool:
        return self._embed is not None

    @torch.inference_mode()
    def predict(
        self,
        point_coords: Sequence[Sequence[float]] | np.ndarray | None = None,
        point_labels: Sequence[int] | np.ndarray | None = None,
        box: Sequence[float] | np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks C x H x W (bool, or logits), IoU predictions C, low-res logits C x h x w."""
        if self._embed is None:
            raise PromptError("call set_image before predict")
        points = self._points(point_coords, point_labels, box)
        dev = self._embed.device
        mask = None
        if mask_input is not None:
            mask = torch.as_tensor(np.asarray(mask_input), dtype=torch.float32, device=dev)
            mask = mask.reshape(1, 1, *mask.shape[-2:])
        sparse, dense = self.model.sam_prompt_encoder(points=points, boxes=None, masks=mask)
        dec = self.model.sam_mask_decoder(
            self._embed,
            self.model.sam_prompt_encoder.get_dense_pe(),
            sparse,
            dense,
            multimask_output=multimask_output,
            high_res_features=self._high_res,
        )
        low = dec.masks.float()
        masks = F.interpolate(low, size=self._orig_hw, mode="bilinear", align_corners=False)
        out = masks if return_logits else masks > self.mask_threshold
        low = torch.clamp(low, -32.0, 32.0)
        return (
            out[0].float().cpu().numpy() if return_logits else out[0].cpu().numpy(),
            dec.iou[0].float().cpu().numpy(),
            low[0].cpu().numpy(),
        )

    def _points(
        self,
        coords: Sequence[Sequence[float]] | np.ndarray | None,
        labels: Sequence[int] | np.ndarray | None,
        box: Sequence[float] | np.ndarray | None,
    ) -> tuple[Tensor, Tensor] | None:
        """Model-space points: box corners (labels 2, 3) first, then clicks."""
        h, w = self._orig_hw
        s = self.model.cfg.image_size
        scale = torch.tensor([w, h], dtype=torch.float32)
        parts_c: list[Tensor] = []
        parts_l: list[Tensor] = []
        if box is not None:
            b = torch.as_tensor(np.asarray(box), dtype=torch.float32).reshape(1, 2, 2)
            parts_c.append(b / scale * s)
            parts_l.append(torch.tensor([[2, 3]], dtype=torch.int32))
        if coords is not None:
            if labels is None:
                raise PromptError("point_labels are needed with point_coords")
            c = torch.as_tensor(np.asarray(coords), dtype=torch.float32).reshape(1, -1, 2)
            parts_c.append(c / scale * s)
            parts_l.append(torch.as_tensor(np.asarray(labels), dtype=torch.int32).reshape(1, -1))
        if not parts_c:
            return None
        dev = self._embed.device if self._embed is not None else None
        return torch.cat(parts_c, dim=1).to(dev), torch.cat(parts_l, dim=1).to(dev)
