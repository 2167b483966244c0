"""CLIP2SAM: OVSAM's mask decoder and open-vocabulary RoI classifier (official `OVSAMHead`).

The mask decoder is SAM's with one mask token and no IoU head; a learned label token takes
the IoU token's slot. Classification pools a RoI from the FPN maps (the RoI is the box of the
predicted 256x256 mask, x4, with `gen_box=True`, the released configs' choice), applies a 1x1
conv + ReLU and a spatial mean, and compares the result with text embeddings of the vocabulary
(cosine x exp(logit_scale), max over synonyms). The label MLP's output is added x 0 in the
official head, so it never changes a logit; we compute it only on request.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.ops.roi_align import roi_align
from annotator.nn.ovsam.neck import STRIDES, ConvModule
from annotator.nn.sam import MLP, MaskDecoder, TwoWayTransformer
from annotator.nn.sam.mask_decoder import upscaled_masks

LOGIT_SCALE = 4.6052  # float32 exp() = 100.00296
FINEST_SCALE = 56
LOW_RES_TO_INPUT = 4  # 256x256 mask logits -> 1024 input pixels


def mask_to_box(masks: Tensor) -> Tensor:
    """(N, H, W) bool -> (N, 4) [x0, y0, x1 + 1, y1 + 1]; zeros for empty masks (mmdet)."""
    x_any, y_any = masks.any(dim=1), masks.any(dim=2)
    h, w = masks.shape[1:]
    xs = torch.arange(w, device=masks.device)
    ys = torch.arange(h, device=masks.device)
    x0 = torch.where(x_any, xs, w).min(dim=1).values
    x1 = torch.where(x_any, xs, -1).max(dim=1).values + 1
    y0 = torch.where(y_any, ys, h).min(dim=1).values
    y1 = torch.where(y_any, ys, -1).max(dim=1).values + 1
    boxes = torch.stack([x0, y0, x1, y1], dim=1).to(torch.float32)
    empty = ~(x_any.any(dim=1) & y_any.any(dim=1))
    return torch.where(empty[:, None], torch.zeros_like(boxes), boxes)


def boxes_to_rois(boxes: Tensor) -> Tensor:
    """(N, 4) boxes of one image -> (N, 5) RoIs with batch index 0 (mmdet bbox2roi)."""
    return torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)


def roi_levels(rois: Tensor, num_levels: int, finest_scale: int = FINEST_SCALE) -> Tensor:
    """FPN level per RoI: floor(log2(sqrt(area) / finest_scale + 1e-6)) in [0, L-1]."""
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    levels = torch.floor(torch.log2(scale / finest_scale + 1e-6))
    return levels.clamp(min=0, max=num_levels - 1).long()


def extract_rois(feats: list[Tensor], rois: Tensor, output_size: int) -> Tensor:
    """mmdet SingleRoIExtractor: aligned RoIAlign (adaptive sampling) on each RoI's level.

    mmdet also adds `feats[i].sum() * 0` for unused levels (a training-time trick); with finite
    features it changes nothing, so it is left out.
    """
    levels = roi_levels(rois, len(feats))
    out = feats[0].new_zeros(rois.shape[0], feats[0].shape[1], output_size, output_size)
    for i, (feat, stride) in enumerate(zip(feats, STRIDES, strict=True)):
        idx = torch.nonzero(levels == i).flatten()
        if idx.numel():
            out[idx] = roi_align(feat, rois[idx], output_size, 1.0 / stride, 0, aligned=True)
    return out


class OvsamHead(nn.Module):
    """Keys as the official `OVSAMHead` (prefix `mask_decoder.` in the clip2sam files)."""

    def __init__(self, roi_size: int = 7, embed_dim: int = 768, transformer_dim: int = 256) -> None:
        super().__init__()
        self.mask_decoder = MaskDecoder(
            transformer_dim=transformer_dim,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=transformer_dim, num_heads=8, mlp_dim=2048
            ),
            num_multimask_outputs=0,
            with_iou_head=False,
        )
        self.label_token = nn.Embedding(1, transformer_dim)
        self.label_mlp = MLP(transformer_dim, transformer_dim, embed_dim, 3)
        self.roi_conv = nn.Sequential(
            ConvModule(transformer_dim, embed_dim, 1, bias=False, relu=True)
        )
        self.roi_size = roi_size
        # the vocabulary: (embed_dim, K + 1, P) with a zero background column; not checkpoint keys
        self.register_buffer("cls_embed", torch.zeros(embed_dim, 1, 1), persistent=False)
        self.register_buffer(
            "logit_scale", torch.tensor(LOGIT_SCALE, dtype=torch.float32), persistent=False
        )

    @property
    def num_classes(self) -> int:
        return self.cls_embed.shape[1] - 1

    def set_class_embeddings(self, embeddings: Tensor) -> None:
        """Install a (K, P, C) vocabulary of unit text embeddings (+ a zero background)."""
        if embeddings.dim() != 3 or embeddings.shape[2] != self.cls_embed.shape[0]:
            raise ValueError(f"class embeddings must be (K, P, {self.cls_embed.shape[0]})")
        emb = embeddings.to(self.logit_scale.device, torch.float32)
        back = emb.new_zeros(1, emb.shape[1], emb.shape[2])
        self.cls_embed = torch.cat([emb, back], dim=0).permute(2, 0, 1).contiguous()

    def decode_masks(
        self, image_embedding: Tensor, image_pe: Tensor, sparse: Tensor, dense: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(N, 1, 256, 256) mask logits and the (N, C) label-token output, N = prompts."""
        decoder = self.mask_decoder
        n = sparse.shape[0]
        tokens = torch.cat([self.label_token.weight, decoder.mask_tokens.weight], dim=0)
        queries = torch.cat([tokens.unsqueeze(0).expand(n, -1, -1), sparse], dim=1)
        src = torch.repeat_interleave(image_embedding, n, dim=0) + dense
        pos = torch.repeat_interleave(image_pe, n, dim=0)
        b, c, h, w = src.shape
        hs, src = decoder.transformer(src, pos, queries)
        hyper_in = torch.stack(
            [mlp(hs[:, 1 + i]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], dim=1
        )
        masks = upscaled_masks(decoder.output_upscaling, src.reshape(b, h, w, c), hyper_in)
        return masks, hs[:, 0]

    def label_embedding(self, label_query: Tensor) -> Tensor:
        """The label MLP's (N, 768) output (x 0 in the official logits; kept for parity)."""
        return self.label_mlp(label_query)

    def mask_rois(self, low_res: Tensor) -> Tensor:
        """(N, 5) RoIs in input pixels from the boxes of sigmoid(low_res) > 0.5 (gen_box)."""
        return boxes_to_rois(mask_to_box(low_res[:, 0].sigmoid() > 0.5) * LOW_RES_TO_INPUT)

    def roi_embedding(self, fpn: list[Tensor], rois: Tensor) -> tuple[Tensor, Tensor]:
        """RoI features (N, 256, s, s) and their (N, 768) embedding (1x1 conv, ReLU, mean)."""
        feats = extract_rois(fpn, rois, self.roi_size)
        return feats, self.roi_conv(feats).mean(dim=-1).mean(dim=-1)

    def logits(self, embedding: Tensor) -> Tensor:
        """(N, C) embeddings -> (N, K + 1) class logits (last column: background, 0)."""
        sim = torch.einsum("nc,ckp->nkp", F.normalize(embedding, dim=-1), self.cls_embed)
        return self.logit_scale.exp() * sim.max(dim=-1).values


def fuse_logits(
    head_logits: Tensor,
    clip_logits: Tensor,
    low_res: Tensor,
    base_novel: Tensor | None = None,
    alpha: float = 0.1,
    beta: float = 0.9,
) -> Tensor:
    """OVSAM `open_voc_inference`: geometric mix of head and CLIP class probabilities.

    log(q^(1-a) c^a) on base classes and the background, log(q^(1-b) c^b) on the others, with
    a = alpha, b = beta when the mask has a positive logit on the 32x32 C5 grid (else 0).
    `base_novel` (K,): 1 base, 2 novel, 0 neither (-1000). Computed with log_softmax: equal to
    the official pow/log where that is finite, and finite where the official underflows.
    """
    log_q = F.log_softmax(head_logits, dim=-1)
    log_c = F.log_softmax(clip_logits, dim=-1)
    coarse = F.interpolate(low_res, size=(32, 32), mode="bilinear", align_corners=False)
    valid = (coarse > 0).flatten(1).any(dim=1).to(log_q.dtype)[:, None]
    seen = torch.zeros(head_logits.shape[-1], dtype=torch.bool, device=head_logits.device)
    seen[-1] = True
    if base_novel is not None:
        seen[:-1] = base_novel.to(seen.device) == 1
    a, b = alpha * valid, beta * valid
    mixed_seen = (1 - a) * log_q + a * log_c
    mixed_unseen = (1 - b) * log_q + b * log_c
    out = torch.where(seen, mixed_seen, mixed_unseen)
    if base_novel is not None:
        neither = torch.cat([base_novel.to(seen.device) == 0, seen.new_zeros(1)])
        out = out.masked_fill(neither, -1000.0)
    return out


def top_k(logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(scores, indices) of the k most probable foreground classes per row (softmax over K+1)."""
    probs = logits.softmax(dim=-1)[:, :-1]
    return probs.topk(min(k, probs.shape[-1]), dim=-1)


__all__ = [
    "LOGIT_SCALE",
    "OvsamHead",
    "boxes_to_rois",
    "extract_rois",
    "fuse_logits",
    "mask_to_box",
    "roi_levels",
    "top_k",
]
