"""Reading CLIP checkpoints: OpenAI's TorchScript archives, plain state dicts, wrong files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from annotator.core.errors import CheckpointError
from annotator.nn.clip.checkpoint import is_torchscript, load_clip, read_clip_state_dict
from annotator.nn.clip.model import CLIP, ClipConfig, config_from_state_dict

TINY = ClipConfig(16, 32, 2, 64, 16, 77, 600, 64, 1, 2)


def _save_like_openai(model: CLIP, path: Path) -> None:
    """A TorchScript archive with float16 weights and the three scalar extras, as released."""
    model = model.half()
    for block in model.transformer.resblocks:
        del block._buffers["attn_mask"]  # a plain attribute in OpenAI's module, not saved
    for name, value in (("input_resolution", 32), ("context_length", 77), ("vocab_size", 600)):
        model.__dict__.pop(name, None)
        model.register_buffer(name, torch.tensor(value))
    model.forward = lambda x: x * model.logit_scale  # trace a trivial graph; all tensors kept
    torch.jit.trace(model, (torch.ones(2, dtype=torch.half),)).save(str(path))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace, to write the file
def test_reads_openai_torchscript_archive(tmp_path: Path) -> None:
    reference = CLIP(TINY)
    expected = {k: v.half().float() for k, v in reference.state_dict().items()}
    path = tmp_path / "tiny.pt"
    _save_like_openai(reference, path)
    assert is_torchscript(path)
    state = read_clip_state_dict(path)
    assert set(state) == set(expected)
    assert all(
        state[k].dtype == torch.float32 and torch.equal(state[k], expected[k]) for k in state
    )
    assert config_from_state_dict(state) == TINY
    model = load_clip(path, TINY)
    tokens = torch.zeros(1, 77, dtype=torch.int32)
    tokens[0, :3] = torch.tensor([598, 5, 599])
    with torch.inference_mode():
        assert model.encode_text(tokens).shape == (1, 16)
        assert model.encode_image(torch.zeros(1, 3, 32, 32)).shape == (1, 16)


def test_reads_plain_and_wrapped_state_dicts(tmp_path: Path) -> None:
    reference = CLIP(TINY)
    plain, wrapped = tmp_path / "plain.pt", tmp_path / "wrapped.pth"
    torch.save(reference.state_dict(), plain)
    torch.save({"state_dict": reference.state_dict()}, wrapped)
    for path in (plain, wrapped):
        assert not is_torchscript(path)
        model = load_clip(path, TINY)
        assert torch.equal(model.visual.proj, reference.visual.proj)


def test_mismatch_raises_checkpoint_error(tmp_path: Path) -> None:
    state = CLIP(TINY).state_dict()
    state.pop("visual.proj")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "wrong.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"1 missing \(e.g. visual.proj\).*1 unexpected"):
        load_clip(path, TINY)
    torch.save(CLIP(TINY).state_dict(), path)
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_clip(path)  # a tiny file against the ViT-B/16 layout


def test_unreadable_files_raise_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        read_clip_state_dict(tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_clip_state_dict(junk)
    torch.save([1, 2, 3], junk)
    with pytest.raises(CheckpointError, match="not a CLIP state dict"):
        read_clip_state_dict(junk)
