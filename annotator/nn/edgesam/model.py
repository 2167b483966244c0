"""The EdgeSAM model: RepViT-m1 image encoder + SAM prompt encoder + SAM mask decoder.

State-dict layout = the official `Sam` of chongzhou96/EdgeSAM (`image_encoder.*`,
`prompt_encoder.*`, `mask_decoder.*`); `pixel_mean` / `pixel_std` are non-persistent.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from annotator.nn.edgesam.rep_vit import RepViT, fuse_repvit
from annotator.nn.sam import Attention, MaskDecoder, PromptEncoder, TwoWayTransformer
from annotator.nn.sam.common import resize_bilinear

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
IMG_SIZE = 1024
EMBED_DIM = 256


class EdgeSam(nn.Module):
    """Image encoder (slow, once per frame) and prompt encoder + mask decoder (per prompt)."""

    mask_threshold: float = 0.0
    image_format: str = "RGB"

    def __init__(self, upsample_mode: str = "bicubic") -> None:
        super().__init__()
        grid = IMG_SIZE // 16
        self.image_encoder = RepViT(img_size=IMG_SIZE, upsample_mode=upsample_mode)
        self.prompt_encoder = PromptEncoder(
            embed_dim=EMBED_DIM,
            image_embedding_size=(grid, grid),
            input_image_size=(IMG_SIZE, IMG_SIZE),
            mask_in_chans=16,
        )
        transformer = TwoWayTransformer(depth=2, embedding_dim=EMBED_DIM, num_heads=8, mlp_dim=2048)
        self.mask_decoder = MaskDecoder(
            transformer_dim=EMBED_DIM,
            transformer=transformer,
            num_multimask_outputs=3,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        )
        mean = torch.tensor(PIXEL_MEAN).view(-1, 1, 1)
        std = torch.tensor(PIXEL_STD).view(-1, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        self.is_fused = False

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess(self, x: Tensor) -> Tensor:
        """Normalise a B x 3 x h x w 0..255 RGB tensor and zero-pad it bottom/right to 1024."""
        x = (x - self.pixel_mean) / self.pixel_std
        h, w = x.shape[-2:]
        return F.pad(x, (0, IMG_SIZE - w, 0, IMG_SIZE - h))

    def postprocess_masks(
        self, masks: Tensor, input_size: tuple[int, int], original_size: tuple[int, int]
    ) -> Tensor:
        """Low-res logits -> 1024 -> crop the unpadded input -> original frame size (bilinear).

        Only the low-res rows/columns that reach the crop are upsampled: with the same scale
        factor the kept pixels are bit-identical to upsampling everything, for less work.
        """
        h, w = masks.shape[-2:]
        sh, sw = IMG_SIZE / h, IMG_SIZE / w
        rows = min(h, math.ceil(input_size[0] / sh) + 1)
        cols = min(w, math.ceil(input_size[1] / sw) + 1)
        up = F.interpolate(
            masks[..., :rows, :cols], scale_factor=(sh, sw), mode="bilinear", align_corners=False
        )
        up = up[..., : input_size[0], : input_size[1]]
        return resize_bilinear(up, original_size)

    def postprocess_masks_reference(
        self, masks: Tensor, input_size: tuple[int, int], original_size: tuple[int, int]
    ) -> Tensor:
        """The official two-step postprocessing, kept to test `postprocess_masks` against."""
        masks = resize_bilinear(masks, (IMG_SIZE, IMG_SIZE))
        masks = masks[..., : input_size[0], : input_size[1]]
        return resize_bilinear(masks, original_size)

    def fuse(self) -> EdgeSam:
        """Speed up inference in place: re-parameterise the encoder (Conv+BN, RepVGG branches)
        and switch the decoder's cross-attentions to their factorised form.

        Call after loading weights; afterwards the state dict no longer matches the checkpoint.
        Outputs agree with the unfused model to float rounding (checked by the parity test).
        """
        if not self.is_fused:
            fuse_repvit(self.image_encoder)
            for module in self.mask_decoder.modules():
                if isinstance(module, Attention):
                    module.factorized = True
            self.is_fused = True
        return self.eval()
