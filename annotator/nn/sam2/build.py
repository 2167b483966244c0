"""Build SAM 2-family models and load official checkpoints strictly."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from annotator.core.errors import CheckpointError
from annotator.nn.sam2.config import EDGETAM, Sam2Config
from annotator.nn.sam2.model import Sam2Model


def build_model(cfg: Sam2Config) -> Sam2Model:
    """A randomly initialised model in eval mode."""
    return Sam2Model(cfg).eval()


def _describe(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown} (+{len(keys) - limit} more)" if len(keys) > limit else shown or "none"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The `model` dict of an official SAM 2-family checkpoint file."""
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    state = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no 'model' state dict in the checkpoint")
    return state


def load_state_dict_strict(
    model: torch.nn.Module, state: dict[str, torch.Tensor], source: str
) -> None:
    """Load with exact key and shape matching; CheckpointError names what differs."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not match {type(model).__name__}: missing keys "
            f"{_describe(missing)}; unexpected keys {_describe(unexpected)}"
        )
    wrong = [k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise CheckpointError(f"{source}: wrong tensor shapes for {_describe(wrong)}")
    model.load_state_dict(state, strict=True)


def fuse_for_inference(model: Sam2Model) -> Sam2Model:
    """Fold the trunk's BatchNorms into its convolutions when it supports it (~13% faster
    RepViT; outputs agree to float rounding, ~2e-5 on mask logits). Do it after loading: the
    state-dict layout changes."""
    body = getattr(model.image_encoder.trunk, "body", model.image_encoder.trunk)
    fuse = getattr(body, "fuse_", None)
    if callable(fuse):
        fuse()
    return model


def load_sam2(path: str | Path, cfg: Sam2Config, fuse: bool = False) -> Sam2Model:
    """A model of variant `cfg` with the weights of the checkpoint at `path`."""
    model = build_model(cfg)
    load_state_dict_strict(model, read_state_dict(path), str(path))
    return fuse_for_inference(model) if fuse else model


def load_edgetam(path: str | Path, fuse: bool = False) -> Sam2Model:
    """EdgeTAM from the official `edgetam.pt` (`fuse`: see `fuse_for_inference`)."""
    return load_sam2(path, EDGETAM, fuse)
