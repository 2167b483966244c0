"""Schema versions: create, upgrade step by step, refuse files from a newer Annotator."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, text

from annotator import __version__
from annotator.core.errors import StoreError
from annotator.store.schema import SCHEMA_VERSION, Base, BatchRunRow, Meta, SensorStreamRow

SCHEMA_LOCK = 0x616E6E6F
"""PostgreSQL advisory-lock key: writers opening one fresh database create its tables once."""


def _add_batch_runs(conn: Connection) -> None:
    """1 -> 2: the `batch_runs` table (resumable, idempotent batch propagation)."""
    BatchRunRow.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def _add_sensor_streams(conn: Connection) -> None:
    """2 -> 3: the `sensor_streams` table (sensor logs recorded with videos, for QA)."""
    SensorStreamRow.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _add_batch_runs, 2: _add_sensor_streams}
"""Step from version v to v+1, keyed by v."""


def read_version(conn: Connection) -> int | None:
    """The project's schema version, or None for a new (empty) file."""
    if not conn.dialect.has_table(conn, "meta"):
        return None
    value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def ensure_schema(conn: Connection, where: str) -> None:
    """Create a new project's tables or upgrade an older one; refuse a newer one."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
    version = read_version(conn)
    if version is None:
        Base.metadata.create_all(conn)
        conn.execute(Meta.__table__.insert(), [
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "created_by", "value": f"annotator {__version__}"},
        ])
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{where} was written by a newer Annotator (project schema {version}, this version "
            f"supports up to {SCHEMA_VERSION}): upgrade Annotator to open it")
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
        conn.execute(Meta.__table__.update().where(Meta.key == "schema_version"),
                     {"value": str(version)})
