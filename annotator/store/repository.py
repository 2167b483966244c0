"""ProjectStore: every read and write of a project, each write one transaction."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, func, make_url, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DatabaseError, OperationalError

from annotator.core.edits import MaskWrite
from annotator.core.errors import StoreError
from annotator.core.masks import MaskRLE
from annotator.core.ports import FrameMark
from annotator.core.project import (
    Label,
    MaskRecord,
    ObjectRecord,
    PromptRecord,
    StoredMask,
    VideoRecord,
    default_color,
)
from annotator.core.types import FrameIndex, ObjectId, Provenance, Source
from annotator.store.engine import database_url, make_engine
from annotator.store.migrations import ensure_schema
from annotator.store.schema import (
    BatchRunRow,
    LabelRow,
    MaskRow,
    ObjectRow,
    PromptRow,
    VideoRow,
)
from annotator.store.sensors import SensorStore


@dataclass(frozen=True)
class BatchRun:
    """How far one batch Propagation run got: `reached` is its last committed frame."""

    video_id: int
    fingerprint: str
    backend: str
    model_version: str
    reverse: bool
    start: FrameIndex
    stop: FrameIndex
    reached: FrameIndex

    @property
    def finished(self) -> bool:
        """True once the run has committed its `stop` frame."""
        return self.reached <= self.stop if self.reverse else self.reached >= self.stop


class ProjectStore(SensorStore):
    """A project file (or database URL). Safe to kill at any time: commits are atomic (WAL)."""

    def __init__(self, engine: Engine, where: str) -> None:
        self.engine = engine
        self.where = where

    # --- videos, labels, objects -------------------------------------------------------------

    def add_video(self, path: str, name: str, content_hash: str, frame_count: int, fps: float,
                  width: int, height: int) -> VideoRecord:
        """Add a Video, or return the existing one with the same content hash."""
        with self.engine.begin() as conn:
            stmt = select(VideoRow).where(VideoRow.content_hash == content_hash)
            row = conn.execute(stmt).first()
            if row is None:
                vid = conn.execute(VideoRow.__table__.insert().values(
                    path=path, name=name, content_hash=content_hash, frame_count=frame_count,
                    fps=fps, width=width, height=height)).inserted_primary_key[0]
            else:
                vid = row.id
                conn.execute(update(VideoRow).where(VideoRow.id == vid).values(path=path))
        return self.video(vid)

    def video(self, video_id: int) -> VideoRecord:
        """One Video by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(VideoRow).where(VideoRow.id == video_id)).first()
        if row is None:
            raise StoreError(f"video {video_id} is not in {self.where}")
        return _video(row)

    def videos(self) -> list[VideoRecord]:
        """All Videos, in the order they were added."""
        with self.engine.connect() as conn:
            return [_video(r) for r in conn.execute(select(VideoRow).order_by(VideoRow.id))]

    def label(self, name: str, color: str | None = None) -> Label:
        """The Label with this name, created on first use."""
        with self.engine.begin() as conn:
            row = conn.execute(select(LabelRow).where(LabelRow.name == name)).first()
            if row is None:
                n = conn.execute(select(func.count()).select_from(LabelRow)).scalar_one()
                color = color or default_color(n)
                lid = conn.execute(LabelRow.__table__.insert().values(name=name, color=color)
                                   ).inserted_primary_key[0]
                return Label(lid, name, color)
            return Label(row.id, row.name, row.color)

    def labels(self) -> list[Label]:
        """All Labels by id."""
        with self.engine.connect() as conn:
            return [Label(r.id, r.name, r.color)
                    for r in conn.execute(select(LabelRow).order_by(LabelRow.id))]

    def add_object(self, video_id: int, label: str | None = None, color: str | None = None,
                   object_id: ObjectId | None = None) -> ObjectRecord:
        """Create an Object in a Video (optionally with a given id, e.g. to undo a deletion)."""
        label_id = self.label(label).id if label else None
        with self.engine.begin() as conn:
            n = conn.execute(select(func.count()).select_from(ObjectRow)
                             .where(ObjectRow.video_id == video_id)).scalar_one()
            values: dict[str, object] = {"video_id": video_id, "label_id": label_id,
                                         "color": color or default_color(n), "visible": True}
            if object_id is not None:
                values["id"] = object_id
            result = conn.execute(ObjectRow.__table__.insert().values(**values))
            oid = result.inserted_primary_key[0]
            if object_id is not None and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT setval(pg_get_serial_sequence('objects', 'id'), "
                                  "(SELECT max(id) FROM objects))"))
        return self.object(oid)

    def object(self, object_id: ObjectId) -> ObjectRecord:
        """One Object by id."""
        objs = self._objects(ObjectRow.id == object_id)
        if not objs:
            raise StoreError(f"object {object_id} is not in {self.where}")
        return objs[0]

    def objects(self, video_id: int) -> list[ObjectRecord]:
        """The Objects of a Video, by id."""
        return self._objects(ObjectRow.video_id == video_id)

    def _objects(self, where: object) -> list[ObjectRecord]:
        stmt = (select(ObjectRow.id, ObjectRow.video_id, LabelRow.name, ObjectRow.color,
                       ObjectRow.visible)
                .join(LabelRow, LabelRow.id == ObjectRow.label_id, isouter=True)
                .where(where).order_by(ObjectRow.id))  # type: ignore[arg-type]
        with self.engine.connect() as conn:
            return [ObjectRecord(r[0], r[1], r[2], r[3], bool(r[4])) for r in conn.execute(stmt)]

    def update_object(self, object_id: ObjectId, *, label: str | None = None,
                      color: str | None = None, visible: bool | None = None) -> ObjectRecord:
        """Change an Object's label, colour or visibility."""
        values: dict[str, object] = {}
        if label is not None:
            values["label_id"] = self.label(label).id if label else None
        if color is not None:
            values["color"] = color
        if visible is not None:
            values["visible"] = visible
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(ObjectRow).where(ObjectRow.id == object_id).values(**values))
        return self.object(object_id)

    def delete_object(self, object_id: ObjectId) -> None:
        """Delete an Object with its masks and prompts."""
        with self.engine.begin() as conn:
            conn.execute(delete(ObjectRow).where(ObjectRow.id == object_id))

    # --- masks -------------------------------------------------------------------------------

    def write_masks(self, writes: Iterable[MaskWrite]) -> int:
        """Upsert or delete many masks in one transaction; returns how many entries were applied."""
        rows, deletes = [], []
        for video_id, object_id, frame, stored in writes:
            if stored is None:
                deletes.append((object_id, frame))
            else:
                rows.append(_mask_row(video_id, object_id, frame, stored))
        with self.engine.begin() as conn:
            for object_id, frame in deletes:
                conn.execute(delete(MaskRow).where(MaskRow.object_id == object_id,
                                                   MaskRow.frame == frame))
            if rows:
                conn.execute(self._upsert(), rows)
        return len(rows) + len(deletes)

    def _dialect(self) -> object:
        dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(self.engine.dialect.name)
        if dialect is None:
            raise StoreError(f"database '{self.engine.dialect.name}' is not supported: use SQLite "
                             "or PostgreSQL")
        return dialect

    def _upsert(self, keep_manual: bool = False) -> object:
        stmt = self._dialect().insert(MaskRow)  # type: ignore[attr-defined]
        cols = ("video_id", "height", "width", "rle", "source", "backend", "model_version",
                "score", "created")
        where = MaskRow.source != str(Source.MANUAL) if keep_manual else None
        return stmt.on_conflict_do_update(index_elements=["object_id", "frame"],
                                          set_={c: stmt.excluded[c] for c in cols}, where=where)

    # --- batch runs --------------------------------------------------------------------------

    def commit_run(self, run: BatchRun | None, writes: Iterable[MaskWrite]) -> int:
        """Machine masks and the run's progress in one transaction; never replaces a manual mask.

        Committing both at once is what makes a killed batch resume exactly where it stopped.
        """
        rows = [_mask_row(v, o, f, m) for v, o, f, m in writes if m is not None]
        with self.engine.begin() as conn:
            if rows:
                conn.execute(self._upsert(keep_manual=True), rows)
            if run is not None:
                self._save_run(conn, run)
        return len(rows)

    def _save_run(self, conn: Connection, run: BatchRun) -> None:
        stmt = self._dialect().insert(BatchRunRow).values(  # type: ignore[attr-defined]
            video_id=run.video_id, fingerprint=run.fingerprint, backend=run.backend,
            model_version=run.model_version, reverse=run.reverse, start=run.start,
            stop=run.stop, reached=run.reached, updated=time.time())
        cols = ("backend", "model_version", "reverse", "start", "stop", "reached", "updated")
        conn.execute(stmt.on_conflict_do_update(index_elements=["video_id", "fingerprint"],
                                                set_={c: stmt.excluded[c] for c in cols}))

    def batch_runs(self, video_id: int) -> list[BatchRun]:
        """The recorded batch runs of a Video."""
        stmt = select(BatchRunRow).where(BatchRunRow.video_id == video_id).order_by(
            BatchRunRow.id)
        with self.engine.connect() as conn:
            return [BatchRun(r.video_id, r.fingerprint, r.backend, r.model_version,
                             bool(r.reverse), r.start, r.stop, r.reached)
                    for r in conn.execute(stmt)]

    def put_mask(self, video_id: int, object_id: ObjectId, frame: FrameIndex,
                 mask: StoredMask | None) -> None:
        """Set (or with None delete) one mask."""
        self.write_masks([(video_id, object_id, frame, mask)])

    def masks(self, video_id: int, *, frame: FrameIndex | None = None,
              object_id: ObjectId | None = None,
              frames: Sequence[FrameIndex] | None = None,
              source: Source | None = None) -> list[MaskRecord]:
        """Masks of a Video, optionally of one frame, object, frame set or source; by (frame,
        object)."""
        stmt = select(MaskRow).where(MaskRow.video_id == video_id)
        if source is not None:
            stmt = stmt.where(MaskRow.source == str(source))
        if frame is not None:
            stmt = stmt.where(MaskRow.frame == frame)
        if frames is not None:
            stmt = stmt.where(MaskRow.frame.in_(list(frames)))
        if object_id is not None:
            stmt = stmt.where(MaskRow.object_id == object_id)
        with self.engine.connect() as conn:
            return [_mask_record(r) for r in conn.execute(stmt.order_by(MaskRow.frame,
                                                                         MaskRow.object_id))]

    def mask(self, object_id: ObjectId, frame: FrameIndex) -> StoredMask | None:
        """One Object's mask on one Frame, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(MaskRow).where(MaskRow.object_id == object_id,
                                                     MaskRow.frame == frame)).first()
        return None if row is None else _mask_record(row).mask

    def mask_frames(self, video_id: int) -> dict[ObjectId, dict[FrameIndex, FrameMark]]:
        """Per object, the frames that have a mask with its source and score (for timelines)."""
        stmt = (select(MaskRow.object_id, MaskRow.frame, MaskRow.source, MaskRow.score)
                .where(MaskRow.video_id == video_id))
        out: dict[ObjectId, dict[FrameIndex, FrameMark]] = {}
        with self.engine.connect() as conn:
            for oid, frame, source, score in conn.execute(stmt):
                out.setdefault(oid, {})[frame] = (source, score)
        return out

    def count_masks(self, video_id: int | None = None) -> int:
        """Number of stored masks (of one Video or all)."""
        stmt = select(func.count()).select_from(MaskRow)
        if video_id is not None:
            stmt = stmt.where(MaskRow.video_id == video_id)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    # --- prompts -----------------------------------------------------------------------------

    def add_prompt(self, video_id: int, object_id: ObjectId, frame: FrameIndex, kind: str,
                   payload: dict[str, object]) -> PromptRecord:
        """Record a Prompt."""
        with self.engine.begin() as conn:
            pid = conn.execute(PromptRow.__table__.insert().values(
                video_id=video_id, object_id=object_id, frame=frame, kind=kind,
                payload=json.dumps(payload), created=time.time())).inserted_primary_key[0]
        return PromptRecord(pid, video_id, object_id, frame, kind, payload)

    def prompts(self, video_id: int, object_id: ObjectId | None = None) -> list[PromptRecord]:
        """Prompts of a Video (optionally one Object), oldest first."""
        stmt = select(PromptRow).where(PromptRow.video_id == video_id)
        if object_id is not None:
            stmt = stmt.where(PromptRow.object_id == object_id)
        with self.engine.connect() as conn:
            return [PromptRecord(r.id, r.video_id, r.object_id, r.frame, r.kind,
                                 json.loads(r.payload))
                    for r in conn.execute(stmt.order_by(PromptRow.id))]

    def clear_prompts(self, object_id: ObjectId, frame: FrameIndex) -> None:
        """Forget the Prompts of an Object on a Frame."""
        with self.engine.begin() as conn:
            conn.execute(delete(PromptRow).where(PromptRow.object_id == object_id,
                                                 PromptRow.frame == frame))

    def close(self) -> None:
        """Release connections (the file stays consistent even without this)."""
        self.engine.dispose()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_project(target: str | Path, *, create: bool = True) -> ProjectStore:
    """Open (or create) a project file or database URL, upgrading an older schema."""
    url = _driver_url(database_url(target))
    where = str(target)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists() and not create:
            raise StoreError(f"project {where} does not exist: check the path")
        if path.exists() and path.is_dir():
            raise StoreError(f"project {where} is a folder: give a file path such as "
                             f"{where}/project.annotator")
        if not path.parent.exists():
            raise StoreError(f"folder {path.parent} does not exist: create it first")
    else:
        where = make_url(url).render_as_string(hide_password=True)
    try:
        engine = make_engine(url)
    except ImportError as exc:
        raise StoreError(f"no database driver for {where} ({exc}): pip install "
                         "'annotator[postgres]'") from exc
    try:
        with engine.begin() as conn:
            ensure_schema(conn, where)
    except (DatabaseError, OperationalError) as exc:
        engine.dispose()
        reason = str(exc.orig) if exc.orig is not None else str(exc)
        hint = ("is it an Annotator project file in a writable folder?" if
                url.startswith("sqlite") else "is the server running and the URL right?")
        raise StoreError(f"cannot open project {where} ({' '.join(reason.split())}): {hint}"
                         ) from exc
    except StoreError:
        engine.dispose()
        raise
    return ProjectStore(engine, where)


def _driver_url(url: str) -> str:
    """A plain postgresql:// URL uses psycopg 3 unless psycopg2 is installed (SQLAlchemy's
    default), so the URL users copy from their server works with `annotator[postgres]`."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg2") is None:
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _video(row: VideoRow) -> VideoRecord:
    return VideoRecord(row.id, row.path, row.name, row.content_hash, row.frame_count, row.fps,
                       row.width, row.height)


def _mask_row(video_id: int, object_id: ObjectId, frame: FrameIndex,
              stored: StoredMask) -> dict[str, object]:
    p = stored.provenance
    return {"video_id": video_id, "object_id": object_id, "frame": frame,
            "height": stored.rle.height, "width": stored.rle.width, "rle": stored.rle.counts,
            "source": str(p.source), "backend": p.backend, "model_version": p.model_version,
            "score": p.score, "created": p.created}


def _mask_record(row: MaskRow) -> MaskRecord:
    prov = Provenance(Source(row.source), row.backend, row.model_version, row.score, row.created)
    return MaskRecord(row.video_id, row.object_id, row.frame,
                      StoredMask(MaskRLE(row.height, row.width, bytes(row.rle)), prov))
