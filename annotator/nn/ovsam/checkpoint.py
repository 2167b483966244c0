"""Assemble OVSAM from the official released files, each loaded strictly into its part.

OVSAM has no single checkpoint. Four files fill its 993 state-dict keys:

| source | file | part(s) | model prefix <- file prefix |
|---|---|---|---|
| `sam2clip` | `sam2clip_vith_rn50x16.pth` | neck | `neck.` <- `neck_student.` |
| `clip2sam` | `clip2sam_lvis_rn50x16.pth` / `_coco_` | fpn_neck, mask_decoder | same |
| `sam` | `sam_vit_h_4b8939.pth` (its 17 `prompt_encoder.*`) | pe | `pe.` <- `prompt_encoder.` |
| `clip` | OpenAI `RN50x16.pt` (TorchScript, fp16) | backbone | `OPENAI_PREFIX_MAP` |

Like the official `load_checkpoint_with_prefix`, only the keys under a file's prefixes are read
(the SAM file's image encoder and the CLIP text tower are ignored); each part then loads with
strict key and shape matching, and a mismatch raises `CheckpointError` naming the file and a few
of the missing / unexpected keys. The class vocabulary is not in any of these files: see
`annotator.nn.ovsam.vocab`.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from annotator.core.errors import CheckpointError
from annotator.nn.clip.checkpoint import is_torchscript, load_strict, read_clip_state_dict
from annotator.nn.ovsam.model import Ovsam

PrefixMap = tuple[tuple[str, str], ...]  # (model prefix, file prefix)

OPENAI_PREFIX_MAP: PrefixMap = (
    ("backbone.stem.0.", "visual.conv1."),
    ("backbone.stem.1.", "visual.bn1."),
    ("backbone.stem.3.", "visual.conv2."),
    ("backbone.stem.4.", "visual.bn2."),
    ("backbone.stem.6.", "visual.conv3."),
    ("backbone.stem.7.", "visual.bn3."),
    ("backbone.layer1.", "visual.layer1."),
    ("backbone.layer2.", "visual.layer2."),
    ("backbone.layer3.", "visual.layer3."),
    ("backbone.layer4.", "visual.layer4."),
    ("backbone.head.", "visual.attnpool."),
)

# source -> (model parts it fills, prefix map)
SOURCES: dict[str, tuple[tuple[str, ...], PrefixMap]] = {
    "sam2clip": (("neck",), (("neck.", "neck_student."),)),
    "clip2sam": (
        ("fpn_neck", "mask_decoder"),
        (("fpn_neck.", "fpn_neck."), ("mask_decoder.", "mask_decoder.")),
    ),
    "sam": (("pe",), (("pe.", "prompt_encoder."),)),
    "clip": (("backbone",), OPENAI_PREFIX_MAP),
}

_READ_ERRORS = (RuntimeError, OSError, ValueError, EOFError, KeyError, TypeError,
                pickle.UnpicklingError, zipfile.BadZipFile)  # fmt: skip


@dataclass(frozen=True)
class OvsamFiles:
    """Paths of the released files (official names in `models/ovsam_*.toml`)."""

    sam2clip: Path  # sam2clip_vith_rn50x16.pth
    clip2sam: Path  # clip2sam_lvis_rn50x16.pth (roi 7) or clip2sam_coco_rn50x16.pth (roi 12)
    sam: Path  # sam_vit_h_4b8939.pth, or a file with only its prompt_encoder.* tensors
    clip: Path  # RN50x16.pt

    def path(self, source: str) -> Path:
        return Path(getattr(self, source))


def read_tensor_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A released file's flat {key: tensor} dict (float32); CheckpointError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"OVSAM file {path} is missing; download it (see models/ovsam_*.toml)"
        )
    if is_torchscript(path):  # OpenAI CLIP archives
        return read_clip_state_dict(path)
    try:
        try:  # mmap: the SAM ViT-H file is 2.5 GB and only 17 of its tensors are needed
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) pickles cannot be memory-mapped
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except _READ_ERRORS as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise CheckpointError(f"cannot read OVSAM file {path.name} ({reason})") from exc
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise CheckpointError(f"{path.name} is not a tensor dict; wrong file?")
    return dict(raw)


def map_source(
    file_sd: Mapping[str, torch.Tensor], prefix_map: PrefixMap
) -> dict[str, torch.Tensor]:
    """Model-named tensors of the file keys under the map's file prefixes (others ignored)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in file_sd.items():
        for model_prefix, file_prefix in prefix_map:
            if key.startswith(file_prefix):
                value = value.float() if value.is_floating_point() else value
                out[model_prefix + key[len(file_prefix) :]] = value.clone()
                break
    return out


def load_part(model: Ovsam, part: str, state: Mapping[str, torch.Tensor], name: str) -> None:
    """Strictly load the model-named `state` entries of `part` into `model.<part>`."""
    module: nn.Module = getattr(model, part)
    prefix = part + "."
    sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    load_strict(module, sub, f"{name} ({part})", assign=True)


def load_source(model: Ovsam, source: str, file_sd: Mapping[str, torch.Tensor], name: str) -> None:
    """Map one released file's tensors and load every part it fills."""
    parts, prefix_map = SOURCES[source]
    state = map_source(file_sd, prefix_map)
    if not state:
        wanted = ", ".join(p for _, p in prefix_map[:3])
        raise CheckpointError(f"{name} has no keys under {wanted}; wrong file for '{source}'?")
    for part in parts:
        load_part(model, part, state, name)


def build_ovsam_meta(roi_size: int = 7) -> Ovsam:
    """OVSAM on the `meta` device (no memory, no random init), to be filled by assignment."""
    with torch.device("meta"):
        return Ovsam(roi_size=roi_size)


def load_ovsam_from_state_dicts(
    sources: Mapping[str, Mapping[str, torch.Tensor]], roi_size: int = 7
) -> Ovsam:
    """OVSAM (eval, CPU, float32) from the file-layout dicts of the four sources."""
    model = build_ovsam_meta(roi_size)
    for source in SOURCES:
        if source not in sources:
            raise CheckpointError(f"OVSAM needs the '{source}' file")
        load_source(model, source, sources[source], source)
    model.reset_buffers()
    return model.requires_grad_(False).eval()


def load_ovsam(files: OvsamFiles, roi_size: int | None = None) -> Ovsam:
    """OVSAM with the official weights; roi_size defaults from the clip2sam file name."""
    if roi_size is None:
        roi_size = 12 if "coco" in Path(files.clip2sam).name.lower() else 7
    model = build_ovsam_meta(roi_size)
    for source in SOURCES:
        path = files.path(source)
        load_source(model, source, read_tensor_dict(path), path.name)
    model.reset_buffers()
    return model.requires_grad_(False).eval()


__all__ = [
    "OPENAI_PREFIX_MAP",
    "SOURCES",
    "OvsamFiles",
    "build_ovsam_meta",
    "load_ovsam",
    "load_ovsam_from_state_dicts",
    "map_source",
    "read_tensor_dict",
]
