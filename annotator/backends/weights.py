"""Model manifests (`models/*.toml`) and where their checkpoint files live on this machine.

Weights are never in git and never fetched at run time by a backend: a backend whose file is
missing is listed as unavailable with the file name, the folder and the fix. Downloading is an
explicit user action (`annotator models get`, the Models dialog; see `annotator.backends.download`).

Checking a file's SHA-256 reads all of it, so a verified file gets a stamp (size, mtime, hash) in
`weights_dir()/verified.json`; listing models then only compares sizes and stamps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

from platformdirs import user_cache_dir

from annotator.core.errors import AnnotatorError

log = logging.getLogger(__name__)

ENV_DIR = "ANNOTATOR_MODELS"
"""A folder to look in first (e.g. weights downloaded by hand)."""
ENV_CACHE = "ANNOTATOR_CACHE"
"""Overrides the user cache folder (downloads go to ITS_VALUE/models)."""
ENV_MANIFESTS = "ANNOTATOR_MANIFESTS"
"""An extra folder of `*.toml` manifests (own models, mirrors); it wins over the shipped ones."""
STAMPS = "verified.json"


class ModelError(AnnotatorError):
    """A model id is unknown, or its file is missing or does not match its manifest."""


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

    @classmethod
    def from_dict(cls, data: dict[str, object], stem: str = "") -> ModelManifest:
        """A manifest from TOML data; missing optional keys get defaults, unknown keys are
        ignored, a missing id falls back to the file stem and a missing file name to the URL's."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        url = str(values.get("url", ""))
        values["id"] = str(values.get("id") or stem)
        values["url"] = url
        values["backend"] = str(values.get("backend", ""))
        values["file_name"] = str(values.get("file_name") or Path(urlparse(url).path).name)
        values["sha256"] = str(values.get("sha256", "")).lower()
        size = values.get("size_bytes")
        values["size_bytes"] = int(size) if isinstance(size, int | float) and size > 0 else None
        if not values["id"] or not values["file_name"]:
            raise ValueError("needs an id and a file_name or url")
        return cls(**values)  # type: ignore[arg-type]


def manifest_dirs() -> list[Path]:
    """Folders holding manifests: $ANNOTATOR_MANIFESTS, the packaged copy, the repo's `models/`."""
    here = Path(__file__).resolve()
    extra = [Path(os.environ[ENV_MANIFESTS])] if os.environ.get(ENV_MANIFESTS) else []
    candidates = [*extra, here.parents[1] / "model_manifests", here.parents[2] / "models"]
    return [d for d in candidates if d.is_dir()]


def read_manifests(folder: Path) -> Iterator[ModelManifest]:
    """Every valid manifest in a folder; a broken file is logged and skipped (never fatal)."""
    for path in sorted(folder.glob("*.toml")):
        try:
            yield ModelManifest.from_dict(tomllib.loads(path.read_text()), path.stem)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipping model manifest %s: %s", path, exc)


def manifests() -> dict[str, ModelManifest]:
    """Every manifest by id (the first folder that defines an id wins)."""
    out: dict[str, ModelManifest] = {}
    for folder in manifest_dirs():
        for manifest in read_manifests(folder):
            out.setdefault(manifest.id, manifest)
    return out


def get_manifest(model_id: str) -> ModelManifest:
    """A manifest by id, or an error naming the known ids."""
    found = manifests()
    if model_id not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ModelError(f"unknown model '{model_id}': choose one of {known} "
                         "(see `annotator models list`)")
    return found[model_id]


def weights_dir() -> Path:
    """Where downloaded checkpoints go (the user cache folder, or $ANNOTATOR_CACHE/models)."""
    root = os.environ.get(ENV_CACHE) or user_cache_dir("annotator")
    return Path(root) / "models"


def search_dirs() -> list[Path]:
    """Folders searched for checkpoint files, in order."""
    dirs = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    return [*dirs, weights_dir()]


def find_weights(model_id: str) -> Path | None:
    """The checkpoint file of a model if it is on this machine."""
    manifest = get_manifest(model_id)
    for folder in search_dirs():
        path = folder / manifest.file_name
        if path.is_file():
            return path
    return None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (bounded memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _load_stamps() -> dict[str, dict[str, object]]:
    try:
        data = json.loads((weights_dir() / STAMPS).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_verified(path: Path, sha256: str) -> None:
    """Remember that `path`, as it is now, has this hash (so listing need not re-read it)."""
    stamps = _load_stamps()
    st = path.stat()
    stamps[str(path.resolve())] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                   "sha256": sha256}
    folder = weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{STAMPS}.tmp"
    tmp.write_text(json.dumps(stamps, indent=1, sort_keys=True))
    os.replace(tmp, folder / STAMPS)


def stamped_sha256(path: Path) -> str | None:
    """The recorded hash of a file if it has not changed since it was verified."""
    stamp = _load_stamps().get(str(path.resolve()))
    if not stamp:
        return None
    st = path.stat()
    if stamp.get("size") != st.st_size or stamp.get("mtime_ns") != st.st_mtime_ns:
        return None
    value = stamp.get("sha256")
    return value if isinstance(value, str) else None


class Status(Enum):
    """What a model's file is on this machine."""

    MISSING = "missing"
    READY = "ready"
    UNVERIFIED = "unverified"
    BAD = "bad"


@dataclass(frozen=True)
class ModelState:
    """A manifest with its file's status; `detail` says why (and the fix when not ready)."""

    manifest: ModelManifest
    status: Status
    path: Path | None
    detail: str

    @property
    def usable(self) -> bool:
        """Whether a backend may load the file (present and not known to be wrong)."""
        return self.status in (Status.READY, Status.UNVERIFIED)


def file_problem(manifest: ModelManifest, path: Path, sha256: str | None) -> str | None:
    """Why a file is not the manifest's (size or hash), or None; `sha256` None skips the hash."""
    size = path.stat().st_size
    if manifest.size_bytes is not None and size != manifest.size_bytes:
        return f"{path} has {size} bytes, expected {manifest.size_bytes}"
    if sha256 is not None and manifest.sha256 and sha256 != manifest.sha256:
        return f"{path} has SHA-256 {sha256[:12]}…, expected {manifest.sha256[:12]}…"
    return None


def model_state(manifest: ModelManifest) -> ModelState:
    """A model's status from sizes and stamps only (cheap: never hashes a file)."""
    path = next((d / manifest.file_name for d in search_dirs()
                 if (d / manifest.file_name).is_file()), None)
    if path is None:
        return ModelState(manifest, Status.MISSING, None,
                          f"not downloaded: `annotator models get {manifest.id}`")
    stamp = stamped_sha256(path)
    problem = file_problem(manifest, path, stamp)
    if problem:
        return ModelState(manifest, Status.BAD, path,
                          f"{problem}: `annotator models get {manifest.id}` replaces it")
    if stamp is not None:
        return ModelState(manifest, Status.READY, path, "verified")
    hint = (f"`annotator models verify {manifest.id}` checks its SHA-256" if manifest.sha256
            else "no published SHA-256")
    return ModelState(manifest, Status.UNVERIFIED, path, f"present, not verified: {hint}")


def verify_file(manifest: ModelManifest, path: Path) -> str:
    """Hash a file and check it against the manifest; records and returns the hash.

    Raises ModelError when the size or hash differs (the file is left as it is).
    """
    digest = sha256_file(path)
    problem = file_problem(manifest, path, digest)
    if problem:
        raise ModelError(f"{manifest.id}: {problem}")
    record_verified(path, digest)
    return digest


def missing_weights(model_id: str) -> str | None:
    """Why a model's checkpoint cannot be used (with the fix), or None when it is present."""
    if model_id not in manifests():
        return f"no model manifest '{model_id}' in models/"
    state = model_state(manifests()[model_id])
    if state.usable:
        return None
    m = state.manifest
    if state.status is Status.BAD:
        return f"checkpoint {state.detail}"
    return (f"checkpoint {m.file_name} not found: run `annotator models get {m.id}` "
            f"(or download {m.url} into {weights_dir()}, or set {ENV_DIR} to its folder)")
