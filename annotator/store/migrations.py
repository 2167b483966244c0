"""Schema versions: create, upgrade step by step, refuse files from a newer Annotator."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select

from annotator import __version__
from annotator.core.errors import StoreError
from annotator.store.schema import SCHEMA_VERSION, Base, Meta

MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
"""Step from version v to v+1, keyed by v. Empty while the schema is at version 1."""


def read_version(conn: Connection) -> int | None:
    """The project's schema version, or None for a new (empty) file."""
    if not conn.dialect.has_table(conn, "meta"):
        return None
    value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def ensure_schema(conn: Connection, where: str) -> None:
    """Create a new project's tables or upgrade an older one; refuse a newer one."""
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
