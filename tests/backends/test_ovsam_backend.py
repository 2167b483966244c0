"""Open-Vocabulary SAM end to end through the registry, from released-layout files on disk.

The four released files (and the LVIS classifier and names) are written here with random
values in their official key layouts and full sizes (~1 GB in float16), then the real backend
is built by the registry, reads them, segments and names what it segmented. Slow: the RN50x16
trunk at 1024x1024 and the SAM2CLIP neck take minutes on 2 CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from annotator.backends.builtin import OVSAM_FILES
from annotator.backends.builtin.lvis import ENV_NAMES
from annotator.backends.protocol import Recognizer, Segmenter
from annotator.backends.registry import create_backend, get_spec
from annotator.backends.weights import ENV_DIR, ENV_MANIFESTS, get_manifest
from annotator.core.errors import PromptError
from annotator.core.types import Box, Point, Prompts
from annotator.nn.clip.model import CLIP, RN50X16
from annotator.nn.ovsam.checkpoint import SOURCES, build_ovsam_meta

pytestmark = pytest.mark.slow


def _random_like(shapes: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """float16 values for meta tensors: small normals, positive variances."""
    out = {}
    for key, meta in shapes.items():
        if not meta.is_floating_point():
            out[key] = torch.zeros(meta.shape, dtype=meta.dtype)
            continue
        value = torch.randn(meta.shape, generator=gen) * 0.02
        if key.endswith("running_var"):
            value = value.abs() + 1.0
        out[key] = value.half()
    return out


def _file_keys(model_sd: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    _, prefix_map = SOURCES[source]
    out = {}
    for key, value in model_sd.items():
        for model_prefix, file_prefix in prefix_map:
            if key.startswith(model_prefix):
                out[file_prefix + key[len(model_prefix):]] = value
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ovsam_models")
    gen = torch.Generator().manual_seed(0)
    model_sd = _random_like(build_ovsam_meta(7).state_dict(), gen)
    for source, model_id in OVSAM_FILES.items():
        if source == "clip":
            continue
        torch.save(_file_keys(model_sd, source), folder / get_manifest(model_id).file_name)
    with torch.device("meta"):
        clip = CLIP(RN50X16)
    torch.save(_random_like(clip.state_dict(), gen),
               folder / get_manifest(OVSAM_FILES["clip"]).file_name)
    manifests = folder / "manifests"  # the real file names, without the real sizes and hashes
    manifests.mkdir()
    for model_id in [*OVSAM_FILES.values(), "ovsam_lvis_classifier"]:
        m = get_manifest(model_id)
        (manifests / f"{model_id}.toml").write_text(
            f'id = "{m.id}"\nbackend = "{m.backend}"\nfile_name = "{m.file_name}"\n'
            f'url = "{m.url}"\n')
    names = [f"thing_{i}" for i in range(1203)]
    (folder / "lvis_names.txt").write_text("\n".join(names))
    emb = torch.nn.functional.normalize(torch.randn(1203, 2, 768, generator=gen), dim=-1)
    torch.save(emb, folder / get_manifest("ovsam_lvis_classifier").file_name)
    return folder


def test_registry_builds_it_and_it_segments_and_names(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DIR, str(models))
    monkeypatch.setenv(ENV_MANIFESTS, str(models / "manifests"))
    monkeypatch.setenv(ENV_NAMES, str(models / "lvis_names.txt"))
    assert get_spec("ovsam").unavailable_reason() is None
    seg = create_backend("ovsam")
    assert isinstance(seg, Segmenter) and isinstance(seg, Recognizer)
    assert seg.vocabulary_name == "LVIS v1 (1203 classes)"

    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    seg.set_frame(frame, key=("v", 0))
    out = seg.predict(Prompts(points=(Point(160, 120),)))
    assert len(out) == 1
    proposal = out[0]
    assert proposal.mask.shape == (240, 320) and proposal.mask.dtype == bool
    assert len(proposal.suggestions) == 5
    assert all(name.startswith("thing_") for name, _ in proposal.suggestions)
    probs = [p for _, p in proposal.suggestions]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert (proposal.label, proposal.score) == proposal.suggestions[0]

    seg.set_vocabulary(["tomato", "sky_or_cloud"])  # the project's labels, via the text tower
    assert seg.vocabulary_name == "2 given names"
    boxed = seg.predict(Prompts(box=Box(40, 30, 200, 180)))[0]
    assert {name for name, _ in boxed.suggestions} == {"tomato", "sky_or_cloud"}
    seg.set_vocabulary(None)
    assert seg.vocabulary_name == "LVIS v1 (1203 classes)"
    with pytest.raises(PromptError, match="positive points"):
        seg.predict(Prompts(points=(Point(10, 10, positive=False),)))
    with pytest.raises(PromptError):
        seg.predict(Prompts(points=(Point(500, 10),)))  # outside the frame
