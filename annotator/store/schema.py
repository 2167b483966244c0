"""SQLAlchemy 2.0 tables of a project file. ORM rows never leave `annotator.store`."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 3
"""Bump with a step in `migrations.MIGRATIONS` whenever the tables change."""


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Meta(Base):
    """Key/value facts about the project file (schema version, creating app version)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VideoRow(Base):
    """A Video of the project."""

    __tablename__ = "videos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    frame_count: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class LabelRow(Base):
    """A category."""

    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    color: Mapped[str] = mapped_column(String(16))


class ObjectRow(Base):
    """An Object of one Video."""

    __tablename__ = "objects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    label_id: Mapped[int | None] = mapped_column(ForeignKey("labels.id", ondelete="SET NULL"))
    color: Mapped[str] = mapped_column(String(16))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)


class MaskRow(Base):
    """One Object's Mask on one Frame: COCO RLE bytes plus provenance."""

    __tablename__ = "masks"
    __table_args__ = (
        UniqueConstraint("object_id", "frame", name="uq_mask_object_frame"),
        Index("ix_masks_video_frame", "video_id", "frame"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"))
    frame: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    rle: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(16))
    backend: Mapped[str] = mapped_column(String(100), default="")
    model_version: Mapped[str] = mapped_column(String(100), default="")
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[float] = mapped_column(Float)


class PromptRow(Base):
    """A Prompt given for an Object on a Frame (JSON payload)."""

    __tablename__ = "prompts"
    __table_args__ = (Index("ix_prompts_video_frame", "video_id", "frame"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"))
    frame: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    created: Mapped[float] = mapped_column(Float)


class BatchRunRow(Base):
    """How far one Propagation run of a batch got, keyed by the fingerprint of what it depends on.

    A rerun with the same keyframes, backend and version finds its row and skips (or resumes
    from `reached`); a correction changes the fingerprint, so only that run is redone.
    """

    __tablename__ = "batch_runs"
    __table_args__ = (UniqueConstraint("video_id", "fingerprint", name="uq_batch_run"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    reverse: Mapped[bool] = mapped_column(Boolean)
    start: Mapped[int] = mapped_column(Integer)
    stop: Mapped[int] = mapped_column(Integer)
    reached: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    updated: Mapped[float] = mapped_column(Float)


class SensorStreamRow(Base):
    """A sensor stream of a Video: float64 times and (T, C) values as raw little-endian bytes."""

    __tablename__ = "sensor_streams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    channels: Mapped[str] = mapped_column(Text)  # JSON list of names
    times: Mapped[bytes] = mapped_column(LargeBinary)
    samples: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[float] = mapped_column(Float)
