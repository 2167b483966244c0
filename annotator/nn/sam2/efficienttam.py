"""EfficientTAM (yformer/EfficientTAM) on the SAM 2-family core: configs, neck and loader.

A plain ViT (Ti or S) with a one-level ViTDet neck replaces EdgeTAM's RepViT + FPN (no
high-resolution decoder features); memory attention has 4 layers whose cross-attention is
plain RoPE attention over all memory tokens (`efficienttam_s`, `_ti`, `_512x512`) or the pooled
efficient variants (`_1`, `_2`). The video predictor is SAM 2's newer one: every object keeps
its own memory. All checkpoints of one width share one key set, so the variant comes from the
file name (or is given explicitly): a wrong variant would load strictly and compute garbage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from torch import Tensor, nn

from annotator.core.errors import CheckpointError
from annotator.nn.backbones.vit import VIT_S, VIT_TI, ViT, ViTConfig
from annotator.nn.sam.common import LayerNorm2d
from annotator.nn.sam2.build import load_sam2
from annotator.nn.sam2.config import Sam2Config
from annotator.nn.sam2.efficient_attention import PoolBias, PooledRoPEAttention
from annotator.nn.sam2.memory_attention import RoPEAttention
from annotator.nn.sam2.model import Sam2Model
from annotator.nn.sam2.neck import ImageEncoder
from annotator.nn.sam2.position_encoding import PositionEmbeddingSine


class ViTDetNeck(nn.Module):
    """Per level: bias-free 1x1 conv -> LayerNorm2d -> bias-free 3x3 conv -> LayerNorm2d (keys
    `convs.0.{conv_1x1, norm_0, conv_3x3, norm_1}`) plus its sine encoding. Only level 0 is
    used, as in the official neck."""

    def __init__(self, d_model: int, backbone_channel_list: Sequence[int]) -> None:
        super().__init__()
        self.position_encoding = PositionEmbeddingSine(d_model)
        self.convs = nn.ModuleList()
        for dim in backbone_channel_list:
            seq = nn.Sequential()
            seq.add_module("conv_1x1", nn.Conv2d(dim, d_model, kernel_size=1, bias=False))
            seq.add_module("norm_0", LayerNorm2d(d_model))
            seq.add_module(
                "conv_3x3", nn.Conv2d(d_model, d_model, kernel_size=3, padding=1, bias=False)
            )
            seq.add_module("norm_1", LayerNorm2d(d_model))
            self.convs.append(seq)

    def forward(self, xs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        out = self.convs[0](xs[0])
        return [out], [self.position_encoding(out).to(out.dtype)]


def _image_encoder(vit_cfg: ViTConfig) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        trunk = ViT(vit_cfg)
        return ImageEncoder(trunk, ViTDetNeck(256, trunk.channel_list), scalp=0)

    return build


def _cross_attention(pool: PoolBias | None) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        if pool is None:
            return RoPEAttention(256, num_heads=1, kv_in_dim=64, rope_k_repeat=True)
        return PooledRoPEAttention(256, num_heads=1, kv_in_dim=64, bias=pool)

    return build


def _config(name: str, vit_cfg: ViTConfig, image_size: int, pool: PoolBias | None) -> Sam2Config:
    return Sam2Config(
        name=name,
        build_image_encoder=_image_encoder(vit_cfg),
        build_cross_attention=_cross_attention(pool),
        image_size=image_size,
        memory_attention_layers=4,
        use_high_res_features_in_sam=False,
        independent_objects=True,
    )


EFFICIENTTAM_S = _config("efficienttam_s", VIT_S, 1024, None)
"""yformer/EfficientTAM `configs/efficienttam/efficienttam_s.yaml` + video builder overrides."""

EFFICIENTTAM_VARIANTS: dict[str, Sam2Config] = {
    cfg.name: cfg
    for cfg in (
        EFFICIENTTAM_S,
        _config("efficienttam_s_1", VIT_S, 1024, "logit"),
        _config("efficienttam_s_2", VIT_S, 1024, "key"),
        _config("efficienttam_s_512x512", VIT_S, 512, None),
        _config("efficienttam_ti", VIT_TI, 1024, None),
        _config("efficienttam_ti_1", VIT_TI, 1024, "logit"),
        _config("efficienttam_ti_2", VIT_TI, 1024, "key"),
        _config("efficienttam_ti_512x512", VIT_TI, 512, None),
    )
}
"""Every released EfficientTAM checkpoint, by its file stem."""


def efficienttam_config(variant: str) -> Sam2Config:
    """The config of a released variant (`efficienttam_ti_512x512`, ...)."""
    try:
        return EFFICIENTTAM_VARIANTS[variant]
    except KeyError:
        raise CheckpointError(
            f"unknown EfficientTAM variant {variant!r}; known: {', '.join(EFFICIENTTAM_VARIANTS)}"
        ) from None


def variant_from_file_name(path: str | Path) -> str | None:
    """The variant a checkpoint file name denotes (longest match wins: `_ti_1` over `_ti`)."""
    stem = Path(path).name.lower().removesuffix(".pt").removesuffix(".pth")
    for name in sorted(EFFICIENTTAM_VARIANTS, key=len, reverse=True):
        if re.search(rf"(^|[^a-z0-9]){re.escape(name)}($|[^a-z0-9_])", stem):
            return name
    return None


def load_efficienttam(path: str | Path, variant: str | None = None) -> Sam2Model:
    """EfficientTAM from an official checkpoint; `variant` defaults to the file name's
    (e.g. `efficienttam_ti_512x512.pt`). An unknown name without `variant` is an error."""
    if variant is None:
        variant = variant_from_file_name(path)
        if variant is None:
            raise CheckpointError(
                f"{Path(path).name}: cannot tell the EfficientTAM variant from the file name; "
                f"pass variant= one of {', '.join(EFFICIENTTAM_VARIANTS)}"
            )
    return load_sam2(path, efficienttam_config(variant))
