"""Text in the GUI, through a TextGrounder: DenseCLIP pseudo-labels (a previewed label map whose
regions become Objects when clicked, and a job over In/Out) and the text prompt (a phrase ->
heatmap -> a box and a point handed to the segmenter as if the user had drawn them).

Pseudo masks never overwrite manual work: `annotator.tools.pseudo_labels` guarantees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from annotator.backends.protocol import GROUNDER
from annotator.core.edits import Changes
from annotator.core.jobs import Progress
from annotator.core.palette import davis_palette
from annotator.core.project import VideoRecord
from annotator.core.types import DenseLabels, FrameIndex, ObjectId
from annotator.tools.pseudo_labels import (
    PseudoLabelConfig,
    class_mask,
    phrase_prompts,
    pseudo_label,
    regions,
    regions_to_objects,
)
from annotator.tools.videos import open_record
from annotator.ui.auto_tool import job_frames, job_wrote
from annotator.ui.controller import Controller
from annotator.ui.engines import pick
from annotator.ui.overlay import OverlayMode, compose
from annotator.ui.prompting import Prompting

LABELS_ALPHA = 0.35
MIN_AREA = 0.001
"""Smallest region offered, as a share of the frame (as the pseudo-label job uses)."""


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, trimmed, without blanks or repeats."""
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


class TextTool(QObject):
    """The label-map preview, region picking, range labelling and phrase grounding."""

    labelsChanged = Signal()
    finished = Signal(str, bool)
    """job name, cancelled"""

    def __init__(self, ctl: Controller, prompting: Prompting) -> None:
        super().__init__(ctl)
        self.ctl, self.prompting = ctl, prompting
        default = pick(ctl.backends, GROUNDER)
        self.grounder_id = default.id if default else ""
        self.config = PseudoLabelConfig(classes=())
        self.dense: DenseLabels | None = None
        self._dense_key: tuple[int, int] | None = None
        ctl.frameChanged.connect(lambda _i: self.clear_preview())
        ctl.projectOpened.connect(self.clear_preview)

    @property
    def ready(self) -> bool:
        """Whether a TextGrounder can run here."""
        return bool(self.grounder_id)

    def set_names(self, classes: str, background: str = "", min_score: float = 0.5) -> None:
        """Class names (become Objects), background names (help the classifier only)."""
        self.config = PseudoLabelConfig(names(classes), names(background), min_score, MIN_AREA)

    def _check(self, need_classes: bool = True) -> bool:
        ctl = self.ctl
        if ctl.store is None or ctl.video is None or ctl.image is None:
            ctl.message.emit("open a video first (Ctrl+O)")
        elif not self.ready:
            ctl.message.emit("no text backend is ready: get DenseCLIP's weights "
                             "(annotator models get clip_vit_b16)")
        elif need_classes and not self.config.classes:
            ctl.message.emit("type the class names first, e.g. 'person, car'")
        elif ctl.model_lane.occupied:
            ctl.message.emit(f"{ctl.model_lane.foreground} is running: wait or press Esc")
        else:
            return True
        return False

    # --- label map preview ----------------------------------------------------------------------

    @property
    def showing(self) -> bool:
        """Whether the preview of the current frame is shown (clicks then pick regions)."""
        ctl = self.ctl
        return self.dense is not None and ctl.video is not None and \
            self._dense_key == (ctl.video.id, ctl.frame)

    def preview(self) -> bool:
        """Compute and show the label map of the current frame."""
        if not self._check():
            return False
        ctl = self.ctl
        assert ctl.video is not None
        assert ctl.image is not None
        key = (ctl.video.id, ctl.frame)
        all_names = [*self.config.classes, *self.config.background]
        return ctl.model_lane.start(
            "label map", _label_map, ctl, self.grounder_id, ctl.image, all_names, key,
            on_return=lambda dense: self._show(key, dense),
            on_error=lambda exc: ctl.message.emit(f"the text backend failed: {exc}"))

    def _show(self, key: tuple[int, int], dense: DenseLabels) -> None:
        self.dense, self._dense_key = dense, key
        self.labelsChanged.emit()
        self.ctl.message.emit("click a region to make it an object; Esc hides the preview")

    def clear_preview(self) -> None:
        """Hide the label map."""
        if self.dense is not None:
            self.dense, self._dense_key = None, None
            self.labelsChanged.emit()

    def layer(self) -> np.ndarray | None:
        """The preview as an ARGB image: one palette colour per class, background left clear."""
        dense = self.dense
        if dense is None or not self.showing:
            return None
        palette = davis_palette(len(dense.class_names) + 1)
        layers = [(class_mask(dense, name, self.config.min_score),
                   tuple(int(c) for c in palette[k + 1]))
                  for k, name in enumerate(dense.class_names) if name in self.config.classes]
        return compose(layers, dense.labels.shape, OverlayMode.FILL, LABELS_ALPHA)  # type: ignore[arg-type]

    def pick(self, x: float, y: float) -> ObjectId | None:
        """Make the previewed region under a frame pixel a new Object (pseudo Mask)."""
        ctl, dense = self.ctl, self.dense
        if dense is None or not self.showing or ctl.store is None or ctl.video is None:
            return None
        h, w = dense.labels.shape
        col, row = min(w - 1, max(0, int(x))), min(h - 1, max(0, int(y)))
        name = dense.class_names[int(dense.labels[row, col])]
        if name not in self.config.classes:
            ctl.message.emit(f"that is '{name}' (background): click a class region")
            return None
        mask = class_mask(dense, name, self.config.min_score)
        min_pixels = max(1, int(MIN_AREA * h * w))
        region = next((r for r in regions(mask, min_pixels) if r[row, col]), None)
        if region is None:
            ctl.message.emit(f"no '{name}' region large or sure enough here")
            return None
        version = getattr(ctl.engines.built(self.grounder_id), "model_version", "")
        (obj,) = regions_to_objects(ctl.store, ctl.video.id, ctl.frame, [(name, region)],
                                    self.grounder_id, version)
        ctl.record_created([obj], f"object '{name}' from the label map")
        ctl.reload_objects()
        ctl.select_object(obj)
        ctl.refresh(Changes(frozenset({(ctl.video.id, ctl.frame)}), frozenset({obj})))
        ctl.message.emit(f"new object '{name}' from the label map")
        return obj

    # --- range ----------------------------------------------------------------------------------

    def label_range(self) -> bool:
        """Pseudo-label the In/Out range (or this frame) as a job; one Object per class."""
        if not self._check():
            return False
        ctl = self.ctl
        frames = job_frames(ctl)
        return ctl.model_lane.start(
            "pseudo-label", _pseudo, ctl, self.grounder_id, ctl.video, frames, self.config,
            on_yield=lambda step: job_wrote(ctl, "pseudo-label", step),
            on_error=lambda exc: ctl.message.emit(f"pseudo-labelling failed: {exc}"),
            on_finish=lambda aborted: self.finished.emit("pseudo-label", aborted))

    # --- text prompt ----------------------------------------------------------------------------

    def prompt(self, phrase: str) -> bool:
        """A phrase -> box + point prompts for the current segmenter (Tab/Enter as usual)."""
        phrase = phrase.strip()
        if not phrase:
            return False
        if not self.ready:
            choice = self.ctl.choice()
            if choice is not None and "text" in choice.prompts:
                self.prompting.set_text(phrase)
                return True
        if not self._check(need_classes=False):
            return False
        ctl = self.ctl
        assert ctl.video is not None
        assert ctl.image is not None
        key = (ctl.video.id, ctl.frame)
        got: list[np.ndarray] = []
        return ctl.model_lane.start(
            "text prompt", _heatmap, ctl, self.grounder_id, ctl.image, phrase,
            self.config.background, key, on_return=got.append,
            on_error=lambda exc: ctl.message.emit(f"the text backend failed: {exc}"),
            on_finish=lambda _aborted: self._grounded(key, got))

    def _grounded(self, key: tuple[int, int], got: list[np.ndarray]) -> None:
        ctl = self.ctl
        if not got or ctl.video is None or key != (ctl.video.id, ctl.frame):
            return
        try:
            prompts = phrase_prompts(got[0])
        except ValueError as exc:
            ctl.message.emit(f"the text backend gave no usable map: {exc}")
            return
        self.prompting.use(prompts)


def _backend(ctl: Controller, backend_id: str) -> Any:
    return ctl.engines.get(backend_id)


def _label_map(ctl: Controller, grounder_id: str, image: np.ndarray, all_names: list[str],
               key: object) -> DenseLabels:
    """Worker side: the dense labels of one frame."""
    return _backend(ctl, grounder_id).label_map(image, all_names, key)


def _heatmap(ctl: Controller, grounder_id: str, image: np.ndarray, phrase: str,
             background: tuple[str, ...], key: object) -> np.ndarray:
    """Worker side: where the phrase is."""
    return np.asarray(_backend(ctl, grounder_id).heatmap(image, phrase, background, key))


def _pseudo(ctl: Controller, grounder_id: str, video: VideoRecord, frames: list[FrameIndex],
            config: PseudoLabelConfig) -> Iterator[Progress[Any]]:
    """Worker side: the shared pseudo-label job over the frames."""
    grounder = _backend(ctl, grounder_id)
    source = open_record(video)
    try:
        yield from pseudo_label(ctl.store, grounder, video.id, source, frames,  # type: ignore[arg-type]
                                config, grounder_id, getattr(grounder, "model_version", ""))
    finally:
        source.close()
