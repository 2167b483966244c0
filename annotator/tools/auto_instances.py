"""Automatic instances over a frame range: a Proposer's masks linked into Objects across frames.

Each frame's proposals are matched to the Objects seen on the previous frames by mask IoU with
the Hungarian method; unmatched proposals start new Objects. Everything is stored with provenance
`proposal` until the user accepts it (it then counts as manual, i.e. as keyframes) or rejects it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from annotator.backends.protocol import Proposer
from annotator.core.edits import MaskEdit, MaskRepository, set_masks
from annotator.core.errors import BackendUnavailable
from annotator.core.jobs import Job, Progress
from annotator.core.masks import encode
from annotator.core.ports import VideoSource
from annotator.core.project import StoredMask
from annotator.core.types import FrameIndex, ObjectId, Provenance, Source
from annotator.store import ProjectStore

SUPPRESSIONS = {"fast": "Fast NMS", "greedy": "Greedy NMS", "cluster": "Cluster-NMS",
                "matrix": "Matrix NMS", "noh": "NOH-NMS"}
"""Suppression choices a proposer may offer (YOLACT does), by id, with their display names."""
NOH_HELP = ("NOH-NMS needs a trained nearby-objects hallucinator head (none is released for "
            "YOLACT): choose its state dict file with 'NOH head…'")


@dataclass(frozen=True)
class AutoInstancesConfig:
    """Filters and mapping. `label_map` maps detector classes to project labels; a class mapped
    to None is ignored, a class not in the map keeps its own name (unless `only_mapped`)."""

    min_score: float = 0.3
    match_iou: float = 0.3
    max_gap: int = 2
    label_map: Mapping[str, str | None] = field(default_factory=dict)
    only_mapped: bool = False
    suppression: str = "fast"
    """The proposer's NMS (YOLACT: fast, greedy, cluster, matrix, noh); `fast` = its default."""
    noh_head: str = ""
    """A trained nearby-objects hallucinator head file, needed by `noh`."""

    def project_label(self, detector_label: str) -> str | None:
        """The project label for a detector class, or None to drop it."""
        if detector_label in self.label_map:
            return self.label_map[detector_label]
        return None if self.only_mapped else detector_label


def mask_ious(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """(len(a), len(b)) IoU matrix of boolean masks of one size."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    fa = np.stack([m.ravel() for m in a]).astype(np.float32)
    fb = np.stack([m.ravel() for m in b]).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def associate(tracks: list[np.ndarray], masks: list[np.ndarray], min_iou: float
              ) -> dict[int, int]:
    """{mask index: track index} maximizing total IoU, pairs below `min_iou` left unmatched."""
    iou = mask_ious(tracks, masks)
    if iou.size == 0:
        return {}
    rows, cols = linear_sum_assignment(-iou)
    return {int(c): int(r) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou}


def choose_suppression(proposer: Proposer, config: AutoInstancesConfig) -> None:
    """Hand the suppression choice to a proposer that offers one (`set_suppression`); asking a
    proposer without the choice for anything but its default is an error, not a silent no-op."""
    setter = getattr(proposer, "set_suppression", None)
    if setter is not None:
        setter(config.suppression, config.noh_head or None)
    elif config.suppression != "fast":
        name = getattr(getattr(proposer, "info", None), "name", type(proposer).__name__)
        raise BackendUnavailable(f"{name} has no suppression choice: use Fast NMS (its own)")


def auto_instances(store: ProjectStore, proposer: Proposer, video_id: int, source: VideoSource,
                   frames: Iterable[FrameIndex], config: AutoInstancesConfig | None = None,
                   backend: str = "", version: str = "") -> Job[dict[ObjectId, np.ndarray]]:
    """Propose, link and store, one frame per step (committed before each yield)."""
    config = config or AutoInstancesConfig()
    choose_suppression(proposer, config)
    frames = list(frames)
    last_seen: dict[ObjectId, tuple[FrameIndex, np.ndarray]] = {}
    for done, frame in enumerate(frames, start=1):
        found = []
        for p in proposer.propose(source.frame(frame)):
            label = config.project_label(p.label)
            if p.score >= config.min_score and label is not None:
                found.append((p, label))
        alive = [(obj, m) for obj, (f, m) in last_seen.items() if abs(frame - f) <= config.max_gap]
        links = associate([m for _, m in alive], [p.mask for p, _ in found], config.match_iou)
        writes, result = [], {}
        for i, (proposal, label) in enumerate(found):
            obj = alive[links[i]][0] if i in links else store.add_object(video_id, label).id
            last_seen[obj] = (frame, proposal.mask)
            result[obj] = proposal.mask
            prov = Provenance(Source.PROPOSAL, backend, version, proposal.score)
            writes.append((video_id, obj, frame, StoredMask(encode(proposal.mask), prov)))
        store.write_masks(writes)
        yield Progress(done, len(frames), result, f"frame {frame}: {len(found)} instances")


def accept(repo: MaskRepository, store: ProjectStore, objects: Iterable[ObjectId]) -> MaskEdit:
    """The edit that turns these Objects' proposals into accepted (manual) masks."""
    writes = []
    for obj in objects:
        record = store.object(obj)
        for rec in store.masks(record.video_id, object_id=obj):
            p = rec.mask.provenance
            if p.source == Source.PROPOSAL:
                prov = Provenance(Source.MANUAL, p.backend, p.model_version, p.score)
                writes.append((rec.video_id, obj, rec.frame, StoredMask(rec.mask.rle, prov)))
    return set_masks(repo, "accept proposals", writes)


def proposal_only(store: ProjectStore, objects: Iterable[ObjectId]) -> list[ObjectId]:
    """The Objects that hold only Proposals (the ones a reject may delete)."""
    out = []
    for obj in objects:
        record = store.object(obj)
        sources = {r.mask.provenance.source for r in store.masks(record.video_id, object_id=obj)}
        if sources <= {Source.PROPOSAL}:
            out.append(obj)
    return out


def reject(store: ProjectStore, objects: Iterable[ObjectId]) -> list[ObjectId]:
    """Delete Objects that hold only proposals; returns the ones deleted (others are kept)."""
    deleted = proposal_only(store, objects)
    for obj in deleted:
        store.delete_object(obj)
    return deleted
