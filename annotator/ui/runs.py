"""Long jobs started from the UI: propagation (model lane) and export (export lane).

Both are the shared generator jobs from `annotator.tools` / `annotator.export`, run in superqt
workers; each yielded frame is already in the store, so Cancel keeps everything finished.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from annotator.core.edits import MaskRecorder
from annotator.core.jobs import Progress
from annotator.core.masks import decode
from annotator.core.ports import VideoSource
from annotator.core.types import FrameMasks, Source
from annotator.export import FORMATS
from annotator.store import ProjectStore
from annotator.tools.propagate import propagate, seed_keyframes
from annotator.tools.videos import open_record
from annotator.ui.controller import Controller


class Runs(QObject):
    """Starts, follows and cancels propagation and export runs."""

    finished = Signal(str, bool)
    """job name, whether it was cancelled"""

    def __init__(self, ctl: Controller) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        self.follow = True
        self.last_export: Path | None = None

    # --- propagation ----------------------------------------------------------------------------

    def propagate(self, reverse: bool = False) -> bool:
        """Fill masks from the current frame to Out (F) or back to In (B); one undo step."""
        ctl = self.ctl
        if ctl.store is None or ctl.video is None or ctl.stack is None:
            ctl.message.emit("open a video first (Ctrl+O)")
            return False
        if ctl.model_lane.occupied:
            ctl.message.emit(f"{ctl.model_lane.foreground} is running: wait or press Esc to cancel")
            return False
        lo, hi = ctl.range
        start = ctl.frame
        stop = (0 if lo is None else lo) if reverse else (ctl.frame_count - 1 if hi is None else hi)
        if (stop - start) * (-1 if reverse else 1) <= 0:
            ctl.message.emit("nothing to propagate: the playhead is at the end of the range")
            return False
        if not ctl.store.mask_frames(ctl.video.id):
            ctl.message.emit("no masks yet: prompt an object and press Enter first")
            return False
        word = "backward" if reverse else "forward"
        recorder = ctl.stack.recorder(f"propagate {word} {start}->{stop}")
        opened: list[VideoSource] = []
        started = ctl.model_lane.start(
            "propagation", _propagation, ctl, opened, start, stop, reverse, recorder,
            on_yield=self._on_frame,
            on_error=lambda exc: ctl.message.emit(f"propagation failed: {exc}"),
            on_finish=lambda aborted: self._propagated(recorder, opened, aborted))
        if started:
            ctl.message.emit(f"propagating {word} from frame {start} to {stop} (Esc cancels)")
        return started

    def _on_frame(self, step: Progress[FrameMasks]) -> None:
        ctl = self.ctl
        ctl.model_lane.progress.emit("propagation", step.done, step.total)
        result = step.result
        if result is None:
            return
        for obj, score in ((o, result.scores.get(o)) for o in result.masks):
            lane = ctl.marks.setdefault(obj, {})
            if lane.get(result.frame, ("",))[0] != Source.MANUAL:
                lane[result.frame] = (str(Source.PROPAGATED), score)
        ctl.overlays.invalidate([result.frame])
        ctl.marksChanged.emit()
        if self.follow:
            ctl.set_frame(result.frame)
        if result.frame == ctl.frame:
            ctl.overlayChanged.emit()

    def _propagated(self, recorder: MaskRecorder, opened: list[VideoSource],
                    aborted: bool) -> None:
        ctl = self.ctl
        edit = recorder.finish()
        backend = ctl.engines.built(ctl.engines.tracker_id(ctl.backend_id))
        if backend is not None and hasattr(backend, "close"):
            backend.close()
        for source in opened:
            source.close()
        ctl.refresh(edit.touched())
        frames = len({c.frame for c in edit.changes})
        state = "cancelled after" if aborted else "done:"
        ctl.message.emit(f"propagation {state} {frames} frames (Ctrl+Z undoes the run)")
        self.finished.emit("propagation", aborted)

    # --- export ---------------------------------------------------------------------------------

    def export(self, fmt: str, out_dir: str | Path, *, images: bool = True,
               resolution: str = "480p") -> bool:
        """Write the project in COCO or DAVIS layout in the background."""
        ctl = self.ctl
        if ctl.store is None:
            ctl.message.emit("open a project first")
            return False
        options: dict[str, Any] = {"frames": _frame_reader if images else None}
        if fmt == "davis":
            options["resolution"] = resolution
        out = Path(out_dir)
        started = ctl.io_lane.start(
            f"export {fmt}", _export, ctl.store, fmt, out, options,
            on_yield=lambda step: ctl.io_lane.progress.emit(f"export {fmt}", step.done,
                                                            step.total),
            on_error=lambda exc: ctl.message.emit(f"export failed: {exc}"),
            on_finish=lambda aborted: self._exported(fmt, out, aborted))
        if not started:
            ctl.message.emit("an export is already running")
        return started

    def _exported(self, fmt: str, out: Path, aborted: bool) -> None:
        self.last_export = out
        state = "cancelled" if aborted else "written to"
        self.ctl.message.emit(f"{fmt} export {state} {out}")
        self.finished.emit(f"export {fmt}", aborted)

    def cancel(self) -> bool:
        """Cancel whatever runs (Esc when no proposal is shown); True when something was."""
        busy = [lane for lane in (self.ctl.model_lane, self.ctl.io_lane)
                if lane.foreground not in ("", "predict")]
        for lane in busy:
            lane.cancel()
        return bool(busy)


def _propagation(ctl: Controller, opened: list[VideoSource], start: int, stop: int,
                 reverse: bool, recorder: MaskRecorder) -> Iterator[Progress[FrameMasks]]:
    """Worker side: open the video (indexing it may take a while), seed the tracker with every
    manual mask and the start frame's masks, then run; `opened` lets the GUI close the video."""
    store, video = ctl.store, ctl.video
    if store is None or video is None:
        return
    source = open_record(video)
    opened.append(source)
    tracker: Any = ctl.ensure_tracker()
    tracker.open(source)
    seed_keyframes(store, tracker, video.id)
    for rec in store.masks(video.id, frame=start):
        if rec.mask.provenance.source != Source.MANUAL:
            tracker.add_mask(start, rec.object_id, decode(rec.mask.rle))
    yield from propagate(store, tracker, video.id, start, stop, reverse=reverse,
                         recorder=recorder, backend=ctl.backend_id)


def _export(store: ProjectStore, fmt: str, out: Path, options: dict[str, Any]) -> Iterator[Any]:
    """Worker side: the exporter's own job."""
    yield from FORMATS[fmt].write(store, out, **options)


def _frame_reader(record: Any) -> Any:
    """Frames of a Video for exporters (sequential reads, so no seeking)."""
    return open_record(record).frame
