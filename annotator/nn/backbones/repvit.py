"""RepViT (Wang et al. 2023) as timm builds it with `features_only=True`.

Parameter names are timm's after `FeatureListNet(flatten_sequential=True)` (`stem.conv1.c`,
`stages_0.blocks.0.token_mixer.conv.bn`, ...), so EdgeTAM's `image_encoder.trunk.body.*` keys
load strictly. Only the `legacy=True` layout (the one `repvit_m1` uses) is implemented: the
token mixer's 1x1 branch has its own BatchNorm and there is no BatchNorm after the branch sum.
`fuse_()` folds every BatchNorm into its convolution for inference (same function, fewer ops).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class RepViTConfig:
    """Widths and depths per stage; timm's `repvit_m1` is the default."""

    embed_dim: tuple[int, ...] = (48, 96, 192, 384)
    depth: tuple[int, ...] = (2, 2, 14, 2)
    mlp_ratio: int = 2
    kernel_size: int = 3


class ConvNorm(nn.Sequential):
    """Bias-free convolution `c` followed by BatchNorm `bn` (eps 1e-5, running statistics)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        ks: int = 1,
        stride: int = 1,
        pad: int = 0,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(in_dim, out_dim, ks, stride, pad, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_dim))


def _fold_bn(cn: ConvNorm) -> nn.Conv2d:
    """A conv with bias computing what `cn` computes in eval mode."""
    c, bn = cn.c, cn.bn
    scale = bn.weight / (bn.running_var + bn.eps) ** 0.5
    conv = nn.Conv2d(
        c.in_channels,
        c.out_channels,
        c.kernel_size,
        c.stride,
        c.padding,
        groups=c.groups,
        bias=True,
        device=c.weight.device,
    )
    conv.weight.data.copy_(c.weight * scale[:, None, None, None])
    conv.bias.data.copy_(bn.bias - bn.running_mean * scale)
    return conv


class SqueezeExcite(nn.Module):
    """timm `SEModule`: x * sigmoid(fc2(relu(fc1(mean_hw(x))))), biased 1x1 convs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        rd = max(8, int(channels * 0.25 + 4) // 8 * 8)  # timm make_divisible(C/4, 8)
        self.fc1 = nn.Conv2d(channels, rd, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(rd, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * s.sigmoid()


class RepVggDw(nn.Module):
    """Token mixer: depthwise kxk ConvNorm + depthwise 1x1 ConvNorm + identity (legacy)."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = ConvNorm(dim, dim, kernel_size, 1, (kernel_size - 1) // 2, groups=dim)
        self.conv1 = ConvNorm(dim, dim, 1, 1, 0, groups=dim)
        self.fused: nn.Conv2d | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.fused is not None:
            return self.fused(x)
        return self.conv(x) + self.conv1(x) + x

    @torch.no_grad()
    def fuse_(self) -> None:
        """Fold both branches and the identity into one depthwise conv (RepVGG trick)."""
        conv, conv1 = _fold_bn(self.conv), _fold_bn(self.conv1)
        k = conv.kernel_size[0]
        pad = [(k - 1) // 2] * 4
        w1 = nn.functional.pad(conv1.weight, pad)
        ident = nn.functional.pad(torch.ones_like(conv1.weight), pad)
        conv.weight.data.copy_(conv.weight + w1 + ident)
        conv.bias.data.copy_(conv.bias + conv1.bias)
        self.fused = conv


class RepVitMlp(nn.Module):
    """1x1 ConvNorm -> GELU -> 1x1 ConvNorm."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.conv1 = ConvNorm(dim, hidden)
        self.act = nn.GELU()
        self.conv2 = ConvNorm(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.act(self.conv1(x)))


class RepViTBlock(nn.Module):
    """Token mixer, optional squeeze-excite, residual channel MLP."""

    def __init__(self, dim: int, mlp_ratio: int, kernel_size: int, use_se: bool) -> None:
        super().__init__()
        self.token_mixer = RepVggDw(dim, kernel_size)
        self.se = SqueezeExcite(dim) if use_se else nn.Identity()
        self.channel_mixer = RepVitMlp(dim, dim * mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        x = self.se(self.token_mixer(x))
        return x + self.channel_mixer(x)


class RepVitStem(nn.Module):
    """Two stride-2 3x3 ConvNorms with GELU between them (no activation after the second)."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.conv1 = ConvNorm(in_chs, out_chs // 2, 3, 2, 1)
        self.act1 = nn.GELU()
        self.conv2 = ConvNorm(out_chs // 2, out_chs, 3, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.act1(self.conv1(x)))


class RepVitDownsample(nn.Module):
    """Pre-block, depthwise stride-2 conv, 1x1 channel change, residual MLP."""

    def __init__(self, in_dim: int, out_dim: int, mlp_ratio: int, kernel_size: int) -> None:
        super().__init__()
        self.pre_block = RepViTBlock(in_dim, mlp_ratio, kernel_size, use_se=False)
        pad = (kernel_size - 1) // 2
        self.spatial_downsample = ConvNorm(in_dim, in_dim, kernel_size, 2, pad, groups=in_dim)
        self.channel_downsample = ConvNorm(in_dim, out_dim, 1, 1)
        self.ffn = RepVitMlp(out_dim, out_dim * mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        x = self.channel_downsample(self.spatial_downsample(self.pre_block(x)))
        return x + self.ffn(x)


class RepVitStage(nn.Module):
    """Optional downsample, then blocks with squeeze-excite on even indices."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        depth: int,
        mlp_ratio: int,
        kernel_size: int,
        downsample: bool,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = (
            RepVitDownsample(in_dim, out_dim, mlp_ratio, kernel_size)
            if downsample
            else nn.Identity()
        )
        self.blocks = nn.Sequential(
            *(
                RepViTBlock(out_dim, mlp_ratio, kernel_size, use_se=(i % 2 == 0))
                for i in range(depth)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


class RepViT(nn.Module):
    """Feature extractor returning every stage output (strides 4, 8, 16, 32 for 4 stages)."""

    def __init__(self, cfg: RepViTConfig | None = None, in_chans: int = 3) -> None:
        super().__init__()
        cfg = cfg or RepViTConfig()
        dims = cfg.embed_dim
        self.stem = RepVitStem(in_chans, dims[0])
        self.channel_list = list(dims[::-1])  # top level first, as SAM 2's FPN neck expects
        for i, (dim, depth) in enumerate(zip(dims, cfg.depth, strict=True)):
            stage = RepVitStage(
                dims[max(i - 1, 0)], dim, depth, cfg.mlp_ratio, cfg.kernel_size, downsample=i > 0
            )
            self.add_module(f"stages_{i}", stage)
        self.num_stages = len(dims)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        feats = []
        for i in range(self.num_stages):
            x = getattr(self, f"stages_{i}")(x)
            feats.append(x)
        return feats

    @torch.no_grad()
    def fuse_(self) -> None:
        """Fold BatchNorms and re-parameterise token mixers in place, for inference after the
        checkpoint is loaded (the state-dict layout changes; outputs agree to float rounding)."""
        for m in list(self.modules()):
            if isinstance(m, RepVggDw):
                m.fuse_()
        for name, m in list(self.named_modules()):
            for child_name, child in list(m.named_children()):
                if isinstance(child, ConvNorm) and not name.endswith("token_mixer"):
                    setattr(m, child_name, _FusedConv(_fold_bn(child)))


class _FusedConv(nn.Module):
    """Holder that keeps a folded conv out of the state dict's ConvNorm key layout."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


def repvit_m1() -> RepViT:
    """timm `repvit_m1` (the trunk of EdgeTAM)."""
    return RepViT(RepViTConfig())
