"""Automatic instances in the GUI: a Proposer over the current frame or the In/Out range, linked
into Objects as Proposals, then reviewed (accept = an undoable edit, reject = delete).

The detector-class -> project-label mapping is kept in QSettings, one map per proposer; so are
the suppression choice (Fast NMS ... NOH-NMS) and the NOH head file NOH-NMS needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from annotator.backends.protocol import PROPOSER
from annotator.core.jobs import Progress
from annotator.core.project import VideoRecord
from annotator.core.types import FrameIndex, ObjectId, Source
from annotator.tools.auto_instances import (
    NOH_HELP,
    SUPPRESSIONS,
    AutoInstancesConfig,
    accept,
    auto_instances,
    proposal_only,
)
from annotator.tools.videos import open_record
from annotator.ui.controller import Controller
from annotator.ui.engines import pick

MAP_KEY = "auto_instances/class_map/{}"
SUPPRESSION_KEY = "auto_instances/suppression"
NOH_HEAD_KEY = "auto_instances/noh_head"
MIN_SCORE = 0.3


def job_frames(ctl: Controller) -> list[FrameIndex]:
    """The In/Out range when one end is set (open ends run to the video's ends), else the
    current frame."""
    lo, hi = ctl.range
    if lo is None and hi is None:
        return [ctl.frame]
    return list(range(0 if lo is None else lo, (ctl.frame_count - 1 if hi is None else hi) + 1))


def job_wrote(ctl: Controller, job: str, step: Progress[Any]) -> None:
    """A model job stored a frame's objects and masks: report progress, views re-read them."""
    ctl.model_lane.progress.emit(job, step.done, step.total)
    ctl.reload_objects()
    ctl.overlays.invalidate()
    ctl.reload_marks()
    ctl.overlayChanged.emit()


class AutoInstancesTool(QObject):
    """Runs auto-instances as a job and reviews the Proposals it leaves."""

    finished = Signal(bool)
    """cancelled"""

    def __init__(self, ctl: Controller) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        default = pick(ctl.backends, PROPOSER)
        self.proposer_id = default.id if default else ""
        self.min_score = MIN_SCORE

    # --- class mapping --------------------------------------------------------------------------

    def label_map(self) -> dict[str, str | None]:
        """Detector class -> project label (None = ignore), as last saved for this proposer."""
        raw = self.ctl.settings.value(MAP_KEY.format(self.proposer_id), "{}")
        try:
            data = json.loads(str(raw))
        except json.JSONDecodeError:
            return {}
        return {str(k): (None if v is None else str(v)) for k, v in data.items()}

    def set_label_map(self, mapping: dict[str, str | None]) -> None:
        """Save the mapping used by the next runs."""
        self.ctl.settings.setValue(MAP_KEY.format(self.proposer_id), json.dumps(mapping))
        self.ctl.settings.sync()

    def known_classes(self) -> list[str]:
        """Classes worth listing in the mapping dialog: the proposer's own (when built and it
        says), the mapped ones, and the labels of Objects still holding Proposals."""
        built = self.ctl.engines.built(self.proposer_id) if self.proposer_id else None
        names = list(getattr(built, "class_names", ()) or ())
        names += list(self.label_map())
        names += [o.label for o in self.ctl.objects if o.id in self.proposal_objects() and o.label]
        return list(dict.fromkeys(names))

    # --- suppression -----------------------------------------------------------------------------

    def suppression(self) -> str:
        """The saved suppression choice (a SUPPRESSIONS id; Fast NMS when unset or unknown)."""
        value = str(self.ctl.settings.value(SUPPRESSION_KEY, "fast"))
        return value if value in SUPPRESSIONS else "fast"

    def set_suppression(self, name: str) -> None:
        """Save the suppression used by the next runs."""
        if name not in SUPPRESSIONS:
            raise ValueError(f"unknown suppression {name!r}")
        self.ctl.settings.setValue(SUPPRESSION_KEY, name)
        self.ctl.settings.sync()

    def noh_head(self) -> str:
        """The configured NOH head file if it exists, else ""."""
        path = str(self.ctl.settings.value(NOH_HEAD_KEY, "") or "")
        return path if path and Path(path).is_file() else ""

    def set_noh_head(self, path: str) -> None:
        """Remember the NOH head file ("" forgets it)."""
        self.ctl.settings.setValue(NOH_HEAD_KEY, path)
        self.ctl.settings.sync()

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> bool:
        """Propose on the current frame or the In/Out range (A); committed frame by frame."""
        ctl = self.ctl
        if ctl.store is None or ctl.video is None:
            ctl.message.emit("open a video first (Ctrl+O)")
            return False
        if not self.proposer_id:
            ctl.message.emit("no automatic-instance backend is ready: get YOLACT's weights "
                             "(annotator models get yolact_base)")
            return False
        if ctl.model_lane.occupied:
            ctl.message.emit(f"{ctl.model_lane.foreground} is running: wait or press Esc")
            return False
        suppression, head = self.suppression(), self.noh_head()
        if suppression == "noh" and not head:
            ctl.message.emit(NOH_HELP)
            return False
        frames = job_frames(ctl)
        config = AutoInstancesConfig(self.min_score, label_map=self.label_map(),
                                     suppression=suppression, noh_head=head)
        started = ctl.model_lane.start(
            "auto-instances", _auto, ctl, self.proposer_id, ctl.video, frames, config,
            on_yield=lambda step: job_wrote(ctl, "auto-instances", step),
            on_error=lambda exc: ctl.message.emit(f"auto-instances failed: {exc}"),
            on_finish=self._done)
        if started:
            ctl.message.emit(f"proposing instances on {len(frames)} frame(s) (Esc cancels)")
        return started

    def _done(self, aborted: bool) -> None:
        count = len(self.proposal_objects())
        state = "cancelled" if aborted else "done"
        self.ctl.message.emit(f"auto-instances {state}: {count} object(s) to review "
                              "(Enter accepts, R rejects; Shift for all)")
        self.finished.emit(aborted)

    # --- review ---------------------------------------------------------------------------------

    def proposal_objects(self) -> list[ObjectId]:
        """Objects of the current video holding at least one Proposal."""
        return [o.id for o in self.ctl.objects
                if any(src == Source.PROPOSAL for src, _ in self.ctl.marks.get(o.id, {}).values())]

    def _targets(self, every: bool) -> list[ObjectId]:
        held = self.proposal_objects()
        return held if every else [o for o in held if o == self.ctl.current]

    def accept(self, every: bool = False) -> bool:
        """Make the current object's (or every object's) Proposals manual masks; one undo step."""
        ctl, objects = self.ctl, self._targets(every)
        if not objects or ctl.store is None or ctl.stack is None:
            return False
        if ctl.model_lane.occupied:
            ctl.message.emit("wait for the running job to finish")
            return False
        changes = ctl.stack.do(accept(ctl.store, ctl.store, objects))
        ctl.refresh(changes)
        ctl.message.emit(f"accepted the proposals of {len(objects)} object(s) (Ctrl+Z undoes)")
        return True

    def reject(self, every: bool = False) -> bool:
        """Delete the current (or every) object holding only Proposals, as one undoable step."""
        ctl, objects = self.ctl, self._targets(every)
        if not objects or ctl.store is None:
            return False
        if ctl.model_lane.occupied:
            ctl.message.emit("wait for the running job to finish")
            return False
        deleted = proposal_only(ctl.store, objects)
        if deleted:
            ctl.delete_objects(deleted, f"reject {len(deleted)} proposal object(s)")
        kept = len(objects) - len(deleted)
        note = f"; {kept} kept (they hold accepted masks too)" if kept else ""
        ctl.message.emit(f"rejected {len(deleted)} object(s){note} (Ctrl+Z brings them back)")
        return bool(deleted)


def _auto(ctl: Controller, proposer_id: str, video: VideoRecord, frames: list[FrameIndex],
          config: AutoInstancesConfig) -> Iterator[Progress[Any]]:
    """Worker side: build the proposer, open the video, run the shared job."""
    proposer: Any = ctl.engines.get(proposer_id)
    source = open_record(video)
    try:
        yield from auto_instances(ctl.store, proposer, video.id, source, frames,  # type: ignore[arg-type]
                                  config, proposer_id, getattr(proposer, "model_version", ""))
    finally:
        source.close()
