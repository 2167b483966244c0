"""Model manifests (`models/*.toml`) and where their checkpoint files live on this machine.

Weights are never in git and never fetched at run time by a backend: a backend whose file is
missing is listed as unavailable with the file name, the folder and the official URL.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from platformdirs import user_cache_dir

ENV_DIR = "ANNOTATOR_MODELS"
"""A folder to look in first (e.g. weights downloaded by hand)."""


@dataclass(frozen=True)
class ModelManifest:
    """One released checkpoint file: what it is, where it comes from, under which licence."""

    id: str
    backend: str
    file_name: str
    url: str
    variant: str = ""
    sha256: str = ""
    size_bytes: int | None = None
    license: str = ""
    license_url: str = ""
    description: str = ""


def manifest_dirs() -> list[Path]:
    """Folders holding manifests: the packaged copy, then the repository's `models/`."""
    here = Path(__file__).resolve()
    candidates = [here.parents[1] / "model_manifests", here.parents[2] / "models"]
    return [d for d in candidates if d.is_dir()]


@cache
def manifests() -> dict[str, ModelManifest]:
    """Every manifest by id."""
    out: dict[str, ModelManifest] = {}
    fields = set(ModelManifest.__dataclass_fields__)
    for folder in manifest_dirs():
        for path in sorted(folder.glob("*.toml")):
            data = tomllib.loads(path.read_text())
            out.setdefault(data["id"], ModelManifest(**{k: v for k, v in data.items()
                                                        if k in fields}))
    return out


def weights_dir() -> Path:
    """Where downloaded checkpoints go (the user cache folder)."""
    return Path(user_cache_dir("annotator")) / "models"


def search_dirs() -> list[Path]:
    """Folders searched for checkpoint files, in order."""
    dirs = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    return [*dirs, weights_dir()]


def find_weights(model_id: str) -> Path | None:
    """The checkpoint file of a model if it is on this machine."""
    manifest = manifests()[model_id]
    for folder in search_dirs():
        path = folder / manifest.file_name
        if path.is_file():
            return path
    return None


def missing_weights(model_id: str) -> str | None:
    """Why a model's checkpoint cannot be used (with the fix), or None when it is present."""
    if model_id not in manifests():
        return f"no model manifest '{model_id}' in models/"
    if find_weights(model_id) is not None:
        return None
    m = manifests()[model_id]
    return (f"checkpoint {m.file_name} not found: download {m.url} into {weights_dir()} "
            f"(or set {ENV_DIR} to its folder)")
