"""YOLACT's ResNet backbone (dbolya/yolact backbone.py `ResNetBackbone`).

torchvision-style Bottlenecks (stride on the 3x3 conv), stages in a ModuleList `layers` so the
state-dict keys are `backbone.layers.{0..3}.{block}...`, as in the released files. YOLACT++
swaps conv2 of chosen blocks for a DCNv2 (official `_make_layer`: block 0 of a stage when
dcn_layers >= blocks, block j when j + dcn_layers >= blocks and j % dcn_interval == 0).
"""

from __future__ import annotations

import torch
from torch import nn

from annotator.nn.ops.deform_conv import ModulatedDeformConv2d


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 (x4 channels), BatchNorm after each, residual, ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dcn: bool = False) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2: nn.Module = (
            ModulatedDeformConv2d(planes, planes, 3, stride=stride, padding=1)  # with a bias
            if dcn
            else nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class ResNetBackbone(nn.Module):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool) and four stages; returns every stage output."""

    def __init__(self, blocks: tuple[int, int, int, int],
                 dcn_layers: tuple[int, int, int, int] = (0, 0, 0, 0),
                 dcn_interval: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.channels: list[int] = []
        stages = []
        inplanes = 64
        for i, (planes, n, n_dcn) in enumerate(
            zip((64, 128, 256, 512), blocks, dcn_layers, strict=True)
        ):
            stride = 1 if i == 0 else 2
            stage = [Bottleneck(inplanes, planes, stride, dcn=n_dcn >= n)]
            inplanes = planes * Bottleneck.expansion
            stage += [
                Bottleneck(inplanes, planes, dcn=j + n_dcn >= n and j % dcn_interval == 0)
                for j in range(1, n)
            ]
            stages.append(nn.Sequential(*stage))
            self.channels.append(inplanes)
        self.layers = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs
