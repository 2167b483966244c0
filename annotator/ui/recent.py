"""The "Recent projects" list, most recent first, kept in QSettings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

RECENT_KEY = "recent_projects"
MAX_RECENT = 8


def recent_projects(settings: QSettings) -> list[str]:
    """Most recently opened projects first."""
    value = settings.value(RECENT_KEY, [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [p for p in items if p]


def remember_project(settings: QSettings, path: str) -> None:
    """Put `path` first (once), keeping at most MAX_RECENT entries."""
    items = [path] + [p for p in recent_projects(settings) if p != path]
    settings.setValue(RECENT_KEY, items[:MAX_RECENT])
    settings.sync()
