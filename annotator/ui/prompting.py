"""The prompt loop of one Object on one Frame: prompts -> Proposals -> accept, plus brush edits.

Backend calls run on the model lane; while one runs, newer prompts wait and only the latest set
is sent next, so fast clicking never queues stale work.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from annotator.core.edits import set_masks
from annotator.core.errors import AnnotatorError
from annotator.core.masks import decode, encode
from annotator.core.project import StoredMask
from annotator.core.types import (
    Box,
    FrameIndex,
    MaskProposal,
    ObjectId,
    Point,
    Prompts,
    Provenance,
    Source,
    validate_prompts,
)
from annotator.tools.track import prompt_payload
from annotator.ui.controller import Controller

Target = tuple[int, ObjectId, FrameIndex]
"""(video id, object, frame) a proposal belongs to."""


class Prompting(QObject):
    """Prompts and Proposals of the current Object on the current Frame."""

    proposalChanged = Signal()

    def __init__(self, ctl: Controller) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        self.prompts = Prompts()
        self.candidates: list[MaskProposal] = []
        self.index = 0
        self.target: Target | None = None
        self._pending = False
        self._waiting = False
        ctl.frameChanged.connect(lambda _i: self.drop())
        ctl.currentObjectChanged.connect(lambda _o: self.drop())
        ctl.projectOpened.connect(self.drop)

    @property
    def proposal(self) -> MaskProposal | None:
        """The candidate shown now (Tab cycles), or None."""
        return self.candidates[self.index] if self.candidates else None

    @property
    def active(self) -> bool:
        """Whether there are prompts or a proposal to accept or drop."""
        return not self.prompts.empty or bool(self.candidates)

    # --- prompts --------------------------------------------------------------------------------

    def add_point(self, x: float, y: float, positive: bool = True) -> None:
        """A positive (adds) or negative (removes) point on the current frame."""
        self._update(replace(self.prompts, points=(*self.prompts.points, Point(x, y, positive))))

    def set_box(self, box: Box) -> None:
        """A box around the object (replaces an earlier box)."""
        self._update(replace(self.prompts, box=box.normalized()))

    def use(self, prompts: Prompts) -> None:
        """Prompts from elsewhere (e.g. a phrase's box and point), as if the user drew them."""
        self._update(prompts)

    def set_text(self, text: str) -> None:
        """A text prompt, for backends that take one."""
        self._update(replace(self.prompts, text=text.strip() or None))

    def _update(self, prompts: Prompts) -> None:
        ctl = self.ctl
        if ctl.video is None:
            ctl.message.emit("open a video first (Ctrl+O)")
            return
        try:
            validate_prompts(prompts, ctl.video.width, ctl.video.height)
        except AnnotatorError as exc:
            ctl.message.emit(str(exc))
            return
        if ctl.current is None:
            ctl.add_object()
        self.target = (ctl.video.id, ctl.current, ctl.frame)  # type: ignore[assignment]
        self.prompts = prompts
        self.proposalChanged.emit()
        self._request()

    def _request(self) -> None:
        ctl = self.ctl
        if ctl.model_lane.occupied:  # background work gives way by itself
            if ctl.model_lane.foreground == "predict":
                self._pending = True
            else:
                ctl.message.emit(f"{ctl.model_lane.foreground} is running: wait or press Esc "
                                 "to cancel")
            return
        if ctl.image is None or ctl.image_index != ctl.frame:
            self._pending = True
            if not self._waiting:
                self._waiting = True
                ctl.imageReady.connect(self._retry_when_shown)
            return
        self._pending = False
        target, prompts, image = self.target, self.prompts, ctl.image
        key = (ctl.video.id if ctl.video else 0, ctl.frame)
        ctl.model_lane.start(
            "predict", _predict, ctl, image, key, prompts,
            on_return=lambda props: self._on_proposals(target, prompts, props),
            on_error=lambda exc: ctl.message.emit(f"the backend failed: {exc}"),
            on_finish=lambda _aborted: self._after())

    def _retry_when_shown(self, _index: int) -> None:
        self.ctl.imageReady.disconnect(self._retry_when_shown)
        self._waiting = False
        if self._pending:
            self._request()

    def _after(self) -> None:
        if self._pending and not self.prompts.empty:
            self._request()

    def _on_proposals(self, target: Target | None, prompts: Prompts,
                      proposals: list[MaskProposal]) -> None:
        if target != self.target or prompts != self.prompts:
            return  # the user moved on; a newer request follows
        self.candidates = list(proposals)
        self.index = 0
        self.proposalChanged.emit()

    # --- proposal -------------------------------------------------------------------------------

    def cycle(self) -> None:
        """Show the backend's next candidate (Tab)."""
        if len(self.candidates) > 1:
            self.index = (self.index + 1) % len(self.candidates)
            self.proposalChanged.emit()
            self.ctl.message.emit(f"candidate {self.index + 1} of {len(self.candidates)}")

    def accept(self) -> bool:
        """Store the shown candidate as the object's manual mask here (Enter); one undo step."""
        proposal, target, ctl = self.proposal, self.target, self.ctl
        if proposal is None or target is None or ctl.store is None or ctl.stack is None:
            return False
        video_id, obj, frame = target
        stored = StoredMask(encode(proposal.mask),
                            Provenance(Source.MANUAL, ctl.backend_id, "", proposal.score))
        changes = ctl.stack.do(set_masks(ctl.store, f"mask of object {obj} on frame {frame}",
                                         [(video_id, obj, frame, stored)]))
        ctl.store.clear_prompts(obj, frame)
        ctl.store.add_prompt(video_id, obj, frame, "prompts", prompt_payload(self.prompts))
        self.drop()
        ctl.refresh(changes)
        return True

    def drop(self) -> None:
        """Forget prompts and candidates (Esc)."""
        if not self.active and self.target is None:
            return
        self.prompts, self.candidates, self.index, self.target = Prompts(), [], 0, None
        self._pending = False
        self.proposalChanged.emit()

    # --- direct edits ---------------------------------------------------------------------------

    def paint(self, stroke: np.ndarray, erase: bool) -> None:
        """Add (brush) or remove (eraser) stroke pixels from the current object's mask."""
        ctl = self.ctl
        if ctl.store is None or ctl.video is None or ctl.stack is None or not stroke.any():
            return
        if ctl.current is None:
            if erase:
                return
            ctl.add_object()
        obj, frame = ctl.current, ctl.frame
        stored = ctl.store.mask(obj, frame)  # type: ignore[arg-type]
        mask = decode(stored.rle) if stored else np.zeros(stroke.shape, bool)
        mask = mask & ~stroke if erase else mask | stroke
        new = StoredMask(encode(mask), Provenance(Source.MANUAL, "brush")) if mask.any() else None
        what = "erase" if erase else "brush"
        changes = ctl.stack.do(set_masks(ctl.store, f"{what} on frame {frame}",
                                         [(ctl.video.id, obj, frame, new)]))  # type: ignore[list-item]
        ctl.refresh(changes)

    def delete_mask(self) -> None:
        """Remove the current object's mask on this frame (undoable)."""
        ctl = self.ctl
        if ctl.store is None or ctl.video is None or ctl.stack is None or ctl.current is None:
            return
        if ctl.store.mask(ctl.current, ctl.frame) is None:
            return
        changes = ctl.stack.do(set_masks(ctl.store, f"delete mask on frame {ctl.frame}",
                                         [(ctl.video.id, ctl.current, ctl.frame, None)]))
        ctl.refresh(changes)


def _predict(ctl: Controller, image: np.ndarray, key: object,
             prompts: Prompts) -> list[MaskProposal]:
    """Worker side: encode the frame (cached by key) and decode the prompts."""
    backend = ctl.ensure_backend()
    backend.set_frame(image, key)  # type: ignore[attr-defined]
    proposals = backend.predict(prompts)  # type: ignore[attr-defined]
    if not proposals:
        raise AnnotatorError("the backend returned no candidate for these prompts")
    return proposals
