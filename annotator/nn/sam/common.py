"""Small building blocks shared by the SAM-family models (SAM, EdgeSAM, SAM 2, OVSAM).

Parameter names follow the official segment-anything code so released checkpoints load strictly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (SAM's, eps 1e-6 by default).

    Written out (mean, biased variance, rsqrt) rather than via F.layer_norm on a permuted
    tensor, so the arithmetic order is the official one.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class MLPBlock(nn.Module):
    """Two linear layers with an activation between them (keys `lin1`, `lin2`: SAM 1 layout)."""

    def __init__(self, embedding_dim: int, mlp_dim: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(self.act(self.lin1(x)))


class MLP(nn.Module):
    """`num_layers` linear layers (keys `layers.N`), activation between them, optional sigmoid.

    Used for SAM's hypernetwork and IoU heads, and (with `activation=nn.ReLU`, two layers) as
    the token MLP of SAM 2's two-way transformer.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        sigmoid_output: bool = False,
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        hidden = [hidden_dim] * (num_layers - 1)
        dims_in, dims_out = [input_dim, *hidden], [*hidden, output_dim]
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip(dims_in, dims_out, strict=True))
        self.sigmoid_output = sigmoid_output
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.num_layers - 1
        for i, layer in enumerate(self.layers):
            x = self.act(layer(x)) if i < last else layer(x)
        if self.sigmoid_output:
            x = torch.sigmoid(x)
        return x


def resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with align_corners=False, no antialias (SAM's mask postprocessing)."""
    return F.interpolate(x, size, mode="bilinear", align_corners=False)


def layer_norm_last(x: torch.Tensor, ln: LayerNorm2d) -> torch.Tensor:
    """`ln` (a LayerNorm2d) over the last axis of a channels-last tensor: the same formula
    (biased variance, eps inside the root), as one fused kernel."""
    return F.layer_norm(x, (x.shape[-1],), ln.weight, ln.bias, ln.eps)
