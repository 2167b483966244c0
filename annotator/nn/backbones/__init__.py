"""Image backbones with the parameter names of their official (timm) implementations."""

from annotator.nn.backbones.repvit import RepViT, RepViTConfig, repvit_m1

__all__ = ["RepViT", "RepViTConfig", "repvit_m1"]
