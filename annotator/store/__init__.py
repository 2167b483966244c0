"""Project store: SQLAlchemy 2.0 on SQLite (one file per project), PostgreSQL by URL."""

from annotator.store.repository import MaskWrite, ProjectStore, open_project
from annotator.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "MaskWrite", "ProjectStore", "open_project"]
