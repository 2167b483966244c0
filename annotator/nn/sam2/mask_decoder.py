"""SAM 2 mask decoder: SAM's decoder plus an object-score token, high-resolution skip features,
sigmoid IoU, multimask-token object pointers and the dynamic multimask stability fallback.

Reuses the SAM parts (`annotator.nn.sam`) for the tokens, upscaling, hypernetwork and IoU
MLPs; keys are SAM 2's (`obj_score_token`, `pred_obj_score_head`, `conv_s0`, `conv_s1`).
Token order: [obj_score, iou, mask x4, prompts...].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from annotator.nn.sam import MLP
from annotator.nn.sam import MaskDecoder as SamMaskDecoder


@dataclass
class DecoderOut:
    """Selected low-res mask logits B x M x h x w, IoUs B x M, pointer tokens B x M' x C and
    object-score logits B x 1."""

    masks: Tensor
    iou: Tensor
    sam_tokens: Tensor
    object_score_logits: Tensor


class Sam2MaskDecoder(SamMaskDecoder):
    """Predicts masks, IoUs, output tokens (for object pointers) and object-presence logits."""

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool = False,
        iou_prediction_use_sigmoid: bool = False,
        pred_obj_scores: bool = True,
        pred_obj_scores_mlp: bool = True,
        use_multimask_token_for_obj_ptr: bool = True,
        dynamic_multimask_via_stability: bool = True,
        dynamic_multimask_stability_delta: float = 0.05,
        dynamic_multimask_stability_thresh: float = 0.98,
    ) -> None:
        super().__init__(
            transformer_dim=transformer_dim,
            transformer=transformer,
            num_multimask_outputs=num_multimask_outputs,
            iou_head_depth=iou_head_depth,
            iou_head_hidden_dim=iou_head_hidden_dim,
        )
        self.iou_prediction_head.sigmoid_output = iou_prediction_use_sigmoid
        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, transformer_dim)
            self.pred_obj_score_head: nn.Module = (
                MLP(transformer_dim, transformer_dim, 1, 3)
                if pred_obj_scores_mlp
                else nn.Linear(transformer_dim, 1)
            )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(transformer_dim, transformer_dim // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(transformer_dim, transformer_dim // 4, kernel_size=1)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr
        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.stability_delta = dynamic_multimask_stability_delta
        self.stability_thresh = dynamic_multimask_stability_thresh

    def output_tokens(self) -> Tensor:
        tokens = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            tokens.insert(0, self.obj_score_token.weight)
        return torch.cat(tokens, dim=0)

    def forward(  # type: ignore[override]
        self,
        image_embeddings: Tensor,
        image_pe: Tensor,
        sparse_prompt_embeddings: Tensor,
        dense_prompt_embeddings: Tensor,
        multimask_output: bool,
        high_res_features: list[Tensor] | None = None,
    ) -> DecoderOut:
        masks, iou, mask_tokens, obj_logits = self.predict_masks_sam2(
            image_embeddings,
            image_pe,
            sparse_prompt_embeddings,
            dense_prompt_embeddings,
            high_res_features,
        )
        if multimask_output:
            masks, iou = masks[:, 1:], iou[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, iou = self._dynamic_multimask(masks, iou)
        else:
            masks, iou = masks[:, 0:1], iou[:, 0:1]
        use_multi = multimask_output and self.use_multimask_token_for_obj_ptr
        tokens = mask_tokens[:, 1:] if use_multi else mask_tokens[:, 0:1]
        return DecoderOut(masks, iou, tokens, obj_logits)

    def predict_masks_sam2(
        self,
        image_embeddings: Tensor,
        image_pe: Tensor,
        sparse: Tensor,
        dense: Tensor,
        high_res_features: list[Tensor] | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """All-token masks, IoUs, mask-token outputs and object-score logits."""
        n = sparse.shape[0]
        out_tokens = self.output_tokens().unsqueeze(0).expand(n, -1, -1)
        tokens = torch.cat((out_tokens, sparse), dim=1)
        src = image_embeddings
        if src.shape[0] != n:
            src = torch.repeat_interleave(src, n, dim=0)
        src = src + dense
        pos = torch.repeat_interleave(image_pe, n, dim=0)
        b, c, h, w = src.shape
        hs, src = self.transformer(src, pos, tokens)
        s = 1 if self.pred_obj_scores else 0
        iou_token_out = hs[:, s, :]
        mask_tokens_out = hs[:, s + 1 : s + 1 + self.num_mask_tokens, :]
        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = self._upscale(src, high_res_features)
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
        iou = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            obj_logits = self.pred_obj_score_head(hs[:, 0, :])
        else:
            obj_logits = 10.0 * iou.new_ones(iou.shape[0], 1)
        return masks, iou, mask_tokens_out, obj_logits

    def _upscale(self, src: Tensor, high_res_features: list[Tensor] | None) -> Tensor:
        if not self.use_high_res_features or high_res_features is None:
            return self.output_upscaling(src)
        dc1, ln1, act1, dc2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res_features
        x = act1(ln1(dc1(src) + feat_s1))
        return act2(dc2(x) + feat_s0)

    def stability_scores(self, mask_logits: Tensor) -> Tensor:
        """area(logit > delta) / area(logit > -delta) (1 where the latter is empty)."""
        flat = mask_logits.flatten(-2)
        inter = torch.sum(flat > self.stability_delta, dim=-1).float()
        union = torch.sum(flat > -self.stability_delta, dim=-1).float()
        return torch.where(union > 0, inter / union, 1.0)

    def _dynamic_multimask(self, masks: Tensor, iou: Tensor) -> tuple[Tensor, Tensor]:
        """Token 0 if its mask is stable, else the best of tokens 1.. by predicted IoU."""
        multi_masks, multi_iou = masks[:, 1:], iou[:, 1:]
        best = torch.argmax(multi_iou, dim=-1)
        rows = torch.arange(multi_iou.shape[0], device=iou.device)
        best_masks = multi_masks[rows, best].unsqueeze(1)
        best_iou = multi_iou[rows, best].unsqueeze(1)
        single_masks, single_iou = masks[:, 0:1], iou[:, 0:1]
        stable = self.stability_scores(single_masks) >= self.stability_thresh
        out_masks = torch.where(
            stable[..., None, None].expand_as(single_masks), single_masks, best_masks
        )
        out_iou = torch.where(stable.expand_as(single_iou), single_iou, best_iou)
        return out_masks, out_iou
