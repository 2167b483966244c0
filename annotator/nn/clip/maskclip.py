"""Dense CLIP labels: MaskCLIP, first published as "DenseCLIP: Extract Free Dense Labels from CLIP".

(chongzhou96/MaskCLIP; not raoyongming/DenseCLIP.) Training-free: a frozen CLIP ViT whose last
layer also runs a "value path" (q/k/v each through `out_proj`, residual, MLP, `ln_post`) that
gives one feature per patch; projected by CLIP's `visual.proj` and compared (cosine) with CLIP
text embeddings of the class names, it labels every patch. Follows the official
`VisionTransformer(return_qkv=True)`, `MaskClipHead` and `EncoderDecoder` ('whole' mode)
computations, including corner padding, bicubic position-embedding resizing, and the optional
prompt denoising / key smoothing refinements (off by default, as in the MaskCLIP configs).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from annotator.nn.clip.checkpoint import load_clip
from annotator.nn.clip.model import CLIP, MASKCLIP_NUMERICS, VIT_B16, ClipConfig, VisionTransformer
from annotator.nn.clip.templates import MASKCLIP_TEMPLATES
from annotator.nn.clip.tokenizer import ClipTokenizer

# MaskCLIP's img_norm_cfg: ImageNet statistics on the 0..255 scale, RGB (not CLIP's).
MASKCLIP_MEAN = (123.675, 116.28, 103.53)
MASKCLIP_STD = (58.395, 57.12, 57.375)
LOGIT_SCALE = 100.0  # CLIP's temperature, used by prompt denoising, key smoothing and scores


@dataclass(frozen=True)
class DenseFeatures:
    """Outputs of the modified backbone for one batch (class token dropped)."""

    x: torch.Tensor  # (N, C, h, w) ordinary last-layer output after ln_post (unused by the head)
    q: torch.Tensor  # (N, h*w, C) last layer's q after out_proj
    k: torch.Tensor  # (N, h*w, C) last layer's k after out_proj (key smoothing uses it)
    v: torch.Tensor  # (N, C, h, w) value path after ln_post: the dense patch features


def resize_pos_embed(pos_embed: torch.Tensor, grid_hw: tuple[int, int]) -> torch.Tensor:
    """(1, 1 + g*g, C) -> (1, 1 + h*w, C): bicubic (align_corners=False) on the patch part;
    the class position is kept (mmseg `VisionTransformer.resize_pos_embed`)."""
    g = math.isqrt(pos_embed.shape[1] - 1)
    cls_pos = pos_embed[:, :1]
    grid = pos_embed[:, -g * g :].reshape(1, g, g, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=grid_hw, mode="bicubic", align_corners=False)
    return torch.cat([cls_pos, grid.flatten(2).transpose(1, 2)], dim=1)


def dense_forward(visual: VisionTransformer, x: torch.Tensor) -> DenseFeatures:
    """Normalised (N, 3, H, W) images -> `DenseFeatures` on a ceil(H/p) x ceil(W/p) grid."""
    n, _, height, width = x.shape
    p = visual.patch_size
    x = F.pad(x, (0, (-width) % p, 0, (-height) % p))  # padding='corner': bottom/right zeros
    x = visual.conv1(x)
    h, w = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([visual.class_embedding.to(x.dtype).expand(n, 1, -1), x], dim=1)
    pos = visual.positional_embedding.to(x.dtype)[None]
    if x.shape[1] != pos.shape[1]:  # the official check: equal lengths are used as they are
        pos = resize_pos_embed(pos, (h, w))
    x = visual.ln_pre(x + pos).transpose(0, 1)  # NLD -> LND
    blocks = list(visual.transformer.resblocks)
    for block in blocks[:-1]:
        x = block(x)
    last = blocks[-1]
    y = F.linear(last.ln_1(x), last.attn.in_proj_weight, last.attn.in_proj_bias)
    q, k, v = (last.attn.out_proj(t) for t in y.chunk(3, dim=-1))
    v = v + x
    v = v + last.mlp(last.ln_2(v))
    x = last(x)
    x, v = visual.ln_post(x), visual.ln_post(v)

    def patches(t: torch.Tensor) -> torch.Tensor:
        return t[1:].transpose(0, 1)  # LND -> N(L-1)D without the class token

    def grid(t: torch.Tensor) -> torch.Tensor:
        return patches(t).reshape(n, h, w, -1).permute(0, 3, 1, 2)

    return DenseFeatures(x=grid(x), q=patches(q), k=patches(k), v=grid(v))


def project(visual: VisionTransformer, v: torch.Tensor) -> torch.Tensor:
    """MaskClipHead.proj: 1x1 conv with weight visual.proj^T, no bias -> (N, D, h, w)."""
    return F.conv2d(v, visual.proj.t()[:, :, None, None])


def cosine_logits(proj_v: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    """MaskClipHead.cls_seg: unit-normalise features over channels, 1x1 conv with (K, D) text."""
    feat = proj_v / proj_v.norm(dim=1, keepdim=True)
    return F.conv2d(feat, text_embeddings[:, :, None, None])


def prompt_denoise(logits: torch.Tensor, thresh: float) -> torch.Tensor:
    """Classes whose best pixel has softmax(100 * logits) < thresh get logit -100 everywhere."""
    if thresh <= 0:
        return logits
    probs = F.softmax(logits * LOGIT_SCALE, dim=1)
    weak = probs.flatten(2).max(dim=-1).values < thresh  # (N, K)
    return logits.masked_fill(weak[:, :, None, None], -100.0)


def key_smooth(logits: torch.Tensor, k: torch.Tensor, thresh: float) -> torch.Tensor:
    """Replace probabilities of pixels with max prob < thresh by affinity-weighted sums.

    As the official head: P = softmax(100 * logits); k is L2-normalised with F.normalize's
    default dim=1, i.e. over the token axis of (N, HW, C); W = k k^T (no softmax). The result
    is probabilities, not logits.
    """
    if thresh <= 0:
        return logits
    n, c, h, w = logits.shape
    probs = F.softmax(logits * LOGIT_SCALE, dim=1).reshape(n, c, h * w).transpose(1, 2)
    k = F.normalize(k, p=2)
    smoothed = (k @ k.transpose(1, 2)) @ probs
    selected = probs.max(dim=-1, keepdim=True).values < thresh
    probs = torch.where(selected, smoothed, probs)
    return probs.transpose(1, 2).reshape(n, c, h, w)


@torch.inference_mode()
def class_embedding(model: CLIP, tokens: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """(D,) unit vector: mean of the unit text embeddings of one class's prompts (T, 77),
    re-normalised (MaskCLIP `zeroshot_classifier`, one class)."""
    emb = torch.cat([model.encode_text(chunk, trim=True) for chunk in tokens.split(batch_size)])
    emb = emb / emb.norm(dim=-1, keepdim=True)
    mean = emb.mean(dim=0)
    return mean / mean.norm()


def text_classifier(
    model: CLIP, tokenizer: ClipTokenizer, class_names: Sequence[str], templates: Sequence[str]
) -> torch.Tensor:
    """(K, D) classifier rows: `class_embedding` of each name formatted into every template."""
    device = model.positional_embedding.device
    rows = []
    for name in class_names:
        tokens = torch.from_numpy(tokenizer([t.format(name) for t in templates])).to(device)
        rows.append(class_embedding(model, tokens))
    return torch.stack(rows)


def rescale_size(height: int, width: int, short_side: int, long_side: int) -> tuple[int, int]:
    """mmcv `imrescale` keep-ratio size for img_scale (long_side, short_side): (h, w)."""
    scale = min(long_side / max(height, width), short_side / min(height, width))
    return int(height * scale + 0.5), int(width * scale + 0.5)


def preprocess(rgb: np.ndarray, short_side: int, long_side: int) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> (1, 3, h, w) float32 as MaskCLIP's test pipeline: cv2 bilinear
    keep-ratio resize, ImageNet mean/std (multiplied by 1/std as mmcv.imnormalize)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}")
    h, w = rescale_size(rgb.shape[0], rgb.shape[1], short_side, long_side)
    img = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mean = np.asarray(MASKCLIP_MEAN, dtype=np.float32)
    stdinv = (1.0 / np.asarray(MASKCLIP_STD, dtype=np.float64)).astype(np.float32)
    img = (img - mean) * stdinv
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


@dataclass(frozen=True)
class EncodedFrame:
    """The expensive, class-independent part of a label map: computed once per frame."""

    features: torch.Tensor  # (1, D, h, w) projected dense features proj(v)
    keys: torch.Tensor  # (1, h*w, C) last-layer keys, for key smoothing
    input_hw: tuple[int, int]  # network input size (after the keep-ratio resize, before padding)
    image_hw: tuple[int, int]  # original frame size


@dataclass(frozen=True)
class LabelMap:
    """Per-pixel labels over `class_names`, at the frame's size."""

    labels: np.ndarray  # (H, W) int64 index into class_names
    scores: np.ndarray  # (K, H, W) float32 softmax(100 * cosine) (probabilities after smoothing)
    class_names: tuple[str, ...]


class DenseClip:
    """Open-vocabulary dense labels for the app: class names or a phrase in, maps out.

    `encode(rgb)` runs the image tower once per frame; `label_map` and `heatmap` then cost only
    a 1x1 classifier and resizing, and text embeddings are cached per class name.
    """

    def __init__(
        self,
        model: CLIP,
        tokenizer: ClipTokenizer,
        *,
        templates: Sequence[str],
        short_side: int = 512,
        long_side: int = 2048,
        pd_thresh: float = 0.0,
        ks_thresh: float = 0.0,
    ) -> None:
        """`model` must run MaskCLIP numerics on its image tower for official results
        (`CLIP(cfg, MASKCLIP_NUMERICS)`); (short_side, long_side) is the test img_scale."""
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.templates = tuple(templates)
        self.short_side = short_side
        self.long_side = long_side
        self.pd_thresh = pd_thresh
        self.ks_thresh = ks_thresh
        self._text_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def from_files(
        cls,
        checkpoint: str | os.PathLike[str],
        vocab: str | os.PathLike[str],
        *,
        templates: Sequence[str] = MASKCLIP_TEMPLATES,
        device: torch.device | str = "cpu",
        config: ClipConfig = VIT_B16,
        **options: float,
    ) -> DenseClip:
        """Official OpenAI CLIP `.pt` + BPE vocabulary -> a DenseClip with MaskCLIP numerics."""
        model = load_clip(checkpoint, config, MASKCLIP_NUMERICS).to(device)
        return cls(model, ClipTokenizer(vocab), templates=templates, **options)

    @property
    def device(self) -> torch.device:
        return self.model.positional_embedding.device

    def text_embeddings(self, class_names: Sequence[str]) -> torch.Tensor:
        """(K, D) classifier rows for `class_names` (cached per name and template set)."""
        todo = [n for n in dict.fromkeys(class_names) if n not in self._text_cache]
        if todo:
            rows = text_classifier(self.model, self.tokenizer, todo, self.templates)
            self._text_cache.update(zip(todo, rows, strict=True))
        return torch.stack([self._text_cache[n] for n in class_names])

    @torch.inference_mode()
    def encode(self, rgb: np.ndarray) -> EncodedFrame:
        """Run the modified image tower on a uint8 (H, W, 3) RGB frame."""
        x = preprocess(rgb, self.short_side, self.long_side).to(self.device)
        feats = dense_forward(self.model.visual, x)
        return EncodedFrame(
            features=project(self.model.visual, feats.v),
            keys=feats.k,
            input_hw=(x.shape[2], x.shape[3]),
            image_hw=(rgb.shape[0], rgb.shape[1]),
        )

    @torch.inference_mode()
    def frame_logits(
        self, frame: EncodedFrame, class_names: Sequence[str], refine: bool = True
    ) -> torch.Tensor:
        """(1, K, H, W) head output at frame size: cosine logits, or probabilities when key
        smoothing is on (refined on the grid, then resized as EncoderDecoder + whole_inference)."""
        logits = cosine_logits(frame.features, self.text_embeddings(class_names))
        if refine:
            logits = prompt_denoise(logits, self.pd_thresh)
            logits = key_smooth(logits, frame.keys, self.ks_thresh)
        logits = F.interpolate(logits, size=frame.input_hw, mode="bilinear", align_corners=False)
        return F.interpolate(logits, size=frame.image_hw, mode="bilinear", align_corners=False)

    def label_map(self, image: np.ndarray | EncodedFrame, class_names: Sequence[str]) -> LabelMap:
        """Argmax labels and per-class scores over `class_names` (no implicit background:
        add names such as 'wall', 'floor', 'sky' to let pixels fall outside the objects)."""
        if not class_names:
            raise ValueError("label_map needs at least one class name")
        frame = image if isinstance(image, EncodedFrame) else self.encode(image)
        out = self.frame_logits(frame, class_names)[0]
        scores = out if self.ks_thresh > 0 else F.softmax(out * LOGIT_SCALE, dim=0)
        return LabelMap(
            labels=out.argmax(dim=0).cpu().numpy(),
            scores=scores.float().cpu().numpy(),
            class_names=tuple(class_names),
        )

    def heatmap(
        self, image: np.ndarray | EncodedFrame, phrase: str, background: Sequence[str] = ()
    ) -> np.ndarray:
        """(H, W) float32 map of where `phrase` is: its cosine similarity, or, with `background`
        names, its probability against them (softmax(100 * cosine)); peaks locate the phrase."""
        frame = image if isinstance(image, EncodedFrame) else self.encode(image)
        names = [phrase, *background]
        out = self.frame_logits(frame, names, refine=bool(background))[0]
        if background and self.ks_thresh <= 0:
            out = F.softmax(out * LOGIT_SCALE, dim=0)
        return out[0].float().cpu().numpy()
