"""Unit tests of the shared SAM parts (key layout and computation), no fixture needed."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from annotator.nn.sam import (
    MLP,
    Attention,
    LayerNorm2d,
    MaskDecoder,
    PromptEncoder,
    TwoWayTransformer,
)


def _prompt_encoder() -> PromptEncoder:
    torch.manual_seed(0)
    enc = PromptEncoder(32, (8, 8), (128, 128), mask_in_chans=16).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.normal_()
    return enc


def test_prompt_encoder_keys() -> None:
    keys = {
        k: tuple(v.shape)
        for k, v in PromptEncoder(256, (64, 64), (1024, 1024), 16).state_dict().items()
    }
    assert keys["pe_layer.positional_encoding_gaussian_matrix"] == (2, 128)
    assert keys["point_embeddings.3.weight"] == (1, 256)
    assert keys["mask_downscaling.3.weight"] == (16, 4, 2, 2)
    assert keys["mask_downscaling.6.weight"] == (256, 16, 1, 1)
    assert len(keys) == 17


def test_points_padding_and_labels() -> None:
    enc = _prompt_encoder()
    coords = torch.tensor([[[10.0, 20.0], [30.0, 40.0], [5.0, 5.0]]])
    labels = torch.tensor([[1, 0, -2]], dtype=torch.int)
    with torch.no_grad():
        sparse, dense = enc((coords, labels), None, None)
        pe = enc.pe_layer.forward_with_coords(coords + 0.5, (128, 128))
    assert sparse.shape == (1, 4, 32)  # padding point appended without a box
    torch.testing.assert_close(sparse[0, 0], pe[0, 0] + enc.point_embeddings[1].weight[0])
    torch.testing.assert_close(sparse[0, 1], pe[0, 1] + enc.point_embeddings[0].weight[0])
    assert torch.all(sparse[0, 2] == 0)  # label -2: ignored
    torch.testing.assert_close(sparse[0, 3], enc.not_a_point_embed.weight[0])
    assert dense.shape == (1, 32, 8, 8)
    torch.testing.assert_close(dense[0, :, 3, 5], enc.no_mask_embed.weight[0])


def test_box_corners_match_points_2_3() -> None:
    enc = _prompt_encoder()
    box = torch.tensor([[10.0, 20.0, 60.0, 90.0]])
    coords = box.reshape(1, 2, 2)
    labels = torch.tensor([[2, 3]], dtype=torch.int)
    with torch.no_grad():
        from_box, _ = enc(None, box, None)
        from_points, _ = enc((coords, labels), torch.zeros(1, 4), None)
    assert from_box.shape == (1, 2, 32)
    torch.testing.assert_close(from_box, from_points[:, :2])


def test_dense_pe_is_pixel_centres() -> None:
    enc = _prompt_encoder()
    with torch.no_grad():
        dense = enc.get_dense_pe()
        # the centre of embedding cell (row 2, col 5) is pixel (5.5, 2.5) * 16 in the input
        point = torch.tensor([[[5.5 * 16, 2.5 * 16]]])
        pe = enc.pe_layer.forward_with_coords(point, (128, 128))
    torch.testing.assert_close(dense[0, :, 2, 5], pe[0, 0], atol=1e-5, rtol=1e-5)


def test_mask_downscaling_shape() -> None:
    enc = _prompt_encoder()
    with torch.no_grad():
        _, dense = enc(None, None, torch.randn(2, 1, 32, 32))
    assert dense.shape == (2, 32, 8, 8)


def test_layernorm2d_matches_layer_norm() -> None:
    ln = LayerNorm2d(6)
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    x = torch.randn(2, 6, 5, 7)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, eps=1e-6)
    torch.testing.assert_close(ln(x), ref.permute(0, 3, 1, 2), atol=1e-5, rtol=1e-5)


def test_attention_matches_sdpa() -> None:
    torch.manual_seed(1)
    attn = Attention(64, num_heads=4, downsample_rate=2).eval()
    q, k = torch.randn(2, 7, 64), torch.randn(2, 50, 64)
    with torch.no_grad():
        out = attn(q, k, k)
        heads = [
            t.reshape(2, -1, 4, 8).transpose(1, 2)
            for t in (attn.q_proj(q), attn.k_proj(k), attn.v_proj(k))
        ]
        ref = F.scaled_dot_product_attention(*heads).transpose(1, 2).reshape(2, 7, 32)
        ref = attn.out_proj(ref)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert attn.q_proj.weight.shape == (32, 64)
    assert attn.out_proj.weight.shape == (64, 32)


def test_attention_kv_in_dim() -> None:
    attn = Attention(32, num_heads=2, kv_in_dim=8)
    assert attn.k_proj.weight.shape == (32, 8)
    assert attn(torch.randn(1, 3, 32), torch.randn(1, 9, 8), torch.randn(1, 9, 8)).shape == (
        1,
        3,
        32,
    )
    with pytest.raises(ValueError, match="num_heads"):
        Attention(30, num_heads=4)


def test_two_way_transformer_layouts_agree() -> None:
    torch.manual_seed(2)
    sam = TwoWayTransformer(depth=2, embedding_dim=32, num_heads=4, mlp_dim=64).eval()
    sam2 = TwoWayTransformer(
        depth=2, embedding_dim=32, num_heads=4, mlp_dim=64, mlp_layout="sam2"
    ).eval()
    keys1, keys2 = set(sam.state_dict()), set(sam2.state_dict())
    assert "layers.0.mlp.lin1.weight" in keys1
    assert "layers.1.mlp.layers.1.bias" in keys2
    assert "final_attn_token_to_image.q_proj.weight" in keys2
    renamed = {
        k.replace("mlp.lin1", "mlp.layers.0").replace("mlp.lin2", "mlp.layers.1"): v
        for k, v in sam.state_dict().items()
    }
    sam2.load_state_dict(renamed, strict=True)
    img, pe, tokens = torch.randn(1, 32, 4, 4), torch.randn(1, 32, 4, 4), torch.randn(1, 5, 32)
    with torch.no_grad():
        q1, k1 = sam(img, pe, tokens)
        q2, k2 = sam2(img, pe, tokens)
    assert q1.shape == (1, 5, 32)
    assert k1.shape == (1, 16, 32)
    torch.testing.assert_close(q1, q2, atol=0, rtol=0)
    torch.testing.assert_close(k1, k2, atol=0, rtol=0)


def _decoder(**kw: object) -> MaskDecoder:
    tr = TwoWayTransformer(depth=1, embedding_dim=32, num_heads=4, mlp_dim=64)
    return MaskDecoder(transformer_dim=32, transformer=tr, iou_head_hidden_dim=32, **kw).eval()


def test_mask_decoder_outputs_and_slices() -> None:
    torch.manual_seed(3)
    dec = _decoder()
    img, pe = torch.randn(1, 32, 4, 4), torch.randn(1, 32, 4, 4)
    sparse, dense = torch.randn(2, 3, 32), torch.randn(2, 32, 4, 4)
    with torch.no_grad():
        all_masks, all_iou = dec.predict_masks(img, pe, sparse, dense)
        masks3, iou3 = dec(img, pe, sparse, dense, num_multimask_outputs=3)
        masks1, _ = dec(img, pe, sparse, dense, num_multimask_outputs=1)
    assert all_masks.shape == (2, 4, 16, 16)
    assert all_iou is not None
    assert iou3 is not None
    torch.testing.assert_close(masks3, all_masks[:, 1:], atol=0, rtol=0)
    torch.testing.assert_close(iou3, all_iou[:, 1:], atol=0, rtol=0)
    torch.testing.assert_close(masks1, all_masks[:, :1], atol=0, rtol=0)
    with pytest.raises(ValueError, match="num_multimask_outputs"):
        dec(img, pe, sparse, dense, num_multimask_outputs=2)


def test_mask_decoder_without_iou_head() -> None:
    dec = _decoder(num_multimask_outputs=0, with_iou_head=False)
    keys = set(dec.state_dict())
    assert not any(k.startswith(("iou_token", "iou_prediction_head")) for k in keys)
    assert dec.mask_tokens.weight.shape == (1, 32)
    with torch.no_grad():
        masks, iou = dec(
            torch.randn(1, 32, 4, 4),
            torch.randn(1, 32, 4, 4),
            torch.randn(1, 2, 32),
            torch.randn(1, 32, 4, 4),
            num_multimask_outputs=1,
        )
    assert masks.shape == (1, 1, 16, 16)
    assert iou is None


def test_mlp_layers() -> None:
    mlp = MLP(8, 16, 4, num_layers=3, sigmoid_output=True)
    assert [tuple(layer.weight.shape) for layer in mlp.layers] == [(16, 8), (16, 16), (4, 16)]
    out = mlp(torch.randn(5, 8))
    assert out.shape == (5, 4)
    assert bool(((out > 0) & (out < 1)).all())


def test_factorized_attention_matches() -> None:
    torch.manual_seed(4)
    attn = Attention(64, num_heads=8, downsample_rate=2).eval()
    few, many = torch.randn(2, 7, 64), torch.randn(2, 300, 64)
    many_v = torch.randn(2, 300, 64)
    with torch.no_grad():
        ref_q = attn(few, many, many_v)
        ref_k = attn(many, few, few * 2)
        attn.factorized = True
        fac_q = attn(few, many, many_v)
        fac_k = attn(many, few, few * 2)
    torch.testing.assert_close(fac_q, ref_q, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fac_k, ref_k, atol=1e-5, rtol=1e-5)


def test_fast_upscaling_matches_modules() -> None:
    torch.manual_seed(5)
    dec = _decoder()
    with torch.no_grad():
        for p in dec.parameters():
            p.normal_(0, 0.3)
    args = (
        torch.randn(1, 32, 4, 4),
        torch.randn(1, 32, 4, 4),
        torch.randn(2, 3, 32),
        torch.randn(2, 32, 4, 4),
    )
    with torch.no_grad():
        fast, _ = dec.predict_masks(*args)
        dec.fast_upscaling = False
        ref, _ = dec.predict_masks(*args)
    torch.testing.assert_close(fast, ref, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("factorized", [False, True])
def test_cached_image_context_matches_forward(factorized: bool) -> None:
    """The per-frame context (first layer's image-only projections) changes nothing but speed."""
    torch.manual_seed(6)
    tr = TwoWayTransformer(depth=2, embedding_dim=32, num_heads=4, mlp_dim=64)
    dec = MaskDecoder(transformer_dim=32, transformer=tr, iou_head_hidden_dim=32).eval()
    for module in dec.modules():
        if isinstance(module, Attention):
            module.factorized = factorized
    img, pe = torch.randn(1, 32, 8, 8), torch.randn(1, 32, 8, 8)
    dense = torch.randn(1, 32, 1, 1)
    with torch.no_grad():
        context = dec.image_context(img, pe, dense)
        for n_tokens in (1, 3, 6):
            sparse = torch.randn(1, n_tokens, 32)
            ref, ref_iou = dec(img, pe, sparse, dense.expand(1, 32, 8, 8), 4)
            out, iou = dec.forward_cached(context, sparse, (8, 8), 4)
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
            assert iou is not None and ref_iou is not None
            torch.testing.assert_close(iou, ref_iou, atol=1e-5, rtol=1e-5)


def test_cached_attention_forms_match() -> None:
    torch.manual_seed(7)
    attn = Attention(64, num_heads=8, downsample_rate=2).eval()
    few, many, many_v = torch.randn(1, 5, 64), torch.randn(1, 300, 64), torch.randn(1, 300, 64)
    with torch.no_grad():
        keys_t, values = attn.cache_keys(many, many_v)
        torch.testing.assert_close(attn.cached_keys(few, keys_t, values), attn(few, many, many_v),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(attn.cached_queries(attn.q_proj(many), few, few * 2),
                                   attn(many, few, few * 2), atol=1e-5, rtol=1e-5)
