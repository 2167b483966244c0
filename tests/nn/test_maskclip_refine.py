"""MaskCLIP refinements (prompt denoising, key smoothing) and its keep-ratio input size."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from annotator.nn.clip.maskclip import (
    key_smooth,
    preprocess,
    prompt_denoise,
    rescale_size,
    resize_pos_embed,
)


def test_prompt_denoise_masks_whole_weak_classes() -> None:
    logits = torch.tensor([[[[0.30, 0.30]], [[0.29, 0.20]]]])  # (1, 2 classes, 1, 2)
    # class 1's best pixel: softmax(100 * [0.30, 0.29]) = 1 / (1 + e) = 0.27
    out = prompt_denoise(logits, 0.5)
    assert torch.equal(out[0, 0], logits[0, 0])
    assert torch.equal(out[0, 1], torch.full((1, 2), -100.0))
    assert torch.equal(prompt_denoise(logits, 0.2), logits)
    assert torch.equal(prompt_denoise(logits, 0.0), logits)


def test_key_smoothing_normalises_keys_over_tokens() -> None:
    logits = torch.tensor([[[[0.30, 0.0]], [[0.0, 0.01]]]])  # (1, 2, 1, 2)
    keys = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])  # (1, 2 tokens, 2 channels)
    probs = torch.softmax(logits * 100, dim=1)
    # unit norm over the token axis: both tokens 1/sqrt(2) -> affinity 0.5 everywhere: a mean
    everywhere = key_smooth(logits, keys, 1.01)
    expected = probs.mean(dim=(2, 3), keepdim=True).expand_as(probs)
    torch.testing.assert_close(everywhere, expected)
    # only pixel 1 (max prob 0.73) is below 0.9; pixel 0 (max prob ~1) keeps its probabilities
    some = key_smooth(logits, keys, 0.9)
    torch.testing.assert_close(some[..., 0], probs[..., 0])
    torch.testing.assert_close(some[..., 1], expected[..., 1])
    assert torch.equal(key_smooth(logits, keys, 0.0), logits)


def test_resize_pos_embed_keeps_class_position() -> None:
    pos = torch.randn(1, 1 + 14 * 14, 8)
    out = resize_pos_embed(pos, (28, 20))
    assert out.shape == (1, 1 + 28 * 20, 8)
    assert torch.equal(out[:, 0], pos[:, 0])
    same = resize_pos_embed(pos, (14, 14))
    torch.testing.assert_close(same, pos)


@pytest.mark.parametrize(
    ("hw", "expected"),
    [((540, 960), (512, 910)), ((512, 512), (512, 512)), ((100, 3000), (68, 2048))],
)
def test_rescale_size_follows_mmcv(hw: tuple[int, int], expected: tuple[int, int]) -> None:
    assert rescale_size(*hw, short_side=512, long_side=2048) == expected


def test_preprocess_normalises_with_imagenet_statistics() -> None:
    rgb = np.full((20, 30, 3), (124, 116, 104), dtype=np.uint8)
    x = preprocess(rgb, short_side=10, long_side=100)
    assert x.shape == (1, 3, 10, 15)
    expected = [(124 - 123.675) / 58.395, (116 - 116.28) / 57.12, (104 - 103.53) / 57.375]
    for channel, value in enumerate(expected):
        assert math.isclose(float(x[0, channel].mean()), value, rel_tol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        preprocess(rgb.astype(np.float32), 10, 100)
