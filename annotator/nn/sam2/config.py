"""One frozen config per SAM 2-family variant; parts are built by factories, not by name checks.

A variant = image encoder factory + memory-attention cross-attention factory + optional memory
compressor (EdgeTAM's perceiver) + the SAM2Base flags (values of the official yaml plus the
official builders' overrides). EfficientTAM's configs (`efficienttam.py`) plug in a ViT image
encoder and its cross-attention classes and select the newer predictor semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from annotator.nn.backbones.repvit import repvit_m1
from annotator.nn.sam2.memory_attention import RoPEAttention, RoPEAttentionV2
from annotator.nn.sam2.neck import FpnNeck, ImageEncoder, TimmTrunk
from annotator.nn.sam2.perceiver import PerceiverResampler


@dataclass(frozen=True)
class Sam2Config:
    """Hyper-parameters and switches of a SAM 2-family model (defaults: EdgeTAM's)."""

    name: str
    build_image_encoder: Callable[[], nn.Module]
    build_cross_attention: Callable[[], nn.Module]
    build_self_attention: Callable[[], nn.Module] = field(
        default=lambda: RoPEAttention(256, num_heads=1)
    )
    build_memory_compressor: Callable[[], nn.Module] | None = None
    image_size: int = 1024
    backbone_stride: int = 16
    hidden_dim: int = 256
    mem_dim: int = 64
    num_maskmem: int = 7
    memory_attention_layers: int = 2
    memory_attention_ffn: int = 2048
    use_high_res_features_in_sam: bool = True
    # memory encoding of masks
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    binarize_mask_from_pts_for_mem_enc: bool = True  # builder override (video)
    non_overlap_masks_for_mem_enc: bool = False
    use_mask_input_as_output_without_sam: bool = True
    directly_add_no_mem_embed: bool = True
    # multimask
    multimask_output_in_sam: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    multimask_output_for_tracking: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    iou_prediction_use_sigmoid: bool = True
    dynamic_multimask_via_stability: bool = True  # builder override
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98
    # memory bank
    max_cond_frames_in_attn: int = -1
    memory_temporal_stride_for_eval: int = 1
    max_obj_ptrs_in_encoder: int = 16
    only_obj_ptrs_in_the_past_for_eval: bool = True
    # object presence
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    fixed_no_obj_ptr: bool = True
    use_mlp_for_obj_ptr_proj: bool = True
    # video predictor
    fill_hole_area: int = 8  # builder override (video)
    # SAM 2's newer video predictor (EfficientTAM): only each object's own new prompt outputs
    # are memory-encoded before propagation, and a corrected non-conditioning frame is tracked
    # again (overwritten) by the next propagation. False: EdgeTAM's older predictor.
    independent_objects: bool = False

    @property
    def embedding_size(self) -> int:
        """Side of the stride-16 feature map (64 at 1024)."""
        return self.image_size // self.backbone_stride


def _edgetam_image_encoder() -> nn.Module:
    trunk = TimmTrunk(repvit_m1())
    neck = FpnNeck(256, trunk.channel_list, fpn_top_down_levels=[2, 3], fuse_type="sum")
    return ImageEncoder(trunk, neck, scalp=1)


def _edgetam_cross_attention() -> nn.Module:
    return RoPEAttentionV2(256, num_heads=1, kv_in_dim=64, q_sizes=(64, 64), k_sizes=(16, 16))


def _edgetam_perceiver() -> nn.Module:
    return PerceiverResampler(
        dim=64, depth=2, dim_head=64, heads=1, num_latents=256, num_latents_2d=256, ff_mult=4
    )


EDGETAM = Sam2Config(
    name="edgetam",
    build_image_encoder=_edgetam_image_encoder,
    build_cross_attention=_edgetam_cross_attention,
    build_memory_compressor=_edgetam_perceiver,
)
"""facebookresearch/EdgeTAM `configs/edgetam.yaml` + `build_sam2_video_predictor` overrides."""
