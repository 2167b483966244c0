"""CLIP ModifiedResNet towers: OpenAI key layout, config from a state dict, the forward shapes."""

from __future__ import annotations

import torch

from annotator.nn.clip.checkpoint import clip_from_state_dict
from annotator.nn.clip.model import CLIP, RN50X16, ClipConfig, config_from_state_dict
from annotator.nn.clip.resnet import ModifiedResNet

TINY_RN = ClipConfig(32, 64, (1, 2, 1, 1), 8, 0, 77, 600, 64, 1, 1)


def test_rn50x16_visual_keys_match_openai_layout() -> None:
    with torch.device("meta"):
        model = CLIP(RN50X16)
    keys = [k for k in model.state_dict() if k.startswith("visual.")]
    # (6 + 8 + 18 + 8) blocks x 3 conv/bn pairs + 4 shortcuts, BN with 5 entries, + stem + attnpool
    assert len(keys) == 771
    assert "visual.layer2.0.downsample.0.weight" in keys
    assert "visual.layer2.0.downsample.1.running_var" in keys
    assert model.visual.attnpool.positional_embedding.shape == (145, 3072)
    assert model.visual.attnpool.c_proj.weight.shape == (768, 3072)
    assert isinstance(model.visual, ModifiedResNet)


def test_config_roundtrip_and_strict_load() -> None:
    torch.manual_seed(0)
    model = CLIP(TINY_RN).eval()
    state = model.state_dict()
    assert config_from_state_dict(state) == TINY_RN
    loaded = clip_from_state_dict(state, TINY_RN)
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_image(image), model.encode_image(image))


def test_stages_and_pool_shapes() -> None:
    torch.manual_seed(0)
    tower = ModifiedResNet((1, 1, 1, 1), output_dim=16, heads=4, input_resolution=64, width=8)
    tower.eval()
    with torch.no_grad():
        c2, c3, c4, c5 = tower.forward_stages(torch.randn(1, 3, 64, 64))
        pooled = tower(torch.randn(3, 3, 64, 64))
    assert c2.shape == (1, 32, 16, 16)
    assert c3.shape == (1, 64, 8, 8)
    assert c4.shape == (1, 128, 4, 4)
    assert c5.shape == (1, 256, 2, 2)
    assert pooled.shape == (3, 16)


def test_attention_pool_is_mean_token_attention() -> None:
    """The pool equals explicit multi-head attention of the mean token over all cells."""
    torch.manual_seed(0)
    tower = ModifiedResNet((1, 1, 1, 1), output_dim=16, heads=4, input_resolution=64, width=8)
    pool = tower.attnpool.eval()
    x = torch.randn(2, 256, 2, 2)
    tokens = x.flatten(2).permute(0, 2, 1)  # N, HW, C
    tokens = torch.cat([tokens.mean(1, keepdim=True), tokens], 1) + pool.positional_embedding
    q = pool.q_proj(tokens[:, :1]).reshape(2, 1, 4, 64).transpose(1, 2)
    k = pool.k_proj(tokens).reshape(2, 5, 4, 64).transpose(1, 2)
    v = pool.v_proj(tokens).reshape(2, 5, 4, 64).transpose(1, 2)
    attn = torch.softmax(q @ k.transpose(-1, -2) / 8.0, dim=-1)
    expected = pool.c_proj((attn @ v).transpose(1, 2).reshape(2, 256))
    with torch.no_grad():
        torch.testing.assert_close(pool(x), expected, atol=1e-5, rtol=1e-5)
