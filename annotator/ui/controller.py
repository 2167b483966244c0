"""UI intents -> project edits and jobs: the one object widgets talk to (no widget code here).

Every edit reaches the store at once (autosave); the controller then says what changed through
signals so each view refreshes only what it shows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from platformdirs import user_data_dir
from PySide6.QtCore import QObject, QSettings, Signal

from annotator.backends.protocol import SEGMENTER, Recognizer
from annotator.core.edits import Changes, UndoStack
from annotator.core.errors import AnnotatorError
from annotator.core.object_edits import created_objects, delete_objects
from annotator.core.project import ObjectRecord, VideoRecord
from annotator.core.types import FrameIndex, ObjectId, Source
from annotator.store import ProjectStore, open_project
from annotator.store.repository import FrameMark
from annotator.tools.videos import add_video, open_record
from annotator.ui.engines import BackendChoice, Engines, pick, registered_backends
from annotator.ui.overlay import FrameOverlays, OverlayMode, StyledLayer, hex_rgb
from annotator.ui.recent import remember_project
from annotator.ui.scrub_proxy import ProxyBuilder
from annotator.ui.vocabulary import vocabulary_names
from annotator.ui.workers import FrameLoader, JobLane
from annotator.video import CachedVideo

PROJECT_SUFFIX = ".annotator"


def project_for(path: Path) -> Path:
    """Where the project of a bare video lives: next to it, else in the user data folder."""
    beside = path.parent / f"{path.stem}{PROJECT_SUFFIX}"
    if path.parent.exists() and os.access(path.parent, os.W_OK):
        return beside
    folder = Path(user_data_dir("annotator")) / "projects"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / beside.name


class Controller(QObject):
    """Holds the open project, the current video/frame/object, undo, and the job lanes."""

    projectOpened = Signal()
    frameChanged = Signal(int)
    imageReady = Signal(int)
    previewReady = Signal(int, object)
    """index, a scrub-proxy frame to show until the exact frame (imageReady) arrives"""
    overlayChanged = Signal()
    objectsChanged = Signal()
    currentObjectChanged = Signal(object)
    marksChanged = Signal()
    rangeChanged = Signal()
    backendChanged = Signal(str)
    message = Signal(str)

    def __init__(self, backends: list[BackendChoice] | None = None,
                 settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backends = backends if backends is not None else registered_backends()
        self.settings = settings or QSettings("annotator", "annotator")
        self.store: ProjectStore | None = None
        self.project_path: Path | None = None
        self.video: VideoRecord | None = None
        self.loader: FrameLoader | None = None
        self.proxy: ProxyBuilder | None = None
        self.frame: FrameIndex = 0
        self.image: np.ndarray | None = None
        self.image_index: FrameIndex = -1
        self.objects: list[ObjectRecord] = []
        self.current: ObjectId | None = None
        self.marks: dict[ObjectId, dict[FrameIndex, FrameMark]] = {}
        self.prompt_frames: dict[ObjectId, set[FrameIndex]] = {}
        self.range: tuple[FrameIndex | None, FrameIndex | None] = (None, None)
        self.stack: UndoStack | None = None
        self.overlays = FrameOverlays(self._layers)
        self.model_lane = JobLane("model", self)
        self.io_lane = JobLane("export", self)
        self.engines = Engines(self.backends)
        default = pick(self.backends, SEGMENTER) or next((b for b in self.backends if b.ready),
                                                          None)
        self.backend_id: str = default.id if default else ""

    # --- project and videos --------------------------------------------------------------------

    def open_path(self, path: str | Path) -> None:
        """Open a project file, or a video / image folder (in its project, or the open one)."""
        path = Path(path)
        if path.suffix == PROJECT_SUFFIX:
            self.open_project(path)
        elif self.store is not None:
            self.add_video(path)
        else:
            self.open_project(project_for(path))
            self.add_video(path)

    def open_project(self, path: str | Path) -> None:
        """Open (or create) a project and show its first video."""
        self.close()
        self.store = open_project(path)
        self.project_path = Path(path)
        self.stack = UndoStack(self.store)
        remember_project(self.settings, str(Path(path).resolve()))
        videos = self.store.videos()
        if videos:
            self.select_video(videos[0].id)
        self.projectOpened.emit()
        self.message.emit(f"opened {path}")

    def add_video(self, path: str | Path) -> None:
        """Add a video or image folder to the open project and show it."""
        store = self._require_store()
        record, source = add_video(store, path)
        source.close()
        self.select_video(record.id)
        self.projectOpened.emit()

    def select_video(self, video_id: int) -> None:
        """Show one of the project's videos from its first frame."""
        store = self._require_store()
        self._close_video()
        self.video = store.video(video_id)
        self.loader = FrameLoader(CachedVideo(open_record(self.video), capacity=32))
        self.loader.loaded.connect(self._on_loaded)
        self.loader.previewed.connect(self._on_preview)
        self.proxy = ProxyBuilder(self.video, self.loader)
        self.image, self.image_index = None, -1
        self.range = (None, None)
        self.overlays.invalidate()
        self.reload_objects()
        self.reload_marks()
        self.rangeChanged.emit()
        self.frame = -1
        self.set_frame(0)

    def close(self) -> None:
        """Stop background work and release the project (everything is already saved)."""
        for lane in (self.model_lane, self.io_lane):
            lane.cancel()
        self._close_video()
        if self.store is not None:
            self.store.close()
        self.store, self.video, self.image = None, None, None
        self.objects, self.marks, self.current = [], {}, None

    def _close_video(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        if self.loader is not None:
            self.loader.close()
            self.loader = None

    # --- frames ----------------------------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        """Frames in the current video (0 when none is open)."""
        return self.video.frame_count if self.video else 0

    def set_frame(self, index: FrameIndex) -> None:
        """Go to a frame: shown at once when decoded, else as soon as the loader has it."""
        if self.video is None or self.loader is None:
            return
        index = max(0, min(self.frame_count - 1, index))
        if index == self.frame:
            return
        self.frame = index
        self.frameChanged.emit(index)
        image = self.loader.cached(index)
        if image is not None:
            self._show(index, image)
        else:
            self.loader.request(index)

    def step(self, delta: int) -> None:
        """Move by delta frames, clamped to the video."""
        self.set_frame(self.frame + delta)

    def _on_loaded(self, index: int, image: np.ndarray) -> None:
        if index == self.frame:
            self._show(index, image)

    def _on_preview(self, index: int, image: np.ndarray) -> None:
        """A proxy frame is only shown; `image` (what models get) stays exact."""
        if index == self.frame and self.image_index != index:
            self.previewReady.emit(index, image)

    def _show(self, index: int, image: np.ndarray) -> None:
        self.image, self.image_index = image, index
        self.imageReady.emit(index)

    def set_in(self) -> None:
        """Make the current frame the start of the In/Out range."""
        self._set_range(self.frame, self.range[1])

    def set_out(self) -> None:
        """Make the current frame the end of the In/Out range."""
        self._set_range(self.range[0], self.frame)

    def clear_range(self) -> None:
        """Forget In/Out: propagation runs to the ends of the video."""
        self._set_range(None, None)

    def _set_range(self, lo: FrameIndex | None, hi: FrameIndex | None) -> None:
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        self.range = (lo, hi)
        self.rangeChanged.emit()

    # --- overlay --------------------------------------------------------------------------------

    def overlay(self, frame: FrameIndex | None = None) -> np.ndarray | None:
        """The composed mask layer of a frame (the current one by default)."""
        if self.video is None or self.store is None:
            return None
        return self.overlays.image(self.frame if frame is None else frame)

    def set_overlay_mode(self, mode: OverlayMode) -> None:
        """Fill, outline or off."""
        self.overlays.set_mode(OverlayMode(mode))
        self.overlayChanged.emit()

    def _layers(self, frame: FrameIndex) -> tuple[list[StyledLayer], tuple[int, int]]:
        video, store = self.video, self.store
        if video is None or store is None:
            return [], (1, 1)
        shown = {o.id: o for o in self.objects if o.visible}
        layers = [(rec.mask.rle, hex_rgb(shown[rec.object_id].color),
                   rec.mask.provenance.source == Source.PROPOSAL)
                  for rec in store.masks(video.id, frame=frame) if rec.object_id in shown]
        return layers, (video.height, video.width)

    def refresh(self, changes: Changes | None) -> None:
        """Views catch up with an edit: overlays of touched frames, timeline marks."""
        if changes is None:
            return
        if changes.objects_changed:
            self.reload_objects()
        self.overlays.invalidate(f for _, f in changes.frames)
        self.reload_marks()
        self.overlayChanged.emit()

    # --- objects --------------------------------------------------------------------------------

    def reload_objects(self) -> None:
        """Re-read the current video's objects."""
        if self.store is None or self.video is None:
            self.objects = []
        else:
            self.objects = self.store.objects(self.video.id)
        if self.current not in {o.id for o in self.objects}:
            self.current = self.objects[0].id if self.objects else None
            self.currentObjectChanged.emit(self.current)
        self.objectsChanged.emit()

    def reload_marks(self) -> None:
        """Re-read which frames have masks and prompts (timeline lanes)."""
        if self.store is None or self.video is None:
            self.marks, self.prompt_frames = {}, {}
        else:
            self.marks = self.store.mask_frames(self.video.id)
            self.prompt_frames = {}
            for rec in self.store.prompts(self.video.id):
                self.prompt_frames.setdefault(rec.object_id, set()).add(rec.frame)
        self.marksChanged.emit()

    def object(self, object_id: ObjectId | None) -> ObjectRecord | None:
        """An object of the current video by id."""
        return next((o for o in self.objects if o.id == object_id), None)

    def add_object(self, label: str | None = None) -> ObjectRecord:
        """Create an object in the current video and make it current."""
        store, video = self._require_store(), self._require_video()
        record = store.add_object(video.id, label)
        self.reload_objects()
        self.select_object(record.id)
        return record

    def select_object(self, object_id: ObjectId | None) -> None:
        """Make an object the one prompts and brushes apply to."""
        if object_id == self.current:
            return
        self.current = object_id
        self.currentObjectChanged.emit(object_id)

    def select_index(self, index: int) -> None:
        """Select the index-th object (digit keys; 0-based)."""
        if 0 <= index < len(self.objects):
            self.select_object(self.objects[index].id)

    def update_object(self, object_id: ObjectId, *, label: str | None = None,
                      color: str | None = None, visible: bool | None = None) -> None:
        """Rename, recolour or show/hide an object."""
        self._require_store().update_object(object_id, label=label, color=color, visible=visible)
        self.reload_objects()
        if color is not None or visible is not None:
            self.overlays.invalidate()
            self.overlayChanged.emit()
            self.marksChanged.emit()

    def delete_object(self, object_id: ObjectId) -> None:
        """Delete an object with its masks and prompts, as one undoable step."""
        self.delete_objects([object_id], f"delete object {object_id}")

    def delete_objects(self, object_ids: list[ObjectId], description: str) -> None:
        """Delete objects as one undoable step (undo restores them whole, same ids)."""
        store = self._require_store()
        if self.stack is None:
            self.stack = UndoStack(store)
        self.refresh(self.stack.do(delete_objects(store, description, object_ids)))

    def record_created(self, object_ids: list[ObjectId], description: str) -> None:
        """Make objects just created (with their masks) one undoable step."""
        if self.store is not None and self.stack is not None:
            self.stack.record(created_objects(self.store, description, object_ids))

    # --- undo -----------------------------------------------------------------------------------

    def undo(self) -> None:
        """Revert the newest edit (a whole propagation run is one step)."""
        self._history(True)

    def redo(self) -> None:
        """Re-apply the last undone edit."""
        self._history(False)

    def _history(self, undo: bool) -> None:
        if self.stack is None:
            return
        if self.model_lane.occupied:
            self.message.emit("wait for the running job to finish (Esc cancels it)")
            return
        text = self.stack.undo_text() if undo else ""
        changes = self.stack.undo() if undo else self.stack.redo()
        if changes is None:
            self.message.emit("nothing to undo" if undo else "nothing to redo")
            return
        self.refresh(changes)
        self.message.emit(f"undid {text}" if undo else "redone")

    # --- backend ------------------------------------------------------------------------------

    def choice(self, backend_id: str | None = None) -> BackendChoice | None:
        """A listed backend by id (the selected one by default)."""
        wanted = backend_id or self.backend_id
        return next((b for b in self.backends if b.id == wanted), None)

    def set_backend(self, backend_id: str) -> None:
        """Switch backend; one that cannot run is refused with its reason and fix."""
        choice = self.choice(backend_id)
        if choice is None or not choice.ready:
            reason = choice.problem if choice else "unknown backend"
            self.message.emit(f"backend '{backend_id}' is unavailable: {reason}")
            return
        if self.model_lane.occupied:
            self.message.emit("wait for the running job before switching backend")
            return
        if backend_id != self.backend_id:
            self.model_lane.cancel_background()
            old, self.backend_id = self.backend_id, backend_id
            self.engines.drop(old)
        self.backendChanged.emit(backend_id)

    @property
    def backend(self) -> object | None:
        """The selected segmenter, if built already."""
        return self.engines.built(self.backend_id)

    def ensure_backend(self) -> object:
        """The selected backend, built on first use (called on the model lane's thread); a
        Recognizer gets the vocabulary the user chose (annotator.ui.vocabulary)."""
        if not self.backend_id:
            raise AnnotatorError("no backend is ready: pick one in the tools panel")
        backend = self.engines.get(self.backend_id)
        if isinstance(backend, Recognizer):
            backend.set_vocabulary(vocabulary_names(self.settings, self.store))
        return backend

    def ensure_tracker(self) -> object:
        """The backend that propagates: the selected one when it tracks, else the default
        tracker (built on first use, on the model lane's thread)."""
        return self.engines.get(self.engines.tracker_id(self.backend_id))

    # --- helpers --------------------------------------------------------------------------------

    def _require_store(self) -> ProjectStore:
        if self.store is None:
            raise AnnotatorError("no project is open: open a video or a project first (Ctrl+O)")
        return self.store

    def _require_video(self) -> VideoRecord:
        if self.video is None:
            raise AnnotatorError("the project has no video: add one (Ctrl+O)")
        return self.video
