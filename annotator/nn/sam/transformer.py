"""SAM two-way transformer: prompt tokens and image tokens attend to each other.

Same keys and computation as segment-anything's `TwoWayTransformer`. SAM 2 uses the same
module with its token MLP stored as `mlp.layers.{0,1}` instead of `mlp.lin{1,2}`: pick that
with `mlp_layout="sam2"`.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from annotator.nn.sam.common import MLP, MLPBlock

MlpLayout = Literal["sam", "sam2"]


class Attention(nn.Module):
    """Multi-head attention whose internal width may be reduced by `downsample_rate`.

    `kv_in_dim` lets keys/values come from a space of another width (SAM 2 memory attention).
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.kv_in_dim = kv_in_dim if kv_in_dim is not None else embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads != 0:
            raise ValueError("num_heads must divide embedding_dim // downsample_rate")
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def _separate_heads(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    @staticmethod
    def _recombine_heads(x: Tensor) -> Tensor:
        b, n_heads, n_tokens, c_per_head = x.shape
        return x.transpose(1, 2).reshape(b, n_tokens, n_heads * c_per_head)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        if self.factorized and q.shape[1] != k.shape[1]:
            if q.shape[1] < k.shape[1]:
                return self._few_queries(q, k, v)
            return self._few_keys(q, k, v)
        q = self._separate_heads(self.q_proj(q))
        k = self._separate_heads(self.k_proj(k))
        v = self._separate_heads(self.v_proj(v))
        attn = q @ k.permute(0, 1, 3, 2)
        attn = attn / math.sqrt(q.shape[-1])
        attn = torch.softmax(attn, dim=-1)
        return self.out_proj(self._recombine_heads(attn @ v))

    # Factorised forms (`factorized = True`), for a handful of prompt tokens against thousands
    # of image tokens: the projections of the many tokens are folded into the few, which cuts
    # the decoder's work about in half. Same maths, different float rounding (~1e-6).
    factorized = False

    def _heads_weight(self, linear: nn.Linear) -> Tensor:
        """(H, d, D_in) per-head slices of a projection into the internal width."""
        return linear.weight.reshape(self.num_heads, -1, linear.in_features)

    def _few_queries(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Attention of few queries to many keys/values: project the queries, not the keys."""
        qh = self._separate_heads(self.q_proj(q))  # B H Nq d
        qk = qh @ self._heads_weight(self.k_proj)  # B H Nq Din
        bias = (qh * self.k_proj.bias.reshape(self.num_heads, 1, -1)).sum(-1, keepdim=True)
        attn = (qk @ k.unsqueeze(1).transpose(2, 3) + bias) / math.sqrt(qh.shape[-1])
        attn = torch.softmax(attn, dim=-1)
        ctx = attn @ v.unsqueeze(1)  # B H Nq Din; rows of attn sum to 1
        wv = self._heads_weight(self.v_proj)  # H d Din
        out = ctx @ wv.transpose(1, 2) + self.v_proj.bias.reshape(self.num_heads, 1, -1)
        return self.out_proj(self._recombine_heads(out))

    def _few_keys(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Attention of many queries to few keys/values: fold q_proj / out_proj into them."""
        kh = self._separate_heads(self.k_proj(k))  # B H Nk d
        vh = self._separate_heads(self.v_proj(v))  # B H Nk d
        kq = kh @ self._heads_weight(self.q_proj)  # B H Nk Dq
        bias = (kh * self.q_proj.bias.reshape(self.num_heads, 1, -1)).sum(-1)  # B H Nk
        b, n_heads, n_k, _ = kq.shape
        scores = q @ kq.reshape(b, n_heads * n_k, -1).transpose(1, 2)  # B Nq H*Nk
        scores = scores.reshape(b, -1, n_heads, n_k) + bias.unsqueeze(1)
        attn = torch.softmax(scores / math.sqrt(kh.shape[-1]), dim=-1)
        w_out = self.out_proj.weight.reshape(-1, n_heads, kh.shape[-1]).permute(1, 2, 0)
        vo = (vh @ w_out).reshape(b, n_heads * n_k, -1)  # B H*Nk E
        return attn.reshape(b, -1, n_heads * n_k) @ vo + self.out_proj.bias


def _token_mlp(
    embedding_dim: int, mlp_dim: int, act: type[nn.Module], layout: MlpLayout
) -> nn.Module:
    if layout == "sam":
        return MLPBlock(embedding_dim, mlp_dim, act)
    if layout == "sam2":
        return MLP(embedding_dim, mlp_dim, embedding_dim, num_layers=2, activation=act)
    raise ValueError(f"unknown mlp_layout {layout!r}")


class TwoWayAttentionBlock(nn.Module):
    """Token self-attention, token->image attention, token MLP, image->token attention."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int = 2048,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
        mlp_layout: MlpLayout = "sam",
    ) -> None:
        super().__init__()
        rate = attention_downsample_rate
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(embedding_dim, num_heads, downsample_rate=rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = _token_mlp(embedding_dim, mlp_dim, activation, mlp_layout)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(embedding_dim, num_heads, downsample_rate=rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self, queries: Tensor, keys: Tensor, query_pe: Tensor, key_pe: Tensor
    ) -> tuple[Tensor, Tensor]:
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)

        q = queries + query_pe
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))

        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        k = keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """Decoder that lets prompt tokens attend to an image embedding and back."""

    def __init__(
        self,
        depth: int,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
        mlp_layout: MlpLayout = "sam",
    ) -> None:
        super().__init__()
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                activation=activation,
                attention_downsample_rate=attention_downsample_rate,
                skip_first_layer_pe=(i == 0),
                mlp_layout=mlp_layout,
            )
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(
        self, image_embedding: Tensor, image_pe: Tensor, point_embedding: Tensor
    ) -> tuple[Tensor, Tensor]:
        """image_embedding, image_pe: B x C x h x w; point_embedding: B x N x C.

        Returns the processed tokens (B x N x C) and image tokens (B x hw x C).
        """
        image_embedding = image_embedding.flatten(2).permute(0, 2, 1)
        image_pe = image_pe.flatten(2).permute(0, 2, 1)
        queries, keys = point_embedding, image_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, image_pe)
        q = queries + point_embedding
        k = keys + image_pe
        queries = queries + self.final_attn_token_to_image(q, k, keys)
        return self.norm_final_attn(queries), keys
