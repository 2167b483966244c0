"""The backend plugin protocol: cheap specs, a two-phase Segmenter and a streaming Tracker.

Nothing here imports torch, so listing backends never loads a model.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from annotator.core.errors import BackendUnavailable
from annotator.core.ports import VideoSource
from annotator.core.types import (
    DenseLabels,
    FrameIndex,
    FrameMasks,
    MaskProposal,
    ObjectId,
    Prompts,
)

SEGMENTER = "segmenter"
TRACKER = "tracker"
PROPOSER = "proposer"
GROUNDER = "text"


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is and can do; capabilities are data so the UI can enable tools."""

    id: str
    name: str
    roles: frozenset[str]
    prompts: frozenset[str] = frozenset({"point", "box"})
    description: str = ""
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    multimask: bool = False


@dataclass(frozen=True)
class BackendSpec:
    """What the registry holds: the info plus a lazy 'module:factory' target.

    `check` returns why the backend cannot run here (a missing package or weights file, with
    the fix), or None when it can.
    """

    info: BackendInfo
    target: str
    check: Callable[[], str | None] | None = field(default=None, compare=False)

    def missing_package(self) -> str | None:
        """The first required Python package that is not installed, with the fix."""
        for module in self.info.requires:
            if importlib.util.find_spec(module) is None:
                hint = self.info.install_hint or f"pip install {module}"
                return f"needs the Python package '{module}': {hint}"
        return None

    def unavailable_reason(self) -> str | None:
        """Why the backend cannot run with its default options (with the fix), or None."""
        return self.missing_package() or (self.check() if self.check else None)

    def create(self, **options: object) -> Backend:
        """Import the target and build the backend; raises BackendUnavailable with the fix.

        Only packages are checked here: options may name another variant or checkpoint than
        the default one `check` looks at, so the factory itself reports missing weights.
        """
        reason = self.missing_package()
        if reason:
            raise BackendUnavailable(f"backend '{self.info.id}' is unavailable: {reason}")
        module_name, _, attr = self.target.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        return factory(**options)


@runtime_checkable
class Segmenter(Protocol):
    """SAM's two-phase API: a slow `set_frame` (encoder, cached) and a fast `predict` per prompt."""

    info: BackendInfo

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        """Encode an RGB uint8 frame; a repeated `key` may reuse the cached embedding."""
        ...

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        """Candidate masks for the prompts on the current frame, best first."""
        ...


@runtime_checkable
class Recognizer(Protocol):
    """A Segmenter that also names what it segments (`MaskProposal.suggestions`) from a
    vocabulary the caller may set: the project's Labels, or the backend's released one."""

    vocabulary_name: str
    """What the current vocabulary is, for the UI ("LVIS v1 (1203 classes)", ...)."""

    def set_vocabulary(self, names: Sequence[str] | None) -> None:
        """Classify among `names`; None (or empty) = the released vocabulary. Cheap when
        unchanged."""
        ...


@runtime_checkable
class Tracker(Protocol):
    """A video tracker: prompts on any frame for any object at any time, streaming propagation."""

    info: BackendInfo

    def open(self, video: VideoSource) -> None:
        """Attach to a video; frames are read on demand through it, never all at once."""
        ...

    def add_prompts(self, frame: FrameIndex, obj: ObjectId, prompts: Prompts) -> list[MaskProposal]:
        """Set an object's prompts on a frame; returns its candidate masks there, best first."""
        ...

    def add_mask(self, frame: FrameIndex, obj: ObjectId, mask: np.ndarray) -> None:
        """Use a known mask (e.g. a stored keyframe) as the object's prompt on a frame."""
        ...

    def remove_object(self, obj: ObjectId) -> None:
        """Forget an object and everything it was prompted with."""
        ...

    def propagate(self, start: FrameIndex, stop: FrameIndex, *, reverse: bool = False
                  ) -> Iterator[FrameMasks]:
        """Yield masks frame by frame from start towards stop (inclusive), one yield per frame."""
        ...

    def reset(self) -> None:
        """Drop all prompts and memory; keep the loaded model."""
        ...

    def close(self) -> None:
        """Release the video and any cached state."""
        ...


@runtime_checkable
class Proposer(Protocol):
    """Automatic instances: every object a detector finds on a frame, with its class name."""

    info: BackendInfo

    def propose(self, frame: np.ndarray) -> list[MaskProposal]:
        """Candidate masks with `label` and score, best first."""
        ...


@runtime_checkable
class TextGrounder(Protocol):
    """Open-vocabulary dense labels: class names or a phrase in, per-pixel maps out."""

    info: BackendInfo

    def label_map(self, frame: np.ndarray, class_names: Sequence[str], key: object = None
                  ) -> DenseLabels:
        """Per-pixel classes among `class_names`; a repeated `key` reuses the frame's encoding."""
        ...

    def heatmap(self, frame: np.ndarray, phrase: str, background: Sequence[str] = (),
                key: object = None) -> np.ndarray:
        """(H, W) float map of where the phrase is (higher = more likely)."""
        ...


Backend = Segmenter | Tracker | Proposer | TextGrounder
