"""SAM 2-family model (SAM2Base equivalent): image features, SAM heads, memory, one track step.

Shapes: features are B x C x h x w; memories are token-first B x N x C_mem (EdgeTAM: 512
perceiver tokens per frame, plain SAM 2: h*w). Stored memory features are bfloat16, like the
official video predictor keeps them (the promotion back to float32 happens at concatenation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.sam import MLP, PromptEncoder, TwoWayTransformer
from annotator.nn.sam2.config import Sam2Config
from annotator.nn.sam2.mask_decoder import Sam2MaskDecoder
from annotator.nn.sam2.memory_attention import MemoryAttention, MemoryAttentionLayer
from annotator.nn.sam2.memory_encoder import MemoryEncoder
from annotator.nn.sam2.neck import BackboneOut

NO_OBJ_SCORE = -1024.0
"""Logit given to every pixel of an absent object."""


@dataclass
class FrameFeatures:
    """Backbone output of one frame, expanded to a batch: top level (raw), its pos, high-res."""

    top: Tensor
    top_pos: Tensor
    high_res: list[Tensor] | None

    def expand(self, batch: int) -> FrameFeatures:
        hr = None if self.high_res is None else [x.expand(batch, -1, -1, -1) for x in self.high_res]
        return FrameFeatures(
            self.top.expand(batch, -1, -1, -1), self.top_pos.expand(batch, -1, -1, -1), hr
        )


@dataclass
class HeadsOut:
    """SAM-head results: chosen low/high-res logits, all IoUs, pointer and presence logits."""

    low_res_multimasks: Tensor
    ious: Tensor
    low_res_masks: Tensor
    high_res_masks: Tensor
    obj_ptr: Tensor
    object_score_logits: Tensor


@dataclass
class MemoryInputs:
    """What memory attention reads: spatial memories (each B x N x C_mem, bf16 or float) with
    their pos (already including the temporal encoding) and object pointers (B x C each)."""

    memories: list[Tensor]
    memory_pos: list[Tensor]
    obj_ptrs: list[Tensor]


class Sam2Model(nn.Module):
    """Module tree and key names of the official SAM2Base for the given config."""

    def __init__(self, cfg: Sam2Config) -> None:
        super().__init__()
        self.cfg = cfg
        c, emb = cfg.hidden_dim, cfg.embedding_size
        self.image_encoder = cfg.build_image_encoder()
        self.memory_attention = MemoryAttention(c, cfg.memory_attention_layers, self._mem_layer)
        self.memory_encoder = MemoryEncoder(out_dim=cfg.mem_dim, in_dim=c)
        if cfg.build_memory_compressor is not None:
            self.spatial_perceiver = cfg.build_memory_compressor()
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(cfg.num_maskmem, 1, 1, cfg.mem_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, c))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, c))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, c))
        self.sam_prompt_encoder = PromptEncoder(
            embed_dim=c,
            image_embedding_size=(emb, emb),
            input_image_size=(cfg.image_size, cfg.image_size),
            mask_in_chans=16,
        )
        self.sam_mask_decoder = Sam2MaskDecoder(
            transformer_dim=c,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=c, mlp_dim=2048, num_heads=8, mlp_layout="sam2"
            ),
            use_high_res_features=cfg.use_high_res_features_in_sam,
            iou_prediction_use_sigmoid=cfg.iou_prediction_use_sigmoid,
            pred_obj_scores=cfg.pred_obj_scores,
            pred_obj_scores_mlp=cfg.pred_obj_scores_mlp,
            use_multimask_token_for_obj_ptr=cfg.use_multimask_token_for_obj_ptr,
            dynamic_multimask_via_stability=cfg.dynamic_multimask_via_stability,
            dynamic_multimask_stability_delta=cfg.dynamic_multimask_stability_delta,
            dynamic_multimask_stability_thresh=cfg.dynamic_multimask_stability_thresh,
        )
        self.obj_ptr_proj: nn.Module = (
            MLP(c, c, c, 3) if cfg.use_mlp_for_obj_ptr_proj else nn.Linear(c, c)
        )
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)

    def _mem_layer(self) -> MemoryAttentionLayer:
        cfg = self.cfg
        return MemoryAttentionLayer(
            cfg.hidden_dim,
            cfg.memory_attention_ffn,
            cfg.build_self_attention(),
            cfg.build_cross_attention(),
        )

    # ---- image features ------------------------------------------------------------------

    def forward_image(self, image: Tensor) -> BackboneOut:
        """Encoder output with the decoder's conv_s0 / conv_s1 applied to the high-res levels."""
        out = self.image_encoder(image)
        if self.cfg.use_high_res_features_in_sam:
            out.backbone_fpn[0] = self.sam_mask_decoder.conv_s0(out.backbone_fpn[0])
            out.backbone_fpn[1] = self.sam_mask_decoder.conv_s1(out.backbone_fpn[1])
        return out

    def frame_features(self, out: BackboneOut) -> FrameFeatures:
        """The levels the heads and memory use (top level raw, high-res when enabled)."""
        high = out.backbone_fpn[:2] if self.cfg.use_high_res_features_in_sam else None
        return FrameFeatures(out.backbone_fpn[-1], out.vision_pos_enc[-1], high)

    # ---- SAM heads -------------------------------------------------------------------------

    def sam_heads(
        self,
        feats: Tensor,
        high_res: list[Tensor] | None,
        points: tuple[Tensor, Tensor] | None,
        mask_inputs: Tensor | None,
        multimask: bool,
    ) -> HeadsOut:
        """Prompt encoder + decoder; absent objects (score <= 0) get NO_OBJ_SCORE logits."""
        b, dev = feats.shape[0], feats.device
        if points is None:
            points = (
                torch.zeros(b, 1, 2, device=dev),
                -torch.ones(b, 1, dtype=torch.int32, device=dev),
            )
        prompt = None
        if mask_inputs is not None:
            size = self.sam_prompt_encoder.mask_input_size
            prompt = mask_inputs
            if mask_inputs.shape[-2:] != size:
                prompt = F.interpolate(
                    mask_inputs.float(),
                    size=size,
                    mode="bilinear",
                    align_corners=False,
                    antialias=True,
                )
        sparse, dense = self.sam_prompt_encoder(points=points, boxes=None, masks=prompt)
        dec = self.sam_mask_decoder(
            feats,
            self.sam_prompt_encoder.get_dense_pe(),
            sparse,
            dense,
            multimask_output=multimask,
            high_res_features=high_res,
        )
        present = dec.object_score_logits > 0
        low = torch.where(present[:, None, None], dec.masks, NO_OBJ_SCORE).float()
        token = dec.sam_tokens[:, 0]
        low_sel = low
        if multimask:
            best = torch.argmax(dec.iou, dim=-1)
            rows = torch.arange(b, device=dev)
            low_sel = low[rows, best].unsqueeze(1)
            if dec.sam_tokens.shape[1] > 1:
                token = dec.sam_tokens[rows, best]
        # the official code upsamples every candidate, then selects: same values per channel
        s = self.cfg.image_size
        high_sel = F.interpolate(low_sel, size=(s, s), mode="bilinear", align_corners=False)
        ptr = self._gate_pointer(self.obj_ptr_proj(token), present.float())
        return HeadsOut(low, dec.iou, low_sel, high_sel, ptr, dec.object_score_logits)

    def _gate_pointer(self, ptr: Tensor, present: Tensor) -> Tensor:
        if self.cfg.fixed_no_obj_ptr:
            ptr = present * ptr
        return ptr + (1 - present) * self.no_obj_ptr

    def mask_as_output(self, feats: FrameFeatures, mask: Tensor) -> HeadsOut:
        """A mask prompt used directly as the output (+-10 logits); pointer from the heads."""
        m = mask.float()
        high = m * 20.0 - 10.0
        low = F.interpolate(
            high,
            size=(high.shape[-2] // 4, high.shape[-1] // 4),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        ious = m.new_ones(m.shape[0], 1)
        heads = self.sam_heads(feats.top, feats.high_res, None, self.mask_downsample(m), False)
        present = torch.any(m.flatten(1) > 0.0, dim=1)[..., None].float()
        score = 20.0 * present - 10.0
        ptr = self._gate_pointer(heads.obj_ptr, present)
        return HeadsOut(low, ious, low, high, ptr, score)

    def use_multimask(self, is_init_cond_frame: bool, num_points: int) -> bool:
        cfg = self.cfg
        return (
            cfg.multimask_output_in_sam
            and (is_init_cond_frame or cfg.multimask_output_for_tracking)
            and cfg.multimask_min_pt_num <= num_points <= cfg.multimask_max_pt_num
        )

    # ---- memory ----------------------------------------------------------------------------

    def condition_on_memory(self, feats: FrameFeatures, mem: MemoryInputs | None) -> Tensor:
        """Stride-16 features conditioned on memory (or + no_mem_embed on an initial frame)."""
        b, c, h, w = feats.top.shape
        curr = feats.top.flatten(2).permute(2, 0, 1)
        if mem is None:
            if not self.cfg.directly_add_no_mem_embed:
                raise NotImplementedError("only directly_add_no_mem_embed=True is supported")
            return (curr + self.no_mem_embed).permute(1, 2, 0).reshape(b, c, h, w)
        tokens = [m.float().permute(1, 0, 2) for m in mem.memories]  # bf16 -> f32 exactly
        pos = [p.permute(1, 0, 2) for p in mem.memory_pos]
        num_ptr_tokens = 0
        if mem.obj_ptrs:
            ptrs = torch.stack(mem.obj_ptrs, dim=0)  # P x B x C
            split = c // self.cfg.mem_dim
            ptrs = ptrs.reshape(-1, b, split, self.cfg.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            tokens.append(ptrs)
            pos.append(ptrs.new_zeros(ptrs.shape))
            num_ptr_tokens = ptrs.shape[0]
        out = self.memory_attention(
            curr=curr,
            memory=torch.cat(tokens, dim=0),
            curr_pos=feats.top_pos.flatten(2).permute(2, 0, 1),
            memory_pos=torch.cat(pos, dim=0),
            num_obj_ptr_tokens=num_ptr_tokens,
            num_spatial_mem=len(mem.memories),
        )
        return out.permute(1, 2, 0).reshape(b, c, h, w)

    def tpos_enc(self, t_pos: int) -> Tensor:
        """Temporal encoding of memory slot t_pos (0 = conditioning frames), 1 x 1 x C_mem."""
        return self.maskmem_tpos_enc[self.cfg.num_maskmem - t_pos - 1]

    def encode_memory(
        self, feats: FrameFeatures, high_res_masks: Tensor, is_mask_from_pts: bool
    ) -> tuple[Tensor, Tensor]:
        """Memory tokens (B x N x C_mem, bfloat16) and pos (B x N x C_mem, float32)."""
        cfg = self.cfg
        if cfg.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts:
            mask = (high_res_masks > 0).float()
        else:
            mask = torch.sigmoid(high_res_masks)
        mask = mask * cfg.sigmoid_scale_for_mem_enc + cfg.sigmoid_bias_for_mem_enc
        x, pos = self.memory_encoder(feats.top, mask)
        if cfg.build_memory_compressor is not None:
            x, pos = self.spatial_perceiver(x, pos)
        else:
            x, pos = x.flatten(2).transpose(1, 2), pos.flatten(2).transpose(1, 2)
        return x.to(torch.bfloat16), pos
