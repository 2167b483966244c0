"""Builders and the checkpoint loader for the released YOLACT weights.

Loading mirrors `Yolact.load_weights`: drop legacy keys (`backbone.layer*` that are not
`backbone.layers*`; `fpn.downsample_layers.N` for N >= num_downsample, left in v1.0 files), then
match strictly; any other difference is a CheckpointError naming a few offending keys.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from annotator.core.errors import CheckpointError
from annotator.nn.yolact.config import CONFIGS, YolactConfig
from annotator.nn.yolact.model import Yolact


def build_yolact(variant: str | YolactConfig, device: torch.device | str = "cpu") -> Yolact:
    """An eval-mode YOLACT with random weights; `variant` is a CONFIGS name or a config."""
    if isinstance(variant, str):
        if variant not in CONFIGS:
            raise ValueError(f"unknown YOLACT variant {variant!r}; known: {sorted(CONFIGS)}")
        variant = CONFIGS[variant]()
    return Yolact(variant).to(device).eval()


def build_yolact_base(device: torch.device | str = "cpu") -> Yolact:
    """yolact_base: ResNet-101 + FPN, 550x550 (yolact_base_54_800000.pth)."""
    return build_yolact("yolact_base", device)


def build_yolact_resnet50(device: torch.device | str = "cpu") -> Yolact:
    """yolact_resnet50: ResNet-50 + FPN, 550x550 (yolact_resnet50_54_800000.pth)."""
    return build_yolact("yolact_resnet50", device)


def filter_legacy_keys(
    state: Mapping[str, torch.Tensor], num_downsample: int
) -> dict[str, torch.Tensor]:
    """The official loader's two backward-compatibility deletions."""
    out = {}
    for key, value in state.items():
        if key.startswith("backbone.layer") and not key.startswith("backbone.layers"):
            continue
        parts = key.split(".")
        if (
            key.startswith("fpn.downsample_layers.")
            and parts[2].isdigit()
            and int(parts[2]) >= num_downsample
        ):
            continue
        out[key] = value
    return out


def load_state(model: Yolact, state: Mapping[str, torch.Tensor], source: str = "state") -> None:
    """Filter legacy keys, then load strictly; mismatches raise CheckpointError (one line)."""
    state = filter_legacy_keys(state, model.config.num_downsample)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{source} is not a {model.config.name} checkpoint: {len(missing)} missing keys "
            f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}"
        )
    wrong = [k for k, v in state.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if wrong:
        raise CheckpointError(
            f"{source} does not match {model.config.name}: wrong shapes for {wrong[:3]}"
        )
    model.load_state_dict(state, strict=True)


def load_yolact(
    variant: str | YolactConfig, path: str | Path, device: torch.device | str = "cpu"
) -> Yolact:
    """Build `variant` and load an official checkpoint file (e.g. yolact_base_54_800000.pth)."""
    model = build_yolact(variant, "cpu")
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"cannot read YOLACT checkpoint {path}: {exc}") from exc
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise CheckpointError(f"{path} is not a YOLACT state dict (expected a dict of tensors)")
    load_state(model, state, str(path))
    return model.to(device).eval()
