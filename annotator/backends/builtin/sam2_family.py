"""SAM 2 family models (EdgeTAM, EfficientTAM) as a Tracker and a Segmenter.

The video session streams frames from the VideoSource (never all loaded), keeps a small feature
cache and a bounded memory window, and accepts new objects at any time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from annotator.backends.device import resolve_device
from annotator.backends.protocol import BackendInfo
from annotator.backends.weights import find_weights, missing_weights
from annotator.core.errors import BackendUnavailable, PromptError
from annotator.core.ports import VideoSource
from annotator.core.types import (
    FrameIndex,
    FrameMasks,
    MaskProposal,
    ObjectId,
    Prompts,
    validate_prompts,
)
from annotator.nn.sam2 import Sam2ImagePredictor, Sam2Model, Sam2VideoPredictor
from annotator.nn.sam2.video_session import FrameResult, VideoSession

Loader = Callable[[Path], Sam2Model]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _point_arrays(prompts: Prompts) -> tuple[list[list[float]] | None, list[int] | None,
                                              list[float] | None]:
    points = [[p.x, p.y] for p in prompts.points] or None
    labels = [1 if p.positive else 0 for p in prompts.points] or None
    box = None
    if prompts.box is not None:
        b = prompts.box.normalized()
        box = [b.x0, b.y0, b.x1, b.y1]
    return points, labels, box


class Sam2FamilyBackend:
    """One loaded model serving both roles; the video session lives between open() and close()."""

    def __init__(self, info: BackendInfo, model_id: str, loader: Loader,
                 checkpoint: str | Path | None = None, device: str = "auto",
                 keep_frames: int | None = 300) -> None:
        path = Path(checkpoint) if checkpoint else find_weights(model_id)
        if path is None:
            raise BackendUnavailable(f"{info.name} is unavailable: {missing_weights(model_id)}")
        self.info = info
        self.device = resolve_device(device)
        self.model = loader(path).to(self.device).eval()
        self.model_version = path.name
        self._video_predictor = Sam2VideoPredictor(self.model, keep_frames=keep_frames)
        self._image = Sam2ImagePredictor(self.model)
        self._image_key: object = None
        self._shape: tuple[int, int] | None = None
        self._session: VideoSession | None = None
        self._video: VideoSource | None = None

    # --- Segmenter -----------------------------------------------------------------------------

    def set_frame(self, frame: np.ndarray, key: object = None) -> None:
        """Encode a frame for image mode (skipped when `key` is the frame encoded last)."""
        if key is None or key != self._image_key:
            self._image.set_image(np.ascontiguousarray(frame))
            self._image_key = key
        self._shape = (frame.shape[0], frame.shape[1])

    def predict(self, prompts: Prompts) -> list[MaskProposal]:
        """Candidates ranked by the predicted IoU (three for a lone click, else one)."""
        if self._shape is None:
            raise RuntimeError("set_frame() must be called before predict()")
        if not prompts.points and prompts.box is None:
            raise PromptError("give at least one point or a box")
        validate_prompts(prompts, self._shape[1], self._shape[0])
        points, labels, box = _point_arrays(prompts)
        multimask = prompts.box is None and len(prompts.points) == 1
        masks, ious, _ = self._image.predict(points, labels, box, None, multimask)
        order = np.argsort(-ious, kind="stable")
        return [MaskProposal(masks[i].astype(bool), float(ious[i])) for i in order]

    # --- Tracker -------------------------------------------------------------------------------

    def open(self, video: VideoSource) -> None:
        """Start a streaming session over the video."""
        self._video = video
        self._session = self._video_predictor.start(video)

    def _require(self) -> VideoSession:
        if self._session is None or self._video is None:
            raise RuntimeError("open(video) must be called before tracking")
        return self._session

    def _mask_of(self, result: FrameResult, obj: ObjectId) -> tuple[np.ndarray, float]:
        i = result.object_ids.index(obj)
        return result.masks[i], _sigmoid(float(result.object_scores[i]))

    def add_prompts(self, frame: FrameIndex, obj: ObjectId, prompts: Prompts) -> list[MaskProposal]:
        """Set the object's clicks/box on a frame (replacing earlier ones there)."""
        session = self._require()
        info = self._video.info  # type: ignore[union-attr]
        validate_prompts(prompts, info.width, info.height)
        points, labels, box = _point_arrays(prompts)
        result = session.add_points(frame, obj, points, labels, box, clear_old_points=True)
        mask, score = self._mask_of(result, obj)
        return [MaskProposal(mask, score)]

    def add_mask(self, frame: FrameIndex, obj: ObjectId, mask: np.ndarray) -> None:
        """Use a known mask as the object's prompt on a frame."""
        self._require().add_mask(frame, obj, np.asarray(mask, dtype=bool))

    def remove_object(self, obj: ObjectId) -> None:
        """Forget an object (no-op when it was never prompted)."""
        session = self._require()
        if obj in session.object_ids:
            session.remove_object(obj)

    def propagate(self, start: FrameIndex, stop: FrameIndex, *, reverse: bool = False
                  ) -> Iterator[FrameMasks]:
        """One FrameMasks per frame from start to stop; objects judged absent get no mask."""
        session = self._require()
        if (stop - start) * (-1 if reverse else 1) < 0 or not session.object_ids:
            return
        with torch.inference_mode():
            for result in session.propagate(start, abs(stop - start) + 1, reverse=reverse):
                masks, scores = {}, {}
                for i, obj in enumerate(result.object_ids):
                    score = _sigmoid(float(result.object_scores[i]))
                    if result.object_scores[i] > 0 and result.masks[i].any():
                        masks[obj], scores[obj] = result.masks[i], score
                yield FrameMasks(result.frame_index, masks, scores)

    def reset(self) -> None:
        """Drop every prompt and memory; keep the model and the video."""
        if self._session is not None:
            self._session.reset()

    def close(self) -> None:
        """End the session and release its memory."""
        self._session = None
        self._video = None


def create_edgetam(**options: object) -> Sam2FamilyBackend:
    """Registry factory for EdgeTAM."""
    from annotator.backends.builtin import EDGETAM_INFO
    from annotator.nn.sam2 import load_edgetam

    return Sam2FamilyBackend(EDGETAM_INFO, "edgetam", load_edgetam, **options)  # type: ignore[arg-type]


def create_efficienttam(variant: str = "efficienttam_s", **options: object) -> Sam2FamilyBackend:
    """Registry factory for EfficientTAM; `variant` picks the released checkpoint (its manifest
    id), since checkpoints of one width share a key set and the file name decides the config."""
    from annotator.backends.builtin import EFFICIENTTAM_INFO
    from annotator.nn.sam2.efficienttam import load_efficienttam

    return Sam2FamilyBackend(EFFICIENTTAM_INFO, variant,  # type: ignore[arg-type]
                             lambda path: load_efficienttam(path, variant), **options)
