"""Undoable edits: the only way project state changes, each saying what it changed.

A propagation run writes masks frame by frame as they arrive (so a crash keeps them) through a
`MaskRecorder`, which becomes one undoable step when the run ends or is cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from annotator.core.project import StoredMask
from annotator.core.types import FrameIndex, ObjectId

MaskWrite = tuple[int, ObjectId, FrameIndex, StoredMask | None]


class MaskRepository(Protocol):
    """What edits need from a store (implemented by `annotator.store.ProjectStore`)."""

    def mask(self, object_id: ObjectId, frame: FrameIndex) -> StoredMask | None: ...

    def write_masks(self, writes: Iterable[MaskWrite]) -> int: ...


@dataclass(frozen=True)
class MaskChange:
    """One mask slot before and after an edit (None = no mask)."""

    video_id: int
    object_id: ObjectId
    frame: FrameIndex
    before: StoredMask | None
    after: StoredMask | None


@dataclass(frozen=True)
class Changes:
    """What an edit touched, so views refresh precisely."""

    frames: frozenset[tuple[int, FrameIndex]] = frozenset()
    objects: frozenset[ObjectId] = frozenset()
    objects_changed: bool = False
    """Objects were created or deleted (the object list must be re-read)."""


class Edit(Protocol):
    """An undoable step: `MaskEdit`, or `ObjectsEdit` (annotator.core.object_edits)."""

    description: str

    @property
    def empty(self) -> bool: ...

    def apply(self, repo: MaskRepository) -> Changes: ...

    def revert(self, repo: MaskRepository) -> Changes: ...


@dataclass(frozen=True)
class MaskEdit:
    """A set of mask changes applied and reverted together."""

    description: str
    changes: tuple[MaskChange, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    def apply(self, repo: MaskRepository) -> Changes:
        """Write every `after`."""
        repo.write_masks((c.video_id, c.object_id, c.frame, c.after) for c in self.changes)
        return self.touched()

    def revert(self, repo: MaskRepository) -> Changes:
        """Write every `before`, last change first."""
        repo.write_masks((c.video_id, c.object_id, c.frame, c.before)
                         for c in reversed(self.changes))
        return self.touched()

    def touched(self) -> Changes:
        """The frames and objects this edit changes."""
        return Changes(frozenset((c.video_id, c.frame) for c in self.changes),
                       frozenset(c.object_id for c in self.changes))


def set_masks(repo: MaskRepository, description: str,
              writes: Iterable[MaskWrite]) -> MaskEdit:
    """Build the edit that sets these masks, reading their current values as `before`."""
    changes = tuple(MaskChange(v, o, f, repo.mask(o, f), m) for v, o, f, m in writes)
    return MaskEdit(description, changes)


@dataclass
class UndoStack:
    """Linear undo/redo history of edits over one repository."""

    repo: MaskRepository
    limit: int = 200
    _done: list[Edit] = field(default_factory=list)
    _undone: list[Edit] = field(default_factory=list)

    def do(self, edit: Edit) -> Changes:
        """Apply an edit and make it the newest step."""
        changes = edit.apply(self.repo)
        self.record(edit)
        return changes

    def record(self, edit: Edit) -> None:
        """Add an edit that is already applied (e.g. a finished propagation run)."""
        if edit.empty:
            return
        self._done.append(edit)
        del self._done[:-self.limit]
        self._undone.clear()

    def undo(self) -> Changes | None:
        """Revert the newest step; None when there is nothing to undo."""
        if not self._done:
            return None
        edit = self._done.pop()
        self._undone.append(edit)
        return edit.revert(self.repo)

    def redo(self) -> Changes | None:
        """Re-apply the last undone step; None when there is nothing to redo."""
        if not self._undone:
            return None
        edit = self._undone.pop()
        self._done.append(edit)
        return edit.apply(self.repo)

    @property
    def can_undo(self) -> bool:
        """Whether `undo` would do something."""
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        """Whether `redo` would do something."""
        return bool(self._undone)

    def undo_text(self) -> str:
        """Description of the step `undo` would revert."""
        return self._done[-1].description if self._done else ""

    def recorder(self, description: str) -> MaskRecorder:
        """A recorder whose writes reach the store at once and undo as one step."""
        return MaskRecorder(self, description)


class MaskRecorder:
    """Writes masks immediately and collects them into one undoable edit (`with` or `finish`)."""

    def __init__(self, stack: UndoStack, description: str) -> None:
        self._stack = stack
        self._description = description
        self._changes: dict[tuple[ObjectId, FrameIndex], MaskChange] = {}

    def write(self, writes: Iterable[MaskWrite]) -> Changes:
        """Write masks now (one transaction), remembering the first `before` of each slot."""
        batch = []
        for v, o, f, m in writes:
            key = (o, f)
            before = (self._changes[key].before if key in self._changes
                      else self._stack.repo.mask(o, f))
            self._changes[key] = MaskChange(v, o, f, before, m)
            batch.append((v, o, f, m))
        self._stack.repo.write_masks(batch)
        return MaskEdit("", tuple(self._changes[(o, f)] for _, o, f, _ in batch)).touched()

    def finish(self) -> MaskEdit:
        """Push what was written as one step (call once)."""
        edit = MaskEdit(self._description, tuple(self._changes.values()))
        self._stack.record(edit)
        return edit

    def __enter__(self) -> MaskRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
