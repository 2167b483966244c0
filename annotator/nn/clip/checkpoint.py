"""Read OpenAI CLIP checkpoints into our `CLIP` with strict key matching.

OpenAI's released `.pt` files (e.g. `ViT-B-16.pt`) are TorchScript archives with float16
weights, not pickled state dicts: `torch.load(weights_only=True)` cannot read them. We read
them as `clip.load` does: `torch.jit.load(path, map_location="cpu").state_dict()`. TorchScript
deserialisation only rebuilds TorchScript modules and tensors (it does not run arbitrary
pickled Python), and we keep nothing of the module but its tensors. The three scalar entries
`input_resolution`, `context_length`, `vocab_size` are dropped (as `build_model` does) and the
weights are upcast to float32. Any other file (a plain `{key: tensor}` dict, or one wrapped in
`{"state_dict": ...}`) goes through `torch.load(..., map_location="cpu", weights_only=True)`.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from annotator.core.errors import CheckpointError
from annotator.nn.clip.model import CLIP, CLIP_NUMERICS, VIT_B16, ClipConfig, Numerics

_TORCHSCRIPT_EXTRAS = ("input_resolution", "context_length", "vocab_size")
_READ_ERRORS = (RuntimeError, OSError, ValueError, EOFError, IndexError, KeyError, TypeError,
                pickle.UnpicklingError, zipfile.BadZipFile)  # fmt: skip


def is_torchscript(path: str | os.PathLike[str]) -> bool:
    """True for a TorchScript zip archive (it has a `code/` folder next to `data.pkl`)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def read_clip_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The float32 OpenAI-layout state dict of a CLIP checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"CLIP checkpoint not found: {path}")
    try:
        if is_torchscript(path):
            with warnings.catch_warnings():  # torch 2.13 deprecates jit.load; the file format stays
                warnings.filterwarnings("ignore", ".*torch.jit.load", DeprecationWarning)
                raw = dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except _READ_ERRORS as exc:
        raise CheckpointError(f"cannot read CLIP checkpoint {path.name}: {exc}") from exc
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise CheckpointError(f"{path.name} is not a CLIP state dict")
    return {
        k: v.float() if v.is_floating_point() else v
        for k, v in raw.items()
        if k not in _TORCHSCRIPT_EXTRAS
    }


def load_strict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], name: str, assign: bool = False
) -> None:
    """`load_state_dict(strict=True)` that raises CheckpointError with a one-line summary."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} != {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} wrong shapes (e.g. {'; '.join(shapes[:2])})")
        raise CheckpointError(f"{name} does not match the model: {'; '.join(parts)}")
    model.load_state_dict(state_dict, strict=True, assign=assign)


def load_clip(
    path: str | os.PathLike[str],
    config: ClipConfig = VIT_B16,
    vision_numerics: Numerics = CLIP_NUMERICS,
) -> CLIP:
    """A CLIP model (eval mode, float32, CPU) with the weights of the file at `path`."""
    state_dict = read_clip_state_dict(path)
    return clip_from_state_dict(state_dict, config, vision_numerics, Path(path).name)


def clip_from_state_dict(
    state_dict: dict[str, torch.Tensor],
    config: ClipConfig = VIT_B16,
    vision_numerics: Numerics = CLIP_NUMERICS,
    name: str = "state dict",
) -> CLIP:
    """A CLIP model (eval mode) holding `state_dict`'s tensors (strict keys and shapes).

    Built on the `meta` device and filled by assignment: random init of 150 M parameters
    would cost seconds and be overwritten anyway.
    """
    with torch.device("meta"):
        model = CLIP(config, vision_numerics)
    load_strict(model, state_dict, name, assign=True)
    model.reset_buffers()
    return model.eval()
