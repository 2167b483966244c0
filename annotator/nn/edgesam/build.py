"""Build EdgeSAM and load the official `edge_sam.pth` / `edge_sam_3x.pth` strictly."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from annotator.core.errors import CheckpointError
from annotator.nn.edgesam.model import EdgeSam

# SAM-original checkpoints carry these; EdgeSAM registers them as non-persistent buffers.
TOLERATED_EXTRA_KEYS = frozenset({"pixel_mean", "pixel_std"})
_SHOWN = 4


def build_edge_sam(upsample_mode: str = "bicubic") -> EdgeSam:
    """EdgeSAM (RepViT-m1) with random weights, in eval mode."""
    return EdgeSam(upsample_mode=upsample_mode).eval()


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The flat tensor dict of a checkpoint file; CheckpointError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; download it again")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        OSError,
        EOFError,
        ValueError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path.name} cannot be read ({reason[:120]}); delete it and download again"
        ) from exc
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"checkpoint {path.name} is not a tensor dict; wrong file?")
    return dict(obj)


def _few(keys: set[str]) -> str:
    shown = sorted(keys)[:_SHOWN]
    more = f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(shown) + more


def load_state_dict_strict(
    model: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    name: str = "checkpoint",
    tolerated: frozenset[str] = TOLERATED_EXTRA_KEYS,
) -> None:
    """load_state_dict(strict=True) that raises CheckpointError with a one-line key summary."""
    state = {k: v for k, v in state.items() if k not in tolerated}
    own = model.state_dict()
    missing, unexpected = set(own) - set(state), set(state) - set(own)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {_few(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_few(unexpected)}")
        raise CheckpointError(f"{name} does not match {type(model).__name__}: " + "; ".join(parts))
    bad = {k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)}
    if bad:
        raise CheckpointError(f"{name} has {len(bad)} keys with wrong shapes: {_few(bad)}")
    model.load_state_dict(state, strict=True)


def load_edge_sam(path: str | Path, fuse: bool = False) -> EdgeSam:
    """EdgeSAM with the official weights from `path` (edge_sam.pth or edge_sam_3x.pth).

    `fuse=True` then re-parameterises the encoder for faster inference.
    """
    model = build_edge_sam()
    load_state_dict_strict(model, read_checkpoint(path), name=Path(path).name)
    model.eval()
    return model.fuse() if fuse else model
