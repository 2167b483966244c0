"""EdgeSAM's image encoder: RepViT-m1 with a two-stage fusion neck -> 256 x 64 x 64.

Keys and computation follow chongzhou96/EdgeSAM `edge_sam/modeling/rep_vit.py`
(`RepViT(arch="m1", fuse=True, upsample_mode="bicubic")`). Weights ship un-fused
(Conv+BN pairs, two-branch RepVGG depthwise blocks); `fuse_repvit()` re-parameterises a loaded
encoder for faster inference.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.sam.common import LayerNorm2d

# (output channels, squeeze-excite, stride) of the 26 RepViT-m1 blocks; kernel 3, expansion 2.
M1_BLOCKS: tuple[tuple[int, bool, int], ...] = (
    *((48, True, 1), (48, False, 1), (48, False, 1)),
    *((96, False, 2), (96, True, 1), (96, False, 1), (96, False, 1)),
    (192, False, 2),
    *((192, i % 2 == 0, 1) for i in range(14)),
    (192, False, 1),
    *((384, False, 2), (384, True, 1), (384, False, 1)),
)


class Conv2dBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d (children `c`, `bn`)."""

    def __init__(
        self, cin: int, cout: int, ks: int = 1, stride: int = 1, pad: int = 0, groups: int = 1
    ) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(cin, cout, ks, stride, pad, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(cout))

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        """One Conv2d (with bias) computing the same as conv -> BN in eval mode."""
        c, bn = self.c, self.bn
        scale = bn.weight / (bn.running_var + bn.eps) ** 0.5
        conv = nn.Conv2d(
            c.in_channels,
            c.out_channels,
            c.kernel_size,
            c.stride,
            c.padding,
            groups=c.groups,
            device=c.weight.device,
        )
        conv.weight.copy_(c.weight * scale[:, None, None, None])
        conv.bias.copy_(bn.bias - bn.running_mean * scale)
        return conv


class SqueezeExcite(nn.Module):
    """timm's SEModule: channel mean -> fc1 -> ReLU -> fc2 -> sigmoid gate."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.fc2(F.relu(self.fc1(s)))
        return x * torch.sigmoid(s)


def se_reduced_channels(channels: int) -> int:
    """timm make_divisible(channels * 0.25, 8, round_limit=0)."""
    v = channels * 0.25
    return max(8, int(v + 4) // 8 * 8)


class RepVGGDW(nn.Module):
    """dw3x3-BN + dw1x1-BN + identity (children `conv`, `conv1`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = Conv2dBN(dim, dim, 3, 1, 1, groups=dim)
        self.conv1 = Conv2dBN(dim, dim, 1, 1, 0, groups=dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) + self.conv1(x) + x

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        """One depthwise 3x3 conv folding both branches and the identity."""
        conv, conv1 = self.conv.fused(), self.conv1.fused()
        w1 = F.pad(conv1.weight, [1, 1, 1, 1])
        ident = F.pad(torch.ones_like(conv1.weight), [1, 1, 1, 1])
        conv.weight.copy_(conv.weight + w1 + ident)
        conv.bias.copy_(conv.bias + conv1.bias)
        return conv


class Residual(nn.Module):
    """x + m(x) (child `m`); drop-path is training-only and omitted."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: Tensor) -> Tensor:
        return x + self.m(x)


def _channel_mixer(dim: int) -> Residual:
    return Residual(nn.Sequential(Conv2dBN(dim, 2 * dim), nn.GELU(), Conv2dBN(2 * dim, dim)))


class RepViTBlock(nn.Module):
    """Token mixer (depthwise, optional SE) then residual channel MLP."""

    def __init__(self, cin: int, cout: int, use_se: bool, stride: int) -> None:
        super().__init__()
        se: nn.Module = SqueezeExcite(cin, se_reduced_channels(cin)) if use_se else nn.Identity()
        if stride == 2:
            self.token_mixer = nn.Sequential(
                Conv2dBN(cin, cin, 3, 2, 1, groups=cin), se, Conv2dBN(cin, cout)
            )
        else:
            if cin != cout:
                raise ValueError("a stride-1 RepViT block keeps its width")
            self.token_mixer = nn.Sequential(RepVGGDW(cin), se)
        self.channel_mixer = _channel_mixer(cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.channel_mixer(self.token_mixer(x))


class FuseStage3(nn.Module):
    """1x1 conv then x2 upsampling (official `OpSequential`, child list `op_list`)."""

    def __init__(self, cin: int, cout: int, upsample_mode: str) -> None:
        super().__init__()
        self.op_list = nn.ModuleList([nn.Conv2d(cin, cout, kernel_size=1, bias=False)])
        self.upsample_mode = upsample_mode

    def forward(self, x: Tensor) -> Tensor:
        x = self.op_list[0](x)
        return F.interpolate(x, scale_factor=2, mode=self.upsample_mode, align_corners=False)


class RepViT(nn.Module):
    """RepViT-m1 backbone + EdgeSAM neck; input 1024 x 1024 normalised RGB."""

    def __init__(self, img_size: int = 1024, upsample_mode: str = "bicubic") -> None:
        super().__init__()
        self.img_size = img_size
        c0 = M1_BLOCKS[0][0]
        stem = nn.Sequential(
            Conv2dBN(3, c0 // 2, 3, 2, 1), nn.GELU(), Conv2dBN(c0 // 2, c0, 3, 2, 1)
        )
        layers: list[nn.Module] = [stem]
        cin = c0
        for cout, use_se, stride in M1_BLOCKS:
            layers.append(RepViTBlock(cin, cout, use_se, stride))
            cin = cout
        self.features = nn.ModuleList(layers)
        # last block of each stage, as indices into `features`
        self.stage_ends = tuple(
            i + 1
            for i in range(len(M1_BLOCKS))
            if i + 1 == len(M1_BLOCKS) or M1_BLOCKS[i + 1][0] != M1_BLOCKS[i][0]
        )
        c2, c3 = M1_BLOCKS[self.stage_ends[2] - 1][0], M1_BLOCKS[-1][0]
        self.fuse_stage2 = nn.Conv2d(c2, 256, kernel_size=1, bias=False)
        self.fuse_stage3 = FuseStage3(c3, 256, upsample_mode)
        self.neck = nn.Sequential(
            nn.Conv2d(256, 256, kernel_size=1, bias=False),
            LayerNorm2d(256),
            nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(256),
        )

    def forward_stages(self, x: Tensor) -> dict[str, Tensor]:
        """Intermediate maps: stem, stage0..stage3, neck_input and the final embedding."""
        out: dict[str, Tensor] = {}
        x = self.features[0](x)
        out["stem"] = x
        for i in range(1, len(self.features)):
            x = self.features[i](x)
            if i in self.stage_ends:
                out[f"stage{self.stage_ends.index(i)}"] = x
        out["neck_input"] = self.fuse_stage2(out["stage2"]) + self.fuse_stage3(out["stage3"])
        out["embedding"] = self.neck(out["neck_input"])
        return out

    def forward(self, x: Tensor) -> Tensor:
        x = self.features[0](x)
        stage2 = None
        for i in range(1, len(self.features)):
            x = self.features[i](x)
            if i == self.stage_ends[2]:
                stage2 = x
        assert stage2 is not None
        return self.neck(self.fuse_stage2(stage2) + self.fuse_stage3(x))


@torch.no_grad()
def fuse_repvit(encoder: RepViT) -> RepViT:
    """Fold every BatchNorm into its conv and each RepVGGDW into one conv, in place.

    For inference only, after loading weights: the state dict no longer matches checkpoints.
    """
    for module in list(encoder.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, RepVGGDW | Conv2dBN):
                setattr(module, name, child.fused())
    return encoder.eval()
