"""YOLACT network (dbolya/yolact yolact.py): backbone, FPN, protonet, shared prediction head.

Module names and order reproduce the official state-dict layout, e.g. `fpn.lat_layers.0` is the
C5 lateral (the FPN lists are stored in reverse) and `proto_net.{0,2,4,8,10}` are the protonet
convs (ReLUs and the upsampling occupy the odd indices and index 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from annotator.nn.yolact.backbone import ResNetBackbone
from annotator.nn.yolact.config import YolactConfig


@dataclass
class YolactOutput:
    """What the network hands to Detect, plus the intermediate maps (for parity checks)."""

    loc: torch.Tensor  # (B, P, 4) box regressions
    conf: torch.Tensor  # (B, P, num_classes) softmax, index 0 = background
    mask: torch.Tensor  # (B, P, mask_dim) tanh coefficients
    priors: torch.Tensor  # (P, 4) (cx, cy, w, h) relative to the image
    proto: torch.Tensor  # (B, 138, 138, mask_dim) prototypes, channels last
    backbone: list[torch.Tensor] = field(default_factory=list)
    fpn: list[torch.Tensor] = field(default_factory=list)


class FPN(nn.Module):
    """Top-down FPN with bilinear upsampling, ReLU on P3-P5, strided convs for P6/P7 (no ReLU)."""

    def __init__(self, in_channels: list[int], features: int, num_downsample: int) -> None:
        super().__init__()
        self.lat_layers = nn.ModuleList(
            nn.Conv2d(c, features, kernel_size=1) for c in reversed(in_channels)
        )
        self.pred_layers = nn.ModuleList(
            nn.Conv2d(features, features, kernel_size=3, padding=1) for _ in in_channels
        )
        self.downsample_layers = nn.ModuleList(
            nn.Conv2d(features, features, kernel_size=3, padding=1, stride=2)
            for _ in range(num_downsample)
        )

    def forward(self, convouts: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(convouts)
        merged: list[torch.Tensor] = [convouts[0]] * n
        x: torch.Tensor | None = None
        for i, lat in enumerate(self.lat_layers):
            j = n - 1 - i
            y = lat(convouts[j])
            if x is not None:
                x = F.interpolate(
                    x, size=convouts[j].shape[-2:], mode="bilinear", align_corners=False
                )
                y = x + y
            x = merged[j] = y
        outs = [F.relu(pred(merged[n - 1 - i])) for i, pred in enumerate(self.pred_layers)]
        outs.reverse()
        for down in self.downsample_layers:
            outs.append(down(outs[-1]))
        return outs


class Upsample2x(nn.Module):
    """The protonet's InterpolateModule: bilinear x2, align_corners=False (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def make_protonet(features: int, mask_dim: int) -> nn.Sequential:
    """3 x (conv3x3 + ReLU), x2 upsample + ReLU, conv3x3 + ReLU, conv1x1 -> mask_dim."""
    layers: list[nn.Module] = []
    for _ in range(3):
        layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
    layers += [Upsample2x(), nn.ReLU(inplace=True)]
    layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
    layers += [nn.Conv2d(features, mask_dim, 1)]
    return nn.Sequential(*layers)


class PredictionModule(nn.Module):
    """The head shared by all FPN levels: conv3x3 + ReLU, then box / class / coefficient convs."""

    def __init__(self, features: int, num_priors: int, num_classes: int, mask_dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.mask_dim = mask_dim
        self.upfeature = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)
        )
        self.bbox_layer = nn.Conv2d(features, num_priors * 4, 3, padding=1)
        self.conf_layer = nn.Conv2d(features, num_priors * num_classes, 3, padding=1)
        self.mask_layer = nn.Conv2d(features, num_priors * mask_dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        x = self.upfeature(x)
        loc = self.bbox_layer(x).permute(0, 2, 3, 1).reshape(b, -1, 4)
        conf = self.conf_layer(x).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes)
        mask = self.mask_layer(x).permute(0, 2, 3, 1).reshape(b, -1, self.mask_dim)
        return loc, conf, torch.tanh(mask)


class FastMaskIoUNet(nn.Module):
    """YOLACT++'s mask scoring: stride-2 3x3 convs (no padding) + ReLU on a (N, 1, h, w) soft
    mask, a 1x1 conv to one score per class + ReLU, then a global max-pool -> (N, classes)."""

    def __init__(self, channels: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_c = 1
        for c in channels:
            layers += [nn.Conv2d(in_c, c, 3, stride=2), nn.ReLU(inplace=True)]
            in_c = c
        layers += [nn.Conv2d(in_c, num_classes, 1), nn.ReLU(inplace=True)]
        self.maskiou_net = nn.Sequential(*layers)

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        x = self.maskiou_net(masks)
        return F.max_pool2d(x, kernel_size=x.shape[2:]).flatten(1)


def make_priors(cfg: YolactConfig, sizes: list[tuple[int, int]]) -> torch.Tensor:
    """Anchors (cx, cy, w, h) in the official `make_priors` order, computed in double.

    Per level: rows, columns, then scales, then aspect ratios; sizes use cfg.max_size (not the
    input size); with `square_anchors` h = w, the official backward-compatibility quirk.
    """
    levels = []
    for (conv_h, conv_w), scales in zip(sizes, cfg.pred_scales, strict=True):
        j, i = np.meshgrid(np.arange(conv_h), np.arange(conv_w), indexing="ij")
        cx = ((i + 0.5) / conv_w).reshape(-1, 1)
        cy = ((j + 0.5) / conv_h).reshape(-1, 1)
        per_anchor = []
        for scale in scales:
            for ar in cfg.aspect_ratios:
                r = np.sqrt(ar)
                w = scale * r / cfg.max_size
                h = w if cfg.square_anchors else scale / r / cfg.max_size
                per_anchor.append((w, h))
        wh = np.array(per_anchor)  # (A, 2)
        a = len(per_anchor)
        xy = np.concatenate([cx, cy], axis=1)[:, None, :].repeat(a, axis=1)
        level = np.concatenate([xy, np.broadcast_to(wh, xy.shape)], axis=2)
        levels.append(level.reshape(-1, 4))
    return torch.from_numpy(np.concatenate(levels).astype(np.float32))


class Yolact(nn.Module):
    """YOLACT (Bolya et al., ICCV 2019) for one config; `forward` returns the raw predictions."""

    def __init__(self, cfg: YolactConfig) -> None:
        super().__init__()
        self.config = cfg
        self.backbone = ResNetBackbone(cfg.backbone_layers, cfg.dcn_layers, cfg.dcn_interval)
        self.proto_net = make_protonet(cfg.fpn_features, cfg.mask_dim)
        self.maskiou_net = (
            FastMaskIoUNet(cfg.maskiou_channels, cfg.num_classes - 1)
            if cfg.maskiou_channels
            else None
        )
        channels = [self.backbone.channels[i] for i in cfg.selected_layers]
        self.fpn = FPN(channels, cfg.fpn_features, cfg.num_downsample)
        head = PredictionModule(cfg.fpn_features, cfg.num_priors, cfg.num_classes, cfg.mask_dim)
        self.prediction_layers = nn.ModuleList([head])  # shared by every level
        self.semantic_seg_conv = nn.Conv2d(cfg.fpn_features, cfg.num_classes - 1, 1)  # training
        self._priors: tuple[list[tuple[int, int]], torch.Tensor] | None = None

    def priors(self, sizes: list[tuple[int, int]], device: torch.device) -> torch.Tensor:
        """Anchors for these feature-map sizes, cached (they only depend on the sizes)."""
        if self._priors is None or self._priors[0] != sizes:
            self._priors = (sizes, make_priors(self.config, sizes))
        return self._priors[1].to(device)

    def forward(self, x: torch.Tensor) -> YolactOutput:
        """x: (B, 3, S, S) normalised RGB (see `annotator.nn.yolact.detect.preprocess`)."""
        feats = self.backbone(x)
        return self.predict_from(feats, self.fpn([feats[i] for i in self.config.selected_layers]))

    def predict_from(self, feats: list[torch.Tensor], pyramid: list[torch.Tensor]) -> YolactOutput:
        """Protonet and the shared head on an FPN pyramid (P3 first)."""
        proto = F.relu(self.proto_net(pyramid[0])).permute(0, 2, 3, 1).contiguous()
        head = self.prediction_layers[0]
        locs, confs, masks = zip(*(head(p) for p in pyramid), strict=True)
        sizes = [(int(p.shape[2]), int(p.shape[3])) for p in pyramid]
        return YolactOutput(
            loc=torch.cat(locs, dim=1),
            conf=F.softmax(torch.cat(confs, dim=1), dim=-1),
            mask=torch.cat(masks, dim=1),
            priors=self.priors(sizes, pyramid[0].device),
            proto=proto,
            backbone=feats,
            fpn=pyramid,
        )
