"""Pseudo-labels from class names (DenseCLIP) and text prompts from a phrase.

Pseudo-label Masks carry provenance `pseudo` and never replace another Mask: a slot that holds a
manual, propagated or proposal Mask is left alone, so machine labels cannot erase human work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from annotator.backends.protocol import TextGrounder
from annotator.core.jobs import Job, Progress
from annotator.core.masks import encode
from annotator.core.ports import VideoSource
from annotator.core.project import StoredMask
from annotator.core.types import (
    Box,
    DenseLabels,
    FrameIndex,
    ObjectId,
    Point,
    Prompts,
    Provenance,
    Source,
)
from annotator.store import ProjectStore


@dataclass(frozen=True)
class PseudoLabelConfig:
    """Which classes become Objects and how confident a pixel must be. `background` names help
    the classifier (CLIP has no background class) but never become Objects."""

    classes: tuple[str, ...]
    background: tuple[str, ...] = ()
    min_score: float = 0.5
    min_area: float = 0.001
    """Smallest region kept, as a share of the frame."""


def class_mask(dense: DenseLabels, name: str, min_score: float) -> np.ndarray:
    """Pixels labelled `name` with a score of at least `min_score`."""
    k = dense.class_names.index(name)
    return (dense.labels == k) & (dense.scores[k] >= min_score)


def regions(mask: np.ndarray, min_pixels: int) -> list[np.ndarray]:
    """Connected regions of a mask, largest first, dropping those under `min_pixels`."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    order = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    return [labels == i for i in order if stats[i, cv2.CC_STAT_AREA] >= min_pixels]


def _clean(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    kept = regions(mask, min_pixels)
    return np.logical_or.reduce(kept) if kept else np.zeros_like(mask)


def _class_objects(store: ProjectStore, video_id: int, classes: Sequence[str]
                   ) -> dict[str, ObjectId]:
    """One Object per class, reusing an Object of that label made by pseudo-labelling before."""
    existing: dict[str, ObjectId] = {}
    for obj in store.objects(video_id):
        sources = {r.mask.provenance.source for r in store.masks(video_id, object_id=obj.id)}
        if obj.label in classes and Source.PSEUDO in sources:
            existing.setdefault(obj.label, obj.id)
    return {c: existing.get(c) or store.add_object(video_id, c).id for c in classes}


def pseudo_label(store: ProjectStore, grounder: TextGrounder, video_id: int, source: VideoSource,
                 frames: Iterable[FrameIndex], config: PseudoLabelConfig, backend: str = "",
                 version: str = "") -> Job[dict[ObjectId, np.ndarray]]:
    """Label a range of frames: one Object per class, committed per frame."""
    frames = list(frames)
    objects = _class_objects(store, video_id, config.classes)
    names = [*config.classes, *config.background]
    for done, frame in enumerate(frames, start=1):
        image = source.frame(frame)
        dense = grounder.label_map(image, names)
        min_pixels = max(1, int(config.min_area * image.shape[0] * image.shape[1]))
        taken = {r.object_id for r in store.masks(video_id, frame=frame)
                 if r.mask.provenance.source != Source.PSEUDO}
        result, writes = {}, []
        for name, obj in objects.items():
            if obj in taken:
                continue
            mask = _clean(class_mask(dense, name, config.min_score), min_pixels)
            k = dense.class_names.index(name)
            score = float(dense.scores[k][mask].mean()) if mask.any() else None
            stored = (StoredMask(encode(mask), Provenance(Source.PSEUDO, backend, version, score))
                      if mask.any() else None)
            writes.append((video_id, obj, frame, stored))
            if mask.any():
                result[obj] = mask
        store.write_masks(writes)
        yield Progress(done, len(frames), result, f"frame {frame}")


def regions_to_objects(store: ProjectStore, video_id: int, frame: FrameIndex,
                       picks: Iterable[tuple[str, np.ndarray]], backend: str = "",
                       version: str = "") -> list[ObjectId]:
    """Turn regions the user picked on a frame into new Objects with pseudo Masks."""
    created = []
    for label, mask in picks:
        obj = store.add_object(video_id, label).id
        store.put_mask(video_id, obj, frame,
                       StoredMask(encode(mask), Provenance(Source.PSEUDO, backend, version)))
        created.append(obj)
    return created


def phrase_prompts(heat: np.ndarray, relative: float = 0.6) -> Prompts:
    """Prompts for a segmenter or tracker from a phrase's heatmap: a positive point at the peak
    and the box of the peak's connected region above `relative` of the peak's height."""
    if not np.isfinite(heat).all():
        raise ValueError("the heatmap holds NaN or infinite values")
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    lo, hi = float(heat.min()), float(heat.max())
    above = heat >= lo + relative * (hi - lo)
    _, labels = cv2.connectedComponents(above.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(labels == labels[y, x])
    box = Box(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return Prompts(points=(Point(float(x), float(y)),), box=box)
