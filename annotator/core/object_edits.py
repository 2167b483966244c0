"""Undoable deletion and creation of Objects.

The edit keeps each Object whole (its record, every Mask and every Prompt), so undoing a
deletion brings it back with the same id, label, colour and history, and undoing a creation
(e.g. a region picked from a pseudo-label map) removes it again. Nothing is lost either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from annotator.core.edits import Changes, MaskRepository
from annotator.core.project import MaskRecord, ObjectRecord, PromptRecord
from annotator.core.types import FrameIndex, ObjectId


class ObjectRepository(MaskRepository, Protocol):
    """What Object edits need from a store (implemented by `annotator.store.ProjectStore`)."""

    def object(self, object_id: ObjectId) -> ObjectRecord: ...

    def masks(self, video_id: int, *, object_id: ObjectId | None = None) -> list[MaskRecord]: ...

    def prompts(self, video_id: int, object_id: ObjectId | None = None) -> list[PromptRecord]: ...

    def add_object(self, video_id: int, label: str | None = None, color: str | None = None,
                   object_id: ObjectId | None = None) -> ObjectRecord: ...

    def update_object(self, object_id: ObjectId, *, visible: bool | None = None) -> None: ...

    def delete_object(self, object_id: ObjectId) -> None: ...

    def add_prompt(self, video_id: int, object_id: ObjectId, frame: FrameIndex, kind: str,
                   payload: dict[str, object]) -> PromptRecord: ...


@dataclass(frozen=True)
class ObjectSnapshot:
    """One Object with everything stored for it."""

    record: ObjectRecord
    masks: tuple[MaskRecord, ...]
    prompts: tuple[PromptRecord, ...]

    @classmethod
    def take(cls, repo: ObjectRepository, object_id: ObjectId) -> ObjectSnapshot:
        record = repo.object(object_id)
        return cls(record, tuple(repo.masks(record.video_id, object_id=object_id)),
                   tuple(repo.prompts(record.video_id, object_id)))

    def restore(self, repo: ObjectRepository) -> None:
        """Re-create the Object under its own id, then its Masks and Prompts."""
        r = self.record
        repo.add_object(r.video_id, r.label, r.color, object_id=r.id)
        if not r.visible:
            repo.update_object(r.id, visible=False)
        repo.write_masks((m.video_id, m.object_id, m.frame, m.mask) for m in self.masks)
        for p in self.prompts:
            repo.add_prompt(p.video_id, p.object_id, p.frame, p.kind, p.payload)


@dataclass(frozen=True)
class ObjectsEdit:
    """Objects deleted (`create=False`) or created (`create=True`) as one undoable step."""

    description: str
    objects: tuple[ObjectSnapshot, ...]
    create: bool = False

    @property
    def empty(self) -> bool:
        return not self.objects

    def apply(self, repo: ObjectRepository) -> Changes:
        return self._restore(repo) if self.create else self._delete(repo)

    def revert(self, repo: ObjectRepository) -> Changes:
        return self._delete(repo) if self.create else self._restore(repo)

    def touched(self) -> Changes:
        """Frames with the Objects' masks; the Object list changes too."""
        return Changes(frozenset((m.video_id, m.frame) for o in self.objects for m in o.masks),
                       frozenset(o.record.id for o in self.objects), objects_changed=True)

    def _delete(self, repo: ObjectRepository) -> Changes:
        for snapshot in self.objects:
            repo.delete_object(snapshot.record.id)
        return self.touched()

    def _restore(self, repo: ObjectRepository) -> Changes:
        for snapshot in self.objects:
            snapshot.restore(repo)
        return self.touched()


def delete_objects(repo: ObjectRepository, description: str,
                   object_ids: list[ObjectId]) -> ObjectsEdit:
    """The edit that deletes these Objects (snapshotted now; apply it with `UndoStack.do`)."""
    return ObjectsEdit(description, tuple(ObjectSnapshot.take(repo, o) for o in object_ids))


def created_objects(repo: ObjectRepository, description: str,
                    object_ids: list[ObjectId]) -> ObjectsEdit:
    """The edit standing for Objects just created (record it with `UndoStack.record`)."""
    return ObjectsEdit(description, tuple(ObjectSnapshot.take(repo, o) for o in object_ids),
                       create=True)
