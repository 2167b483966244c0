"""SAM mask decoder: output tokens + two-way transformer -> low-res mask logits and IoU scores.

Same keys and computation as segment-anything's `MaskDecoder`: an IoU token and
`num_multimask_outputs + 1` mask tokens, a hypernetwork MLP per mask token, an upscaling
path (x4) and an IoU head. `with_iou_head=False` drops the IoU token and head (OVSAM).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from annotator.nn.sam.common import MLP, LayerNorm2d, layer_norm_last
from annotator.nn.sam.transformer import ImageContext


class MaskDecoder(nn.Module):
    """Predicts masks from an image embedding and prompt embeddings."""

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        activation: type[nn.Module] = nn.GELU,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        with_iou_head: bool = True,
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1
        self.with_iou_head = with_iou_head
        # GEMM-based upscaling (see upscaled_masks); False runs the official NCHW modules
        self.fast_upscaling = True
        if with_iou_head:
            self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            activation(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            activation(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        if with_iou_head:
            self.iou_prediction_head = MLP(
                transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth
            )

    def forward(
        self,
        image_embeddings: Tensor,
        image_pe: Tensor,
        sparse_prompt_embeddings: Tensor,
        dense_prompt_embeddings: Tensor,
        num_multimask_outputs: int,
    ) -> tuple[Tensor, Tensor | None]:
        """Masks (B x C x 4h x 4w logits) and IoU predictions (B x C) of the selected tokens.

        `num_multimask_outputs`: all tokens (= num_mask_tokens), the multimask tokens
        1.. (= num_mask_tokens - 1, SAM's multimask output) or token 0 (= 1). EdgeSAM: 4/3/1.
        """
        masks, iou_pred = self.predict_masks(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings
        )
        sel = self.output_slice(num_multimask_outputs)
        return masks[:, sel], (iou_pred[:, sel] if iou_pred is not None else None)

    def output_slice(self, num_multimask_outputs: int) -> slice:
        """Which mask tokens a request for `num_multimask_outputs` masks returns."""
        if num_multimask_outputs == self.num_mask_tokens:
            return slice(0, None)
        if num_multimask_outputs == self.num_mask_tokens - 1 and num_multimask_outputs > 1:
            return slice(1, None)
        if num_multimask_outputs == 1:
            return slice(0, 1)
        raise ValueError(
            f"num_multimask_outputs must be 1, {self.num_mask_tokens - 1} or "
            f"{self.num_mask_tokens}, got {num_multimask_outputs}"
        )

    def output_tokens(self) -> Tensor:
        """The learned output tokens (IoU token first when present), T x C."""
        if self.with_iou_head:
            return torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        return self.mask_tokens.weight

    def predict_masks(
        self,
        image_embeddings: Tensor,
        image_pe: Tensor,
        sparse_prompt_embeddings: Tensor,
        dense_prompt_embeddings: Tensor,
    ) -> tuple[Tensor, Tensor | None]:
        """Masks and IoU predictions of every mask token (B = number of prompt sets)."""
        n = sparse_prompt_embeddings.size(0)
        tokens = self._tokens(sparse_prompt_embeddings)
        src = image_embeddings
        if src.shape[0] != n:
            src = torch.repeat_interleave(src, n, dim=0)
        src = src + dense_prompt_embeddings
        pos_src = image_pe
        if pos_src.shape[0] != n:
            pos_src = torch.repeat_interleave(pos_src, n, dim=0)
        hs, src = self.transformer(src, pos_src, tokens)
        return self._heads(hs, src, image_embeddings.shape[-2:])

    def image_context(
        self, image_embeddings: Tensor, image_pe: Tensor, dense_prompt_embeddings: Tensor
    ) -> ImageContext:
        """The per-image part of the decoder for one dense prompt (e.g. "no mask"), computed
        once per frame so that each click runs only the prompt-dependent rest."""
        return self.transformer.image_context(image_embeddings + dense_prompt_embeddings,
                                              image_pe)

    def forward_cached(
        self, context: ImageContext, sparse_prompt_embeddings: Tensor,
        size: tuple[int, int], num_multimask_outputs: int,
    ) -> tuple[Tensor, Tensor | None]:
        """`forward` for the image and dense prompt of `context` (one prompt set); `size` is
        the embedding's (h, w)."""
        hs, src = self.transformer.forward_cached(context, self._tokens(sparse_prompt_embeddings))
        masks, iou_pred = self._heads(hs, src, size)
        sel = self.output_slice(num_multimask_outputs)
        return masks[:, sel], (iou_pred[:, sel] if iou_pred is not None else None)

    def _tokens(self, sparse_prompt_embeddings: Tensor) -> Tensor:
        n = sparse_prompt_embeddings.size(0)
        output_tokens = self.output_tokens().unsqueeze(0).expand(n, -1, -1)
        return torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

    def _heads(
        self, hs: Tensor, src: Tensor, size: tuple[int, int] | torch.Size
    ) -> tuple[Tensor, Tensor | None]:
        """Mask logits from the mask tokens and image tokens (B x hw x C), IoU from its token."""
        b, c = src.shape[0], src.shape[-1]
        h, w = size
        first = 1 if self.with_iou_head else 0
        mask_tokens_out = hs[:, first : first + self.num_mask_tokens, :]

        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        if self.fast_upscaling:
            masks = upscaled_masks(self.output_upscaling, src.reshape(b, h, w, c), hyper_in)
        else:  # the official formulation
            upscaled = self.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
            b, c, h, w = upscaled.shape
            masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
        iou_pred = self.iou_prediction_head(hs[:, 0, :]) if self.with_iou_head else None
        return masks, iou_pred


def upscaled_masks(upscaling: nn.Sequential, src: Tensor, hyper_in: Tensor,
                   rows: int = 16) -> Tensor:
    """SAM's output_upscaling + hypernetwork product on channels-last tokens (B x h x w x C);
    hyper_in: B x T x C/8. Returns B x T x 4h x 4w mask logits.

    Same computation as the official NCHW path up to float rounding, much faster on CPU:
    each 2x2/stride-2 transposed conv is a GEMM per output sub-row (dy, then ey), so every
    product writes whole rows of the 4x upscaled masks and no pixel shuffle is needed;
    `rows` embedding rows at a time keep the 16x larger intermediates in cache.
    """
    dc1, ln, act1, dc2, act2 = upscaling
    b, h, w, c = src.shape
    w1, b1 = _sub_row_weights(dc1)
    w2, b2 = _sub_row_weights(dc2)
    c1, c2 = dc1.out_channels, dc2.out_channels
    t = hyper_in.shape[1]
    masks = src.new_empty(b, t, h, 2, 2, 4 * w)  # (row, dy, ey, (col, dx, ex)) = 4h x 4w
    for i in range(b):
        for top in range(0, h, rows):
            x = src[i, top : top + rows].reshape(-1, c)
            n = x.shape[0] // w
            for dy in range(2):
                y = act1(layer_norm_last(torch.addmm(b1, x, w1[dy]).view(-1, c1), ln))
                for ey in range(2):  # y rows: (row, col, dx); z rows: (row, col, dx, ex)
                    z = act2(torch.addmm(b2, y, w2[ey]).view(-1, c2))
                    sub = (hyper_in[i] @ z.T).view(t, n, 4 * w)
                    masks[i, :, top : top + n, dy, ey].copy_(sub)
    return masks.view(b, t, 4 * h, 4 * w)


def _sub_row_weights(conv: nn.ConvTranspose2d) -> tuple[list[Tensor], Tensor]:
    """A 2x2/stride-2 ConvTranspose2d as two GEMM weights (Cin x (dx, Cout)), one per output
    sub-row dy, and the matching bias (dx, Cout)."""
    w = conv.weight.permute(2, 0, 3, 1)  # dy, Cin, dx, Cout
    weights = [w[dy].reshape(conv.in_channels, -1).contiguous() for dy in range(2)]
    assert conv.bias is not None
    return weights, conv.bias.repeat(2)
