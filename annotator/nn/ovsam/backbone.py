"""OVSAM's frozen CLIP RN50x16 image trunk, under the official OpenCLIPBackbone's names.

The modules are those of our `annotator.nn.clip.ModifiedResNet` re-parented as the official
`OpenCLIPBackbone` does: `stem` = Sequential(conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3,
relu3) (keys `stem.{0,1,3,4,6,7}`), `layer1..4`, and the attention pool as `head`. The weights
come from OpenAI's `RN50x16.pt` (`visual.*`, see `checkpoint.OPENAI_PREFIX_MAP`).
"""

from __future__ import annotations

import torch
from torch import nn

from annotator.nn.clip.model import RN50X16, ClipConfig
from annotator.nn.clip.resnet import AttentionPool2d, ModifiedResNet


def build_modified_resnet(cfg: ClipConfig = RN50X16) -> ModifiedResNet:
    """CLIP's ModifiedResNet image tower for `cfg` (RN50x16 by default)."""
    if isinstance(cfg.vision_layers, int):
        raise ValueError("OVSAM needs a ModifiedResNet CLIP config (vision_layers a tuple)")
    return ModifiedResNet(
        layers=cfg.vision_layers,
        output_dim=cfg.embed_dim,
        heads=cfg.vision_width * 32 // 64,
        input_resolution=cfg.image_resolution,
        width=cfg.vision_width,
    )


class ClipTrunk(nn.Module):
    """C2..C5 of a normalised image batch; `head` pools RoI features into CLIP embeddings."""

    def __init__(self, cfg: ClipConfig = RN50X16) -> None:
        super().__init__()
        resnet = build_modified_resnet(cfg)
        self.stem = nn.Sequential(*resnet.stem_modules())
        self.avgpool = resnet.avgpool
        self.layer1 = resnet.layer1
        self.layer2 = resnet.layer2
        self.layer3 = resnet.layer3
        self.layer4 = resnet.layer4
        self.head = resnet.attnpool
        # the RoI grid the attention pool was trained on (12 for RN50x16 at 384 pixels)
        self.feat_size = cfg.image_resolution // 32

    def forward(
        self, x: torch.Tensor, trace: dict[str, torch.Tensor] | None = None
    ) -> list[torch.Tensor]:
        """[C2, C3, C4, C5]; `trace`, when given, also receives the stem output."""
        x = self.stem(x)
        if trace is not None:
            trace["backbone_stem"] = x
        x = self.avgpool(x)
        outs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(x)
        return outs

    def pool(self, roi_feats: torch.Tensor) -> torch.Tensor:
        """(R, 3072, 12, 12) C5 RoI features -> (R, 768) CLIP image embeddings."""
        return pool_mean_token(self.head, roi_feats)


def pool_mean_token(head: AttentionPool2d, x: torch.Tensor) -> torch.Tensor:
    """`head(x)` with the key/value projections folded into the single (mean-token) query.

    Only token 0 is read, so per head the scores are x_t . (W_k^T q) + q . b_k and the output
    is W_v (sum_t a_t x_t) + b_v: about 100x fewer FLOPs than projecting all 145 tokens (the
    CLIP branch's main cost per prompt). Same maths; float rounding differs (~1e-6 relative).
    """
    n, c = x.shape[:2]
    heads = head.num_heads
    d = c // heads
    tokens = x.flatten(2).permute(0, 2, 1)  # N, HW, C
    tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
    tokens = tokens + head.positional_embedding.to(x.dtype)
    q = head.q_proj(tokens[:, 0]).reshape(n, heads, d) * d**-0.5  # N, H, d
    wk = head.k_proj.weight.reshape(heads, d, c)
    qk = torch.einsum("nhd,hdc->nhc", q, wk)  # N, H, C
    scores = (
        qk @ tokens.transpose(1, 2) + (q * head.k_proj.bias.reshape(heads, d)).sum(-1)[..., None]
    )
    attn = scores.softmax(dim=-1)  # N, H, T
    ctx = attn @ tokens  # N, H, C
    wv = head.v_proj.weight.reshape(heads, d, c)
    out = torch.einsum("nhc,hdc->nhd", ctx, wv) + head.v_proj.bias.reshape(heads, d)
    return head.c_proj(out.reshape(n, c))


__all__ = ["ClipTrunk", "build_modified_resnet", "pool_mean_token"]
