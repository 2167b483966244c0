"""OpenAI CLIP (openai/CLIP `clip/model.py`): ViT image tower and causal text tower.

Parameter names and shapes follow the official `CLIP` module, so the `state_dict()` of the
released checkpoints (e.g. ViT-B/16: 302 keys) loads with `strict=True` (see `checkpoint.py`).

Numerics are a switch on the image tower (`Numerics`): OpenAI CLIP uses QuickGELU and LayerNorm
eps 1e-5; MaskCLIP's official ViT config runs the same weights with exact GELU and eps 1e-6.
The text tower always uses CLIP's numerics.

Organised for more image towers: `build_visual` picks the tower from `ClipConfig`; CLIP's
ModifiedResNet (RN50, RN50x16: `vision_layers` a tuple, keys `visual.layerN`, `visual.attnpool`)
slots in there as a sibling of `VisionTransformer`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from annotator.nn.clip.resnet import ModifiedResNet


@dataclass(frozen=True)
class Numerics:
    """Activation and LayerNorm eps of the transformer blocks."""

    activation: str  # "quick_gelu" (x * sigmoid(1.702 x)) or "gelu" (exact erf)
    ln_eps: float


CLIP_NUMERICS = Numerics("quick_gelu", 1e-5)
MASKCLIP_NUMERICS = Numerics("gelu", 1e-6)


@dataclass(frozen=True)
class ClipConfig:
    """What `clip.model.build_model` derives from a checkpoint's shapes."""

    embed_dim: int
    image_resolution: int
    vision_layers: int | tuple[int, int, int, int]  # a tuple: ModifiedResNet blocks per stage
    vision_width: int
    vision_patch_size: int  # 0 for ModifiedResNet towers
    context_length: int
    vocab_size: int
    transformer_width: int
    transformer_heads: int
    transformer_layers: int


VIT_B16 = ClipConfig(512, 224, 12, 768, 16, 77, 49408, 512, 8, 12)
RN50X16 = ClipConfig(768, 384, (6, 8, 18, 8), 96, 0, 77, 49408, 768, 12, 12)


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> ClipConfig:
    """Hyper-parameters from a CLIP state dict, exactly as `build_model` reads them."""
    vision_layers: int | tuple[int, int, int, int]
    if "visual.proj" in sd:
        width, _, patch, _ = sd["visual.conv1.weight"].shape
        grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        resolution = patch * grid
        vision_layers = sum(
            k.startswith("visual.") and k.endswith(".attn.in_proj_weight") for k in sd
        )
    else:  # ModifiedResNet
        counts = [
            len({k.split(".")[2] for k in sd if k.startswith(f"visual.layer{b}.")})
            for b in (1, 2, 3, 4)
        ]
        vision_layers = (counts[0], counts[1], counts[2], counts[3])
        width, patch = sd["visual.layer1.0.conv1.weight"].shape[0], 0
        grid = round((sd["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
        resolution = grid * 32
    text_width = sd["ln_final.weight"].shape[0]
    return ClipConfig(
        embed_dim=sd["text_projection"].shape[1],
        image_resolution=resolution,
        vision_layers=vision_layers,
        vision_width=width,
        vision_patch_size=patch,
        context_length=sd["positional_embedding"].shape[0],
        vocab_size=sd["token_embedding.weight"].shape[0],
        transformer_width=text_width,
        transformer_heads=text_width // 64,
        transformer_layers=len(
            {k.split(".")[2] for k in sd if k.startswith("transformer.resblocks")}
        ),
    )


class QuickGELU(nn.Module):
    """CLIP's GELU approximation x * sigmoid(1.702 x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def make_activation(numerics: Numerics) -> nn.Module:
    """The activation module named by `numerics`."""
    if numerics.activation == "quick_gelu":
        return QuickGELU()
    if numerics.activation == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {numerics.activation!r}")


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block on LND tensors: x + attn(ln_1(x)); x + mlp(ln_2(x))."""

    def __init__(
        self, d_model: int, n_head: int, numerics: Numerics, attn_mask: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model, eps=numerics.ln_eps)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(d_model, d_model * 4)),
                    ("gelu", make_activation(numerics)),
                    ("c_proj", nn.Linear(d_model * 4, d_model)),
                ]
            )
        )
        self.ln_2 = nn.LayerNorm(d_model, eps=numerics.ln_eps)
        # Not a checkpoint entry (the official block keeps it as a plain attribute).
        self.register_buffer("attn_mask", attn_mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.attn_mask
        if mask is not None:  # cut to the sequence (see CLIP.encode_text's `trim`)
            mask = mask[: x.shape[0], : x.shape[0]].to(dtype=x.dtype, device=x.device)
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """`resblocks.N` stack (keys as the official `Transformer`)."""

    def __init__(
        self,
        width: int,
        layers: int,
        heads: int,
        numerics: Numerics,
        attn_mask: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(
            *[ResidualAttentionBlock(width, heads, numerics, attn_mask) for _ in range(layers)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


def set_numerics(module: nn.Module, numerics: Numerics) -> None:
    """Switch LayerNorm eps and block activations of `module` in place (weights unchanged)."""
    for sub in module.modules():
        if isinstance(sub, nn.LayerNorm):
            sub.eps = numerics.ln_eps
        if isinstance(sub, ResidualAttentionBlock):
            sub.mlp.gelu = make_activation(numerics)


class VisionTransformer(nn.Module):
    """CLIP's ViT image tower; `forward` returns the projected class token."""

    def __init__(
        self,
        input_resolution: int,
        patch_size: int,
        width: int,
        layers: int,
        heads: int,
        output_dim: int,
        numerics: Numerics = CLIP_NUMERICS,
    ) -> None:
        super().__init__()
        self.input_resolution = input_resolution
        self.patch_size = patch_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width**-0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid**2 + 1, width))
        self.ln_pre = nn.LayerNorm(width, eps=numerics.ln_eps)
        self.transformer = Transformer(width, layers, heads, numerics)
        self.ln_post = nn.LayerNorm(width, eps=numerics.ln_eps)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def set_numerics(self, numerics: Numerics) -> None:
        """Run the same weights with CLIP's or MaskCLIP's numerics."""
        set_numerics(self, numerics)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(
            x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device
        )
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


def build_visual(cfg: ClipConfig, numerics: Numerics) -> nn.Module:
    """The image tower for `cfg`: ModifiedResNet when `vision_layers` is a tuple, else ViT.

    `numerics` applies to ViT towers only (ModifiedResNet has no LayerNorm or GELU).
    """
    if not isinstance(cfg.vision_layers, int):
        return ModifiedResNet(
            layers=cfg.vision_layers,
            output_dim=cfg.embed_dim,
            heads=cfg.vision_width * 32 // 64,
            input_resolution=cfg.image_resolution,
            width=cfg.vision_width,
        )
    return VisionTransformer(
        input_resolution=cfg.image_resolution,
        patch_size=cfg.vision_patch_size,
        width=cfg.vision_width,
        layers=cfg.vision_layers,
        heads=cfg.vision_width // 64,
        output_dim=cfg.embed_dim,
        numerics=numerics,
    )


def causal_mask(context_length: int) -> torch.Tensor:
    """Additive mask, -inf above the diagonal (`CLIP.build_attention_mask`)."""
    return torch.full((context_length, context_length), float("-inf")).triu_(1)


class CLIP(nn.Module):
    """Image and text towers with the official key layout."""

    def __init__(
        self, cfg: ClipConfig = VIT_B16, vision_numerics: Numerics = CLIP_NUMERICS
    ) -> None:
        super().__init__()
        self.config = cfg
        self.context_length = cfg.context_length
        self.visual = build_visual(cfg, vision_numerics)
        width = cfg.transformer_width
        self.transformer = Transformer(
            width,
            cfg.transformer_layers,
            cfg.transformer_heads,
            CLIP_NUMERICS,
            attn_mask=causal_mask(cfg.context_length),
        )
        self.vocab_size = cfg.vocab_size
        self.token_embedding = nn.Embedding(cfg.vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, width))
        self.ln_final = nn.LayerNorm(width, eps=CLIP_NUMERICS.ln_eps)
        self.text_projection = nn.Parameter(torch.empty(width, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * torch.log(torch.tensor(1 / 0.07)))
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def reset_buffers(self) -> None:
        """Recreate the causal mask (not a checkpoint entry), e.g. after building on `meta`."""
        mask = causal_mask(self.context_length).to(self.token_embedding.weight.device)
        for block in self.transformer.resblocks:
            block.attn_mask = mask

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) CLIP-normalised images -> (N, embed_dim)."""
        return self.visual(image)

    def encode_text(self, tokens: torch.Tensor, trim: bool = False) -> torch.Tensor:
        """(N, context_length) token ids -> (N, embed_dim): the EOT feature @ text_projection.

        `trim` runs only the first max(EOT position)+1 positions: with the causal mask the
        EOT feature cannot see later positions, so the result is the same, several times faster.
        """
        tokens = tokens.long()
        eot = tokens.argmax(dim=-1)
        length = int(eot.max()) + 1 if trim else tokens.shape[1]
        x = self.token_embedding(tokens[:, :length]) + self.positional_embedding[:length]
        x = self.transformer(x.permute(1, 0, 2))
        x = self.ln_final(x.permute(1, 0, 2))
        return x[torch.arange(x.shape[0]), eot] @ self.text_projection

    def forward(
        self, image: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits_per_image, logits_per_text): exp(logit_scale) * cosine similarity."""
        image_features = self.encode_image(image)
        text_features = self.encode_text(tokens)
        image_features = image_features / image_features.norm(dim=1, keepdim=True)
        text_features = text_features / text_features.norm(dim=1, keepdim=True)
        logits_per_image = self.logit_scale.exp() * image_features @ text_features.t()
        return logits_per_image, logits_per_image.t()


__all__ = [
    "CLIP",
    "CLIP_NUMERICS",
    "MASKCLIP_NUMERICS",
    "RN50X16",
    "VIT_B16",
    "ClipConfig",
    "ModifiedResNet",
    "Numerics",
    "VisionTransformer",
    "build_visual",
    "config_from_state_dict",
    "set_numerics",
]
