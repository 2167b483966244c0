"""Label suggestions from a recognizing segmenter (Open-Vocabulary SAM): the ranked class names
of the shown proposal, accepted with one key or a click, and a batch job that suggests labels
for every unlabelled Object for review.

Suggested names map onto the project's Labels: an existing Label with the same name (ignoring
case) is reused, so suggestions never create near-duplicate Labels.
"""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal

from annotator.core.jobs import Progress
from annotator.core.ports import VideoSource
from annotator.core.project import VideoRecord
from annotator.core.types import ObjectId
from annotator.tools.label_suggestions import suggest_labels
from annotator.tools.videos import open_record
from annotator.ui.controller import Controller
from annotator.ui.prompting import Prompting

Ranked = tuple[tuple[str, float], ...]
"""(class name, probability), best first."""
JOB = "label suggestions"


def project_label(names: list[str], name: str) -> str:
    """The project's spelling of a suggested name when it has that Label, else the name."""
    return next((n for n in names if n.casefold() == name.casefold()), name)


def describe(ranked: Ranked, limit: int = 5) -> str:
    """'cat 0.62 · dog 0.21 · …' for a status line or a tooltip."""
    return " · ".join(f"{n} {p:.2f}" for n, p in ranked[:limit])


class LabelSuggestions(QObject):
    """The shown suggestions (for one Object) and the batch job over unlabelled Objects."""

    changed = Signal()
    reviewReady = Signal(object)
    """{object id: ranked suggestions} after a batch run (objects with none left out)."""

    def __init__(self, ctl: Controller, prompting: Prompting) -> None:
        super().__init__(ctl)
        self.ctl, self.prompting = ctl, prompting
        self.object_id: ObjectId | None = None
        self.ranked: Ranked = ()
        self.results: dict[ObjectId, Ranked] = {}
        prompting.proposalChanged.connect(self._on_proposal)
        ctl.currentObjectChanged.connect(self._on_current)
        ctl.projectOpened.connect(lambda: self._show(None, ()))

    # --- the shown proposal ---------------------------------------------------------------------

    def _on_proposal(self) -> None:
        """Follow the shown candidate; a dropped proposal keeps its suggestions, so the user may
        accept the mask (Enter) first and the label (L) after."""
        proposal, target = self.prompting.proposal, self.prompting.target
        if proposal is None or target is None:
            return
        ranked = tuple(proposal.suggestions) or (
            ((proposal.label, proposal.score),) if proposal.label else ())
        self._show(target[1], ranked)

    def _on_current(self, object_id: ObjectId | None) -> None:
        if object_id != self.object_id:
            self._show(None, ())

    def _show(self, object_id: ObjectId | None, ranked: Ranked) -> None:
        if (object_id, ranked) != (self.object_id, self.ranked):
            self.object_id, self.ranked = object_id, ranked
            self.changed.emit()

    def accept_top(self) -> bool:
        """Label the Object with the best suggestion (L)."""
        if not self.ranked or self.object_id is None:
            self.ctl.message.emit("no label suggestions here: prompt an object with a "
                                  "recognizing backend (Open-Vocabulary SAM)")
            return False
        return self.accept(self.ranked[0][0])

    def accept(self, name: str, object_id: ObjectId | None = None) -> bool:
        """Label an Object (the shown one by default) with a suggested name."""
        obj = self.object_id if object_id is None else object_id
        store = self.ctl.store
        if obj is None or store is None or not name:
            return False
        label = project_label([lab.name for lab in store.labels()], name)
        self.ctl.update_object(obj, label=label)
        self.ctl.message.emit(f"object {obj} labelled '{label}'")
        return True

    def accept_all(self, chosen: dict[ObjectId, str]) -> int:
        """Apply reviewed labels; returns how many Objects were labelled."""
        return sum(self.accept(name, obj) for obj, name in chosen.items())

    # --- batch ----------------------------------------------------------------------------------

    def suggest_all(self) -> bool:
        """Suggest labels for every unlabelled Object from its masks in the In/Out range (all
        frames when unset), as a cancellable job; `reviewReady` follows."""
        ctl = self.ctl
        if ctl.store is None or ctl.video is None:
            ctl.message.emit("open a video first (Ctrl+O)")
            return False
        if ctl.model_lane.occupied:
            ctl.message.emit(f"{ctl.model_lane.foreground} is running: wait or press Esc to cancel")
            return False
        if not any(not o.label for o in ctl.objects):
            ctl.message.emit("every object has a label already")
            return False
        lo, hi = ctl.range
        frames = None if lo is None and hi is None else range(
            lo or 0, (ctl.frame_count - 1 if hi is None else hi) + 1)
        self.results = {}
        opened: list[VideoSource] = []
        started = ctl.model_lane.start(
            JOB, _suggest, ctl, ctl.video, frames, opened, on_yield=self._on_step,
            on_error=lambda exc: ctl.message.emit(f"label suggestions failed: {exc}"),
            on_finish=lambda aborted: self._finished(opened, aborted))
        if started:
            where = "all frames" if frames is None else f"frames {frames.start}-{frames.stop - 1}"
            ctl.message.emit(f"suggesting labels from {where} (Esc cancels)")
        return started

    def _on_step(self, step: Progress[tuple[ObjectId, list[tuple[str, float]]]]) -> None:
        self.ctl.model_lane.progress.emit(JOB, step.done, step.total)
        if step.result is not None:
            obj, ranked = step.result
            named = tuple((n, p) for n, p in ranked if n)
            if named:
                self.results[obj] = named

    def _finished(self, opened: list[VideoSource], aborted: bool) -> None:
        for source in opened:
            source.close()
        if not self.results:
            self.ctl.message.emit("no suggestions: the backend does not recognize objects "
                                  "(pick Open-Vocabulary SAM), or the objects have no masks")
            return
        state = "cancelled; review" if aborted else "review"
        self.ctl.message.emit(f"label suggestions {state} {len(self.results)} objects")
        self.reviewReady.emit(dict(self.results))


def _suggest(ctl: Controller, video: VideoRecord, frames: range | None,
             opened: list[VideoSource]) -> Iterator[Progress[object]]:
    """Worker side: open the video, build the segmenter, run the shared job."""
    store = ctl.store
    if store is None:
        return
    source = open_record(video)
    opened.append(source)
    segmenter = ctl.ensure_backend()
    yield from suggest_labels(store, segmenter, video.id, source,  # type: ignore[arg-type]
                              frames=frames)
