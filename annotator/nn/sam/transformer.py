"""SAM two-way transformer: prompt tokens and image tokens attend to each other.

Same keys and computation as segment-anything's `TwoWayTransformer`. SAM 2 uses the same
module with its token MLP stored as `mlp.layers.{0,1}` instead of `mlp.lin{1,2}`: pick that
with `mlp_layout="sam2"`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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

    def forward(self, q: Tensor, k: Tensor, v: Tensor, residual: Tensor | None = None) -> Tensor:
        """Attention output, plus `residual` when given (fused into the last product where the
        factorised form allows)."""
        if self.factorized and q.shape[1] != k.shape[1]:
            if q.shape[1] < k.shape[1]:
                out = self._few_queries(q, k, v)
            else:
                return self._few_keys(q, k, v, residual)
        else:
            q = self._separate_heads(self.q_proj(q))
            k = self._separate_heads(self.k_proj(k))
            v = self._separate_heads(self.v_proj(v))
            attn = q @ k.permute(0, 1, 3, 2)
            attn = attn / math.sqrt(q.shape[-1])
            attn = torch.softmax(attn, dim=-1)
            out = self.out_proj(self._recombine_heads(attn @ v))
        return out if residual is None else residual + out

    # Factorised forms (`factorized = True`), for a handful of prompt tokens against thousands
    # of image tokens: the projections of the many tokens are folded into the few, which cuts
    # the decoder's work about in half. Same maths, different float rounding (~1e-6).
    factorized = False

    def _heads_weight(self, linear: nn.Linear) -> Tensor:
        """(H, d, D_in) per-head slices of a projection into the internal width."""
        return linear.weight.reshape(self.num_heads, -1, linear.in_features)

    def _few_queries(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Attention of few queries to many keys/values: project the queries, not the keys.

        All heads' queries share one (B, Nk, Din) x (B, Din, H*Nq) product, so the many keys
        are read once rather than broadcast per head; the scores stay key-major (Nk rows), the
        layout in which both the product and the softmax run fastest on CPU."""
        b, n_q, _ = q.shape
        scale = 1.0 / math.sqrt(self.internal_dim // self.num_heads)
        qh = self._separate_heads(self.q_proj(q)) * scale  # B H Nq d
        qk = (qh @ self._heads_weight(self.k_proj)).reshape(b, -1, k.shape[-1])  # B H*Nq Din
        bias = (qh * self.k_proj.bias.reshape(self.num_heads, 1, -1)).sum(-1).reshape(b, 1, -1)
        attn = torch.softmax(torch.baddbmm(bias, k, qk.transpose(1, 2)), dim=1)  # B Nk H*Nq
        ctx = (attn.transpose(1, 2) @ v).reshape(b, self.num_heads, n_q, -1)  # rows sum to 1
        wv = self._heads_weight(self.v_proj)  # H d Din
        out = ctx @ wv.transpose(1, 2) + self.v_proj.bias.reshape(self.num_heads, 1, -1)
        return self.out_proj(self._recombine_heads(out))

    def _few_keys(self, q: Tensor, k: Tensor, v: Tensor, residual: Tensor | None = None) -> Tensor:
        """Attention of many queries to few keys/values: fold q_proj / out_proj into them."""
        kh = self._separate_heads(self.k_proj(k))  # B H Nk d
        scale = 1.0 / math.sqrt(kh.shape[-1])
        kq = (kh @ self._heads_weight(self.q_proj)) * scale  # B H Nk Dq
        bias = (kh * self.q_proj.bias.reshape(self.num_heads, 1, -1)).sum(-1) * scale  # B H Nk
        b, n_heads, n_k, _ = kq.shape
        kq = kq.transpose(1, 2).reshape(b, n_k * n_heads, -1)  # key-major: (Nk, H) columns
        scores = torch.baddbmm(bias.transpose(1, 2).reshape(b, 1, -1), q, kq.transpose(1, 2))
        return self._attend_few(scores, self._separate_heads(self.v_proj(v)), residual)

    def _attend_few(self, scores: Tensor, vh: Tensor, residual: Tensor | None = None) -> Tensor:
        """Softmax over each head's few keys, then values through out_proj in one product.

        scores: B x Nq x Nk*H, scaled, key-major (column j*H + h is key j of head h), so the
        softmax runs over a strided axis with the heads contiguous: far faster on CPU than a
        softmax over an innermost axis of a few keys. vh: B x H x Nk x d. With `residual`, the
        out_proj bias rides in the values (each row's weights sum to H over its Nk*H columns)
        and the product accumulates onto the residual: no separate pass over the many tokens.
        """
        b, n_heads, n_k, d = vh.shape
        attn = torch.softmax(scores.reshape(b, -1, n_k, n_heads), dim=-2)
        w_out = self.out_proj.weight.reshape(-1, n_heads, d).permute(1, 2, 0)  # H d E
        vo = (vh @ w_out).transpose(1, 2).reshape(b, n_k * n_heads, -1)  # B Nk*H E
        attn = attn.reshape(b, -1, n_k * n_heads)
        if residual is None:
            return torch.baddbmm(self.out_proj.bias, attn, vo)
        return torch.baddbmm(residual, attn, vo + self.out_proj.bias / n_heads)

    # Cached forms for keys/values that do not depend on the prompt (the first two-way layer).

    def cache_keys(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """(k_proj(k), v_proj(v)) as B x Din x Nk and B x H x Nk x d, for `cached_keys`."""
        values = self._separate_heads(self.v_proj(v)).contiguous()
        return self.k_proj(k).transpose(1, 2).contiguous(), values

    def cached_keys(self, q: Tensor, keys_t: Tensor, values: Tensor) -> Tensor:
        """Attention of few queries to keys/values projected once by `cache_keys`."""
        b = q.shape[0]
        d = self.internal_dim // self.num_heads
        qh = self._separate_heads(self.q_proj(q)) * (1.0 / math.sqrt(d))  # B H Nq d
        kt = keys_t.reshape(b, self.num_heads, d, -1)  # B H d Nk
        attn = torch.softmax(qh @ kt, dim=-1)  # B H Nq Nk
        return self.out_proj(self._recombine_heads(attn @ values))

    def cached_queries(
        self, q_proj: Tensor, k: Tensor, v: Tensor, residual: Tensor | None = None
    ) -> Tensor:
        """Attention of many queries, projected once (`q_proj(q)`, B x Nq x Dq), to few keys.

        The few keys' heads form a block-diagonal (Dq, Nk*H) matrix, so all heads' scores come
        from one product."""
        kh = self._separate_heads(self.k_proj(k))  # B H Nk d
        b, n_heads, n_k, d = kh.shape
        block = torch.zeros(b, n_heads, d, n_k, n_heads, dtype=kh.dtype, device=kh.device)
        idx = torch.arange(n_heads, device=kh.device)
        block[:, idx, :, :, idx] = kh.permute(1, 0, 3, 2) * (1.0 / math.sqrt(d))
        scores = q_proj @ block.reshape(b, n_heads * d, n_k * n_heads)  # B Nq Nk*H
        return self._attend_few(scores, self._separate_heads(self.v_proj(v)), residual)


@dataclass(frozen=True)
class ImageContext:
    """One image's tokens as the first two-way layer sees them, with the projections that do
    not depend on the prompt (valid while the dense prompt is the same, e.g. no mask input)."""

    tokens: Tensor  # B x N x C: image embedding + dense prompt embedding
    pos: Tensor  # B x N x C: positional encoding
    t2i_keys: Tensor  # B x Din x N: token->image k_proj(tokens + pos), transposed
    t2i_values: Tensor  # B x H x N x d: token->image v_proj(tokens), heads apart
    i2t_queries: Tensor  # B x N x Din: image->token q_proj(tokens + pos)


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
        queries = self._self_attend(queries, query_pe)

        q = queries + query_pe
        k = keys + key_pe  # keys do not change until the image->token attention
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))

        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        keys = self.norm4(self.cross_attn_image_to_token(k, q, queries, residual=keys))
        return queries, keys

    def _self_attend(self, queries: Tensor, query_pe: Tensor) -> Tensor:
        """Token self-attention (without PE in the first layer, as SAM), then norm1."""
        if self.skip_first_layer_pe:
            return self.norm1(self.self_attn(queries, queries, queries))
        q = queries + query_pe
        return self.norm1(queries + self.self_attn(q, q, queries))

    def forward_cached(
        self, queries: Tensor, context: ImageContext, query_pe: Tensor
    ) -> tuple[Tensor, Tensor]:
        """`forward` on the image tokens of `context`, reusing their projections."""
        queries = self._self_attend(queries, query_pe)

        attn = self.cross_attn_token_to_image.cached_keys(
            queries + query_pe, context.t2i_keys, context.t2i_values
        )
        queries = self.norm2(queries + attn)
        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        keys = self.cross_attn_image_to_token.cached_queries(
            context.i2t_queries, q, queries, residual=context.tokens
        )
        return queries, self.norm4(keys)

    def image_context(self, tokens: Tensor, pos: Tensor) -> ImageContext:
        """The prompt-independent projections of image tokens entering this block."""
        k = tokens + pos
        keys_t, values = self.cross_attn_token_to_image.cache_keys(k, tokens)
        return ImageContext(tokens, pos, keys_t, values, self.cross_attn_image_to_token.q_proj(k))


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
        return self._final(queries, keys, point_embedding, image_pe)

    def image_context(self, image_embedding: Tensor, image_pe: Tensor) -> ImageContext:
        """Precompute what the first layer does to the image alone (B x C x h x w inputs):
        with it, `forward_cached` skips a third of the per-prompt work."""
        tokens = image_embedding.flatten(2).transpose(1, 2).contiguous()
        pos = image_pe.flatten(2).transpose(1, 2).contiguous()
        return self.layers[0].image_context(tokens, pos)

    def forward_cached(
        self, context: ImageContext, point_embedding: Tensor
    ) -> tuple[Tensor, Tensor]:
        """`forward` for the image embedding and PE that made `context` (batch 1)."""
        queries, keys = self.layers[0].forward_cached(point_embedding, context, point_embedding)
        for layer in self.layers[1:]:
            queries, keys = layer(queries, keys, point_embedding, context.pos)
        return self._final(queries, keys, point_embedding, context.pos)

    def _final(
        self, queries: Tensor, keys: Tensor, point_embedding: Tensor, image_pe: Tensor
    ) -> tuple[Tensor, Tensor]:
        q = queries + point_embedding
        k = keys + image_pe
        queries = queries + self.final_attn_token_to_image(q, k, keys)
        return self.norm_final_attn(queries), keys
