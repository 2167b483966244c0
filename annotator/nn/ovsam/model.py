"""Open-Vocabulary SAM (HarborYuan/ovsam `OVSAM`): promptable masks with a class per prompt.

Children and keys as the official detector: `backbone` (CLIP RN50x16 trunk), `neck`
(SAM2CLIP), `fpn_neck` (FPN), `pe` (SAM ViT-H's prompt encoder), `mask_decoder` (CLIP2SAM
head). `encode` is the expensive per-frame step (backbone + both necks); `decode` is the
per-prompt step (prompt encoder, mask decoder, RoI classifier, CLIP branch and fusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.ops.roi_align import roi_align
from annotator.nn.ovsam.backbone import ClipTrunk
from annotator.nn.ovsam.head import LOGIT_SCALE, OvsamHead, boxes_to_rois, fuse_logits
from annotator.nn.ovsam.neck import Fpn, Sam2ClipNeck
from annotator.nn.sam import PromptEncoder

IMG_SIZE = 1024
EMBED_SIZE = 64
# the config's data-preprocessor statistics (SAM/ImageNet, RGB), also for the CLIP trunk
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
MASK_THRESHOLD = 0.5  # on sigmoid(logits)
CLIP_STRIDE = 32


@dataclass
class ImageFeatures:
    """What `encode` caches per frame: C5 (CLIP branch), the SAM embedding, the FPN maps."""

    c5: Tensor  # (1, 3072, 32, 32)
    embedding: Tensor  # (1, 256, 64, 64)
    fpn: list[Tensor]  # 4 x (1, 256, 256 / 2^i, 256 / 2^i)


@dataclass
class Decoded:
    """Per-prompt outputs of `decode` (N prompts); class logits have K + 1 columns."""

    sparse: Tensor  # (N, T, 256) prompt tokens
    dense: Tensor  # (N, 256, 64, 64)
    low_res: Tensor  # (N, 1, 256, 256) mask logits in the padded 1024 frame
    label_mlp: Tensor  # (N, 768), x 0 in the official logits
    head_rois: Tensor  # (N, 5)
    head_roi_feats: Tensor  # (N, 256, s, s)
    head_embed: Tensor  # (N, 768)
    head_logits: Tensor  # (N, K + 1)
    clip_rois: Tensor | None = None
    clip_roi_feats: Tensor | None = None
    clip_embed: Tensor | None = None
    clip_logits: Tensor | None = None
    fused_logits: Tensor | None = None

    @property
    def logits(self) -> Tensor:
        """The final class logits: fused when the CLIP branch ran, else the head's."""
        return self.fused_logits if self.fused_logits is not None else self.head_logits


class Ovsam(nn.Module):
    """The OVSAM detector; `roi_size` 7 for the LVIS head, 12 for the COCO head."""

    def __init__(self, roi_size: int = 7) -> None:
        super().__init__()
        self.backbone = ClipTrunk()
        self.neck = Sam2ClipNeck()
        self.fpn_neck = Fpn()
        self.pe = PromptEncoder(
            embed_dim=256,
            image_embedding_size=(EMBED_SIZE, EMBED_SIZE),
            input_image_size=(IMG_SIZE, IMG_SIZE),
            mask_in_chans=16,
        )
        self.mask_decoder = OvsamHead(roi_size=roi_size)
        # (K,) 1 base, 2 novel, 0 neither; None: every class is novel (custom vocabularies)
        self.base_novel: Tensor | None = None
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(-1, 1, 1), False)

    @property
    def device(self) -> torch.device:
        return self.pe.no_mask_embed.weight.device

    def reset_buffers(self) -> None:
        """Recreate the non-checkpoint constants (after building on the `meta` device)."""
        device = self.device
        self.pixel_mean = torch.tensor(PIXEL_MEAN, device=device).view(-1, 1, 1)
        self.pixel_std = torch.tensor(PIXEL_STD, device=device).view(-1, 1, 1)
        head = self.mask_decoder
        head.logit_scale = torch.tensor(LOGIT_SCALE, dtype=torch.float32, device=device)
        head.cls_embed = torch.zeros(head.cls_embed.shape, device=device)

    def preprocess(self, x: Tensor) -> Tensor:
        """(B, 3, h, w) 0..255 RGB, long side 1024 -> normalised and zero-padded to 1024^2."""
        x = (x - self.pixel_mean) / self.pixel_std
        h, w = x.shape[-2:]
        return F.pad(x, (0, IMG_SIZE - w, 0, IMG_SIZE - h))

    def encode(self, x: Tensor, trace: dict[str, Tensor] | None = None) -> ImageFeatures:
        """Backbone + SAM2CLIP neck + FPN of a normalised (1, 3, 1024, 1024) batch."""
        feats = self.backbone(x, trace)
        if trace is not None:
            trace.update({f"backbone_c{i + 2}": f for i, f in enumerate(feats)})
        embedding = self.neck(feats, trace)
        fpn = self.fpn_neck(feats)
        return ImageFeatures(c5=feats[-1], embedding=embedding, fpn=fpn)

    def embed_prompts(self, points: Tensor | None, boxes: Tensor | None) -> tuple[Tensor, Tensor]:
        """Sparse and dense prompt embeddings; point labels are always positive (official)."""
        point_arg = None
        if points is not None:
            point_arg = (points, torch.ones(points.shape[:2], device=points.device))
        return self.pe(point_arg, boxes, None)

    def decode(
        self,
        features: ImageFeatures,
        points: Tensor | None = None,
        boxes: Tensor | None = None,
        head_boxes: Tensor | None = None,
        clip_boxes: Tensor | None = None,
        use_clip: bool = True,
    ) -> Decoded:
        """Masks and class logits for N prompts (points (N, P, 2) and/or boxes (N, 4), input px).

        head_boxes: RoIs of the head classifier; None takes the predicted masks' boxes
        (`gen_box=True`). clip_boxes: RoIs of the CLIP branch; None takes the head RoIs (the
        official evaluation uses ground-truth boxes there). use_clip=False gives the head-only
        logits of the official web demo.
        """
        if points is None and boxes is None:
            raise ValueError("decode needs points or boxes")
        sparse, dense = self.embed_prompts(points, boxes)
        head = self.mask_decoder
        low_res, label_query = head.decode_masks(
            features.embedding, self.pe.get_dense_pe(), sparse, dense
        )
        rois = head.mask_rois(low_res) if head_boxes is None else boxes_to_rois(head_boxes)
        roi_feats, embed = head.roi_embedding(features.fpn, rois)
        out = Decoded(
            sparse=sparse,
            dense=dense,
            low_res=low_res,
            label_mlp=head.label_embedding(label_query),
            head_rois=rois,
            head_roi_feats=roi_feats,
            head_embed=embed,
            head_logits=head.logits(embed),
        )
        if use_clip:
            self._clip_branch(features, out, rois if clip_boxes is None else None, clip_boxes)
        return out

    def _clip_branch(
        self, features: ImageFeatures, out: Decoded, rois: Tensor | None, boxes: Tensor | None
    ) -> None:
        """RoIAlign 12x12 on C5 + CLIP attention pool, then fusion with the head logits."""
        clip_rois = rois if boxes is None else boxes_to_rois(boxes)
        assert clip_rois is not None
        size = self.backbone.feat_size
        feats = roi_align(features.c5, clip_rois, size, 1.0 / CLIP_STRIDE, 0, aligned=True)
        embed = self.backbone.pool(feats)
        out.clip_rois, out.clip_roi_feats, out.clip_embed = clip_rois, feats, embed
        out.clip_logits = self.mask_decoder.logits(embed)
        out.fused_logits = fuse_logits(
            out.head_logits, out.clip_logits, out.low_res, self.base_novel
        )


def postprocess_masks(
    low_res: Tensor, input_size: tuple[int, int], original_size: tuple[int, int]
) -> Tensor:
    """Mask logits: 256^2 -> bilinear 1024^2 -> crop the resized frame -> bilinear to the frame."""
    masks = F.interpolate(low_res, (IMG_SIZE, IMG_SIZE), mode="bilinear", align_corners=False)
    masks = masks[..., : input_size[0], : input_size[1]]
    return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)


__all__ = ["IMG_SIZE", "MASK_THRESHOLD", "Decoded", "ImageFeatures", "Ovsam", "postprocess_masks"]
