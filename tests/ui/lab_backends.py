"""Small deterministic backends for the machine-labelling UI tests: a Segmenter that caches
embeddings like EdgeSAM and counts encoder passes, a colour-blob Proposer and a colour
TextGrounder, plus a video of two coloured squares they have known answers on."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from annotator.backends.protocol import GROUNDER, PROPOSER, SEGMENTER, BackendInfo
from annotator.core.types import DenseLabels, MaskProposal, Prompts
from annotator.ui.engines import BackendChoice
from annotator.video import write_video
from tests.ui.disc_backend import disc

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "grey": (128, 128, 128)}
SIDE, STEP, BLOB_FRAMES = 16, 4, 8
SIZE = (64, 96)
RADII = (8, 5, 13, 3)
"""Click candidates, best first: four like EdgeSAM's."""


def red_box(t: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the red square on frame t (moves right)."""
    return 10, 10 + SIDE, 5 + STEP * t, 5 + STEP * t + SIDE


def blue_box(t: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the blue square on frame t (moves left)."""
    return 40, 40 + SIDE, 70 - STEP * t, 70 - STEP * t + SIDE


def truth(box: tuple[int, int, int, int]) -> np.ndarray:
    """The mask of a square."""
    y0, y1, x0, x1 = box
    mask = np.zeros(SIZE, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (video compression blurs square edges)."""
    return float((a & b).sum() / max(1, (a | b).sum()))


def blob_video(path: Path) -> Path:
    """Write the two-squares video."""
    frames = []
    for t in range(BLOB_FRAMES):
        f = np.full((*SIZE, 3), COLOURS["grey"], np.uint8)
        for name, box in (("red", red_box(t)), ("blue", blue_box(t))):
            f[truth(box)] = COLOURS[name]
        frames.append(f)
    write_video(path, frames, 10.0)
    return path


class CountingSegmenter:
    """EdgeSAM's shape: `set_frame` encodes unless the key is in a 3-entry LRU; `predict`
    decodes discs (4 for clicks, 3 for boxes). Counts encoder and decoder calls."""

    info = BackendInfo("counting", "Counting (test)", frozenset({SEGMENTER}),
                       multimask=True)

    def __init__(self) -> None:
        self.encodes: list[object] = []
        self.decodes = 0
        self.decode_delay = 0.0
        self._cache: OrderedDict[object, tuple[int, int]] = OrderedDict()
        self._shape: tuple[int, int] | None = None

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
        else:
            self.encodes.append(key)
            if key is not None:
                self._cache[key] = frame.shape[:2]
                while len(self._cache) > 3:
                    self._cache.popitem(last=False)
        self._shape = frame.shape[:2]

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        assert self._shape is not None
        self.decodes += 1
        if self.decode_delay:
            time.sleep(self.decode_delay)
        shape = self._shape
        if prompts.box is not None:
            b = prompts.box.normalized()
            rect = np.zeros(shape, bool)
            rect[int(b.y0):int(b.y1), int(b.x0):int(b.x1)] = True
            cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
            masks = [rect, disc(shape, cx, cy, 4), disc(shape, cx, cy, 9)]
        else:
            pos = [p for p in prompts.points if p.positive]
            x = sum(p.x for p in pos) / len(pos)
            y = sum(p.y for p in pos) / len(pos)
            masks = [disc(shape, x, y, r) for r in RADII]
        return [MaskProposal(m, 0.9 - 0.1 * k, {"iou": 0.5}) for k, m in enumerate(masks)]


class BlobProposer:
    """Finds saturated red and blue squares: a detector with known answers."""

    info = BackendInfo("blobs", "Blobs (test)", frozenset({PROPOSER}), prompts=frozenset())
    class_names = ("red", "blue")

    def propose(self, frame: np.ndarray) -> list[MaskProposal]:
        out = []
        for name in self.class_names:
            near = np.abs(frame.astype(int) - COLOURS[name]).sum(axis=2) < 90
            count, labels = cv2.connectedComponents(near.astype(np.uint8))
            out += [MaskProposal(labels == i, 0.9, {}, name) for i in range(1, count)]
        return out


class ColourGrounder:
    """Labels pixels by their nearest reference colour: a text backend with known answers."""

    info = BackendInfo("colours", "Colours (test)", frozenset({GROUNDER}),
                       prompts=frozenset({"text"}))

    def __init__(self) -> None:
        self.calls = 0

    def label_map(self, frame: np.ndarray, class_names: Sequence[str], key: object = None
                  ) -> DenseLabels:
        self.calls += 1
        ref = np.array([COLOURS[n] for n in class_names], np.float32)
        dist = np.linalg.norm(frame[None].astype(np.float32) - ref[:, None, None], axis=-1)
        scores = np.exp(-dist / 40)
        scores /= scores.sum(0, keepdims=True)
        return DenseLabels(scores.argmax(0), scores.astype(np.float32), tuple(class_names))

    def heatmap(self, frame: np.ndarray, phrase: str, background: Sequence[str] = (),
                key: object = None) -> np.ndarray:
        return self.label_map(frame, [phrase, *background]).scores[0]


def as_choice(backend: object, caches_embeddings: bool = False) -> BackendChoice:
    """A test backend as the panels list it; every build returns this one instance, so a
    test can read its counters."""
    info: BackendInfo = backend.info  # type: ignore[attr-defined]
    return BackendChoice(info.id, info.name, None, lambda: backend, info.prompts, info.roles,
                         caches_embeddings)


class ColourNamer:
    """Segments a disc around the click (or the prompt box) and names the mean colour inside
    it, with ranked suggestions like Open-Vocabulary SAM's: a recognizer with known answers.
    Records the keys of the frames it was given."""

    info = BackendInfo("namer", "Namer (test)", frozenset({SEGMENTER}))

    def __init__(self) -> None:
        self.keys: list[object] = []
        self._frame: np.ndarray | None = None
        self.vocabulary_name = "colours"
        self.vocabularies: list[tuple[str, ...] | None] = []

    def set_vocabulary(self, names: Sequence[str] | None) -> None:
        """Recognizer: rank only these names (None = the three colour names)."""
        wanted = tuple(names) if names else None
        if not self.vocabularies or self.vocabularies[-1] != wanted:
            self.vocabularies.append(wanted)
        self.vocabulary_name = f"{len(wanted)} names" if wanted else "colours"

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        self._frame = frame
        self.keys.append(key)

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        frame = self._frame
        assert frame is not None
        if prompts.box is not None:
            b = prompts.box.normalized()
            mask = np.zeros(frame.shape[:2], bool)
            mask[int(b.y0):int(b.y1), int(b.x0):int(b.x1)] = True
        else:
            p = next(p for p in prompts.points if p.positive)
            mask = disc(frame.shape[:2], p.x, p.y, 5)
        r, _, b_ = frame[mask].reshape(-1, 3).mean(0)
        red = float(r > b_)
        scores = {"tomato": 0.7 * red + 0.1, "sky": 0.8 - 0.7 * red, "rock": 0.1}
        names = self.vocabularies[-1] if self.vocabularies else None
        pairs = ([(n, scores.get(n.casefold(), 0.05)) for n in names] if names
                 else list(scores.items()))
        ranked = tuple(sorted(pairs, key=lambda kv: -kv[1]))
        return [MaskProposal(mask, ranked[0][1], {}, ranked[0][0], ranked)]
