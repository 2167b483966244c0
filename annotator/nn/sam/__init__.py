"""SAM parts shared by several model families (EdgeSAM, SAM 2 / EdgeTAM, OVSAM).

Keys match the official segment-anything state dicts.
"""

from annotator.nn.sam.common import MLP, LayerNorm2d, MLPBlock
from annotator.nn.sam.mask_decoder import MaskDecoder
from annotator.nn.sam.prompt_encoder import PositionEmbeddingRandom, PromptEncoder
from annotator.nn.sam.transformer import Attention, TwoWayAttentionBlock, TwoWayTransformer

__all__ = [
    "MLP",
    "Attention",
    "LayerNorm2d",
    "MLPBlock",
    "MaskDecoder",
    "PositionEmbeddingRandom",
    "PromptEncoder",
    "TwoWayAttentionBlock",
    "TwoWayTransformer",
]
